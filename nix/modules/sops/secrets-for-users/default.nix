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
  installer = import ../installer.nix { inherit config lib pkgs; };
  secretsForUsers = lib.filterAttrs (_: v: v.neededForUsers) cfg.secrets;
  templatesForUsers = { }; # templates are never rendered before users exist (as in sops-nix)
  manifestForUsers = installer.manifestFor "-for-users" secretsForUsers templatesForUsers {
    secretsMountPoint = "/run/secrets-for-users.d";
    symlinkPath = "/run/secrets-for-users";
  };
  command = "${cfg.package}/bin/sops-install-secrets -ignore-passwd ${manifestForUsers}";
  sysusersEnabled = options.systemd ? sysusers && config.systemd.sysusers.enable;
  # Not cfg.useSystemdActivation (as sops-nix): without sysusers/userborn nothing would start a
  # unit wanted by systemd-sysusers.service, so passwords must come from the activation script.
  useSystemdActivation =
    sysusersEnabled || (options.services ? userborn && config.services.userborn.enable);
in
{
  systemd.services.sops-install-secrets-for-users = lib.mkIf (secretsForUsers != { } && useSystemdActivation) (
    installer.service command
    // {
      wantedBy = [ "systemd-sysusers.service" ];
      before = [ "systemd-sysusers.service" ];
    }
  );

  system.activationScripts = lib.mkIf (secretsForUsers != { } && !useSystemdActivation) {
    setupSecretsForUsers = installer.activationScript [ "specialfs" ] "secrets for users" command;

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
