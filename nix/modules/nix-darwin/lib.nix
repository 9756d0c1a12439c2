# Pieces the nix-darwin module and its secrets-for-users part share.
{
  lib,
  pkgs,
  cfg,
}:
{
  # The manifest as sops-nix's nix-darwin module writes it: every secret and template option
  # (attrValues), fixed /run paths, no useTmpfs, checked at build time by the installer.
  manifestFor =
    suffix: secrets: templates: extraJson:
    pkgs.writeTextFile {
      name = "manifest${suffix}.json";
      text = builtins.toJSON (
        {
          secrets = builtins.attrValues secrets;
          templates = builtins.attrValues templates;
          secretsMountPoint = "/run/secrets.d";
          symlinkPath = "/run/secrets";
          keepGenerations = cfg.keepGenerations;
          gnupgHome = cfg.gnupg.home;
          sshKeyPaths = cfg.gnupg.sshKeyPaths;
          ageKeyFile = cfg.age.keyFile;
          ageSshKeyPaths = cfg.age.sshKeyPaths;
          useTmpfs = false;
          placeholderBySecretName = cfg.placeholder;
          userMode = false;
          logging = {
            keyImport = builtins.elem "keyImport" cfg.log;
            secretChanges = builtins.elem "secretChanges" cfg.log;
          };
        }
        // extraJson
      );
      checkPhase = ''
        ${cfg.validationPackage}/bin/sops-install-secrets -check-mode=${
          if cfg.validateSopsFiles then "sopsfile" else "manifest"
        } "$out"
      '';
    };

  # sops.environment around the command, in a subshell (values single-quoted, unescaped, as the
  # option documents). Unlike the NixOS script, no HOME or PATH of its own (as sops-nix on darwin).
  withEnvironment =
    command:
    if cfg.environment == { } then
      command
    else
      ''
        (
        # shellcheck disable=SC2030,SC2031
        ${lib.concatStringsSep "\n" (lib.mapAttrsToList (n: v: "  export ${n}='${v}'") cfg.environment)}
          ${command}
        )
      '';

  # A one-shot launchd daemon that runs the install script at boot.
  daemon = script: {
    command = "sh -c ${lib.escapeShellArg script}";
    serviceConfig = {
      RunAtLoad = true;
      KeepAlive = false;
    };
  };
}
