# What the regular and the for-users installs (./default.nix, ./secrets-for-users) share: the
# manifest writer, and how the installer runs on a manifest, as a systemd unit or as an
# activation script. Call with the module's `config`, `lib` and `pkgs`.
{
  config,
  lib,
  pkgs,
}:
let
  cfg = config.sops;
  defaults = import ../../lib/defaults.nix;

  # sops >= 3.10 looks for ~/.ssh keys; activation has no HOME (sops-nix #764). PATH carries
  # the age plugins only.
  withEnvironment = import ./with-environment.nix {
    environment = defaults.scriptEnvironment (lib.makeBinPath cfg.age.plugins) cfg.environment;
    inherit lib;
  };

  # Everything the installer must be able to read at boot: systemd waits for their mounts.
  keyPaths = lib.concatLists [
    (lib.optional (cfg.gnupg.home != null) cfg.gnupg.home)
    cfg.gnupg.sshKeyPaths
    (lib.optional (cfg.age.keyFile != null) cfg.age.keyFile)
    cfg.age.sshKeyPaths
  ];
in
{
  manifestFor = pkgs.callPackage ./manifest-for.nix {
    inherit cfg;
    inherit (pkgs) writeTextFile;
  };

  # A oneshot unit running `command`; the caller adds its ordering (wantedBy, before, …).
  service = command: {
    environment = cfg.environment // {
      SOPS_RESTART_UNITS_VIA_SYSTEMCTL = "1";
    };
    path = cfg.age.plugins;
    unitConfig = {
      DefaultDependencies = "no";
      RequiresMountsFor = keyPaths;
    };
    serviceConfig = {
      Type = "oneshot";
      ExecStart = [ command ];
      RemainAfterExit = true;
    };
  };

  # An activation script running `command` after `deps` (and after key generation), saying
  # "setting up <what>..." on first boot.
  activationScript =
    deps: what: command:
    lib.stringAfter (deps ++ lib.optional cfg.age.generateKey "generate-age-key") ''
      [ -e /run/current-system ] || echo setting up ${what}...
      ${withEnvironment command}
    ''
    // lib.optionalAttrs (config.system ? dryActivationScript) {
      supportsDryActivation = true;
    };
}
