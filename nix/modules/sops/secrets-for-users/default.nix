# Secrets with neededForUsers: installed to /run/secrets-for-users before users and groups are
# created (e.g. hashedPasswordFile), with their own manifest and `-ignore-passwd`.
{
  lib,
  options,
  config,
  pkgs,
  ...
}:
let
  cfg = config.sops;
  defaults = import ../../../lib/defaults.nix;
  secretsForUsers = lib.filterAttrs (_: v: v.neededForUsers) cfg.secrets;
  templatesForUsers = { }; # templates are never rendered before users exist (as in sops-nix)
  manifestFor = pkgs.callPackage ../manifest-for.nix {
    inherit cfg;
    inherit (pkgs) writeTextFile;
  };
  withEnvironment = import ../with-environment.nix {
    environment = defaults.scriptEnvironment (lib.makeBinPath cfg.age.plugins) cfg.environment;
    inherit lib;
  };
  manifestForUsers = manifestFor "-for-users" secretsForUsers templatesForUsers {
    secretsMountPoint = "/run/secrets-for-users.d";
    symlinkPath = "/run/secrets-for-users";
  };
  sysusersEnabled = options.systemd ? sysusers && config.systemd.sysusers.enable;
  # Not cfg.useSystemdActivation (as sops-nix): without sysusers/userborn nothing would start a
  # unit wanted by systemd-sysusers.service, so passwords must come from the activation script.
  useSystemdActivation =
    sysusersEnabled || (options.services ? userborn && config.services.userborn.enable);
in
{
  systemd.services.sops-install-secrets-for-users = lib.mkIf (secretsForUsers != { } && useSystemdActivation) {
    wantedBy = [ "systemd-sysusers.service" ];
    before = [ "systemd-sysusers.service" ];
    environment = cfg.environment // {
      SOPS_RESTART_UNITS_VIA_SYSTEMCTL = "1";
    };
    path = cfg.age.plugins;
    unitConfig = {
      DefaultDependencies = "no";
      RequiresMountsFor = lib.concatLists [
        (lib.optional (cfg.gnupg.home != null) cfg.gnupg.home)
        cfg.gnupg.sshKeyPaths
        (lib.optional (cfg.age.keyFile != null) cfg.age.keyFile)
        cfg.age.sshKeyPaths
      ];
    };
    serviceConfig = {
      Type = "oneshot";
      ExecStart = [ "${cfg.package}/bin/sops-install-secrets -ignore-passwd ${manifestForUsers}" ];
      RemainAfterExit = true;
    };
  };

  system.activationScripts = lib.mkIf (secretsForUsers != { } && !useSystemdActivation) {
    setupSecretsForUsers =
      lib.stringAfter ([ "specialfs" ] ++ lib.optional cfg.age.generateKey "generate-age-key") ''
        [ -e /run/current-system ] || echo setting up secrets for users...
        ${withEnvironment "${cfg.package}/bin/sops-install-secrets -ignore-passwd ${manifestForUsers}"}
      ''
      // lib.optionalAttrs (config.system ? dryActivationScript) {
        supportsDryActivation = true;
      };

    users.deps = [ "setupSecretsForUsers" ];
  };

  assertions = [
    {
      assertion =
        (lib.filterAttrs (
          _: v: (v.uid != 0 && v.owner != "root") || (v.gid != 0 && v.group != "root")
        ) secretsForUsers) == { };
      message = "neededForUsers cannot be used for secrets that are not root-owned";
    }
    {
      assertion = secretsForUsers != { } && sysusersEnabled -> config.users.mutableUsers;
      message = ''
        systemd.sysusers.enable in combination with sops.secrets.<name>.neededForUsers can only work with config.users.mutableUsers enabled.
        See https://github.com/Mic92/sops-nix/issues/475
      '';
    }
  ];

  system.build.sops-nix-users-manifest = manifestForUsers;
}
