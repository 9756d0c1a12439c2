# nix-sops NixOS module: a drop-in for sops-nix's `modules/sops`. Same `sops.*` options (names,
# types, defaults), same manifest, same activation wiring; the installer is nix-sops's Rust
# `sops-install-secrets`.
{
  config,
  options,
  lib,
  pkgs,
  ...
}:

let
  cfg = config.sops;
  users = config.users.users;
  defaults = import ../../lib/defaults.nix;
  common = import ../common/options.nix { inherit lib pkgs; };
  sops-install-secrets = cfg.package;
  installer = import ./installer.nix { inherit config lib pkgs; };
  manifest = installer.manifestFor "" regularSecrets regularTemplates { };

  regularSecrets = lib.filterAttrs (_: v: !v.neededForUsers) cfg.secrets;

  # Templates are never rendered before users exist (as in sops-nix).
  regularTemplates = cfg.templates;

  secretType = lib.types.submodule (
    { config, ... }:
    {
      config = {
        sopsFile = lib.mkOptionDefault cfg.defaultSopsFile;
        sopsFileHash = lib.mkOptionDefault (defaults.sopsFileHash cfg.validateSopsFiles config.sopsFile);
      };
      options =
        common.secret {
          inherit cfg;
          name = config._module.args.name;
          dir = "/run/secrets";
          formats = [
            "yaml"
            "json"
            "binary"
            "dotenv"
            "ini"
          ];
        }
        // common.ownership {
          str = lib.types.str;
          what = "file";
          inherit users;
          inherit (config) owner;
          groupDefaultText = lib.literalMD "{option}`config.users.users.\${owner}.group`";
        }
        // common.units "this secret"
        // {
          path = lib.mkOption {
            type = lib.types.str;
            default = defaults.secretPath { inherit (config) neededForUsers name; };
            defaultText = "/run/secrets-for-users/$name when neededForUsers is set, /run/secrets/$name when otherwise.";
            description = ''
              Path where secrets are symlinked to.
              If the default is kept no symlink is created.
            '';
          };
          sopsFileHash = lib.mkOption {
            type = lib.types.str;
            readOnly = true;
            description = ''
              Hash of the sops file, useful in {option}`systemd.services.<name>.restartTriggers`.
            '';
          };
          neededForUsers = lib.mkOption {
            type = lib.types.bool;
            default = false;
            description = ''
              Enabling this option causes the secret to be decrypted before users and groups are created.
              This can be used to retrieve user's passwords from sops.
              Setting this option moves the secret to /run/secrets-for-users and disallows setting owner and group to anything else than root.
            '';
          };
        };
    }
  );
in
{
  options.sops = common.toplevel // {
    secrets = lib.mkOption {
      type = lib.types.attrsOf secretType;
      default = { };
      description = ''
        Secrets to decrypt and install under /run/secrets.
      '';
    };

    environment = common.environment ''
      Environment variables to set before calling sops-install-secrets.

      The values are placed in single quotes and not escaped any further to
      allow usage of command substitutions for more flexibility. To properly quote
      strings with quotes use lib.escapeShellArg.

      This will be evaluated twice when using secrets that use neededForUsers but
      in a subshell each time so the environment variables don't collide.
    '';

    validationPackage = lib.mkOption {
      type = lib.types.package;
      default =
        if pkgs.stdenv.buildPlatform == pkgs.stdenv.hostPlatform then
          sops-install-secrets
        else
          pkgs.pkgsBuildHost.callPackage ../../package.nix { };
      defaultText = lib.literalExpression "config.sops.package";
      description = ''
        sops-install-secrets package to use when validating configuration.

        Defaults to sops.package if building natively, and a native version of sops-install-secrets if cross compiling.
      '';
    };

    useTmpfs = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = ''
        Use tmpfs in place of ramfs for secrets storage.

        *WARNING*
        On Linux kernels earlier than 6.4, enabling this option has the potential to write secrets to disk unencrypted if the tmpfs volume is written to swap. Do not use unless absolutely necessary.

        When using a swap file or device, consider enabling swap encryption by setting the `randomEncryption.enable` option

        ```
        swapDevices = [{
          device = "/dev/sdXY";
          randomEncryption.enable = true;
        }];
        ```
      '';
    };

    useSystemdActivation = lib.mkOption {
      type = lib.types.bool;
      default =
        (options.systemd ? sysusers && config.systemd.sysusers.enable)
        || (options.services ? userborn && config.services.userborn.enable);
      defaultText = lib.literalExpression (
        "(options.systemd ? sysusers && config.systemd.sysusers.enable) "
        + "|| (options.services ? userborn && config.services.userborn.enable)"
      );
      description = ''
        Use a systemd unit to install secrets, instead of deploying them using an activation script.

        This option is automatically enabled when systemd-sysusers or userborn are used to manage users and groups.
        It can also be useful to specify additional dependencies to be satisfied before secrets are installed, such as required mountpoints for SOPS key files.
      '';
    };

    age = common.age {
      keyFileExample = "/var/lib/sops-nix/key.txt";
      sshKeyPaths = {
        default = defaults.importKeys config.services.openssh "ed25519";
        defaultText = lib.literalMD "The ed25519 keys from {option}`config.services.openssh.hostKeys`";
      };
    };

    gnupg = common.gnupg {
      homeExample = "/root/.gnupg";
      sshKeyPaths = {
        default = defaults.importKeys config.services.openssh "rsa";
        defaultText = lib.literalMD "The rsa keys from {option}`config.services.openssh.hostKeys`";
      };
    };
  };

  imports = [
    ./templates
    ./secrets-for-users
    (lib.mkRenamedOptionModule [ "sops" "gnupgHome" ] [ "sops" "gnupg" "home" ])
    (lib.mkRenamedOptionModule [ "sops" "sshKeyPaths" ] [ "sops" "gnupg" "sshKeyPaths" ])
  ];

  config = lib.mkMerge [
    (lib.mkIf (cfg.secrets != { }) {
      assertions = [
        {
          assertion =
            cfg.gnupg.home != null
            || cfg.gnupg.sshKeyPaths != [ ]
            || cfg.age.keyFile != null
            || cfg.age.sshKeyPaths != [ ];
          message = "No key source configured for sops. Either set services.openssh.enable or set sops.age.keyFile or sops.gnupg.home";
        }
        {
          assertion = !(cfg.gnupg.home != null && cfg.gnupg.sshKeyPaths != [ ]);
          message = "Exactly one of sops.gnupg.home and sops.gnupg.sshKeyPaths must be set";
        }
        # sops-nix leaves this to the build-time manifest check ("gnupgHome and ageKeyFile
        # were specified in the manifest"); saying it at evaluation names the options.
        {
          assertion = !(cfg.gnupg.home != null && cfg.age.keyFile != null);
          message = "sops.gnupg.home and sops.age.keyFile cannot both be set: the installer uses either a GnuPG home or age keys. Unset one of them";
        }
      ]
      ++ lib.optionals cfg.validateSopsFiles (
        lib.concatLists (
          lib.mapAttrsToList (name: secret: [
            {
              assertion = secret.uid != null && secret.uid != 0 -> secret.owner == null;
              message = "In ${secret.name} exactly one of sops.owner and sops.uid must be set";
            }
            {
              assertion = secret.gid != null && secret.gid != 0 -> secret.group == null;
              message = "In ${secret.name} exactly one of sops.group and sops.gid must be set";
            }
          ]) cfg.secrets
        )
      );

      sops.environment.SOPS_GPG_EXEC = lib.mkIf (cfg.gnupg.home != null || cfg.gnupg.sshKeyPaths != [ ]) (
        lib.mkDefault "${cfg.gnupg.package}/bin/gpg"
      );

      # With sysusers/userborn, users exist only after the activation scripts (which run in the
      # initrd), so the installer is a unit ordered after them; sysinit-reactivation makes it
      # re-run on switch.
      systemd.services.sops-install-secrets = lib.mkIf (regularSecrets != { } && cfg.useSystemdActivation) (
        installer.service "${sops-install-secrets}/bin/sops-install-secrets ${manifest}"
        // {
          wantedBy = [ "sysinit.target" ];
          after = [
            "local-fs.target"
            "systemd-sysusers.service"
            "userborn.service"
          ];
          requiredBy = [ "sysinit-reactivation.target" ];
          before = [ "sysinit-reactivation.target" ];
        }
      );

      system.activationScripts = {
        setupSecrets = lib.mkIf (regularSecrets != { } && !cfg.useSystemdActivation) (
          installer.activationScript [
            "specialfs"
            "users"
            "groups"
          ] "secrets" "${sops-install-secrets}/bin/sops-install-secrets ${manifest}"
        );

        # The installer has no key generation of its own (neither has sops-nix's).
        generate-age-key =
          let
            escapedKeyFile = lib.escapeShellArg cfg.age.keyFile;
          in
          lib.mkIf cfg.age.generateKey (
            lib.stringAfter [ ] ''
              if [[ ! -f ${escapedKeyFile} ]]; then
                echo generating machine-specific age key...
                mkdir -p $(dirname ${escapedKeyFile})
                # age-keygen sets 0600 by default, no need to chmod.
                ${pkgs.age}/bin/age-keygen -o ${escapedKeyFile}
              fi
            ''
          );
      };
    })
    {
      system.build.sops-nix-manifest = manifest;
    }
  ];
}
