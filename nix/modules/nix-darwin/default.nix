# nix-sops nix-darwin module: a drop-in for sops-nix's `modules/nix-darwin`. Same options, same
# manifest, same wiring: the installer runs at the end of activation (postActivation) and again at
# boot from the launchd daemon `sops-install-secrets` (a ram disk does not survive a reboot).
# What differs from NixOS (as in sops-nix): files belong to root:staff by default, host keys are
# the fixed /etc/ssh ones, and there are no unit restarts, useTmpfs, systemd activation or
# defaultSopsKey.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.sops;
  common = import ../common/options.nix { inherit lib pkgs; };
  defaults = import ../../lib/defaults.nix;
  darwin = import ./lib.nix { inherit lib pkgs cfg; };

  regularSecrets = lib.filterAttrs (_: s: !s.neededForUsers) cfg.secrets;
  manifest = darwin.manifestFor "" regularSecrets cfg.templates { };

  secretType = lib.types.submodule (
    { config, ... }:
    {
      config = {
        sopsFile = lib.mkOptionDefault cfg.defaultSopsFile;
        sopsFileHash = lib.mkOptionDefault (defaults.sopsFileHash cfg.validateSopsFiles config.sopsFile);
      };
      options =
        # No defaultSopsKey on nix-darwin: the key is the attribute name.
        common.secret {
          cfg = cfg // {
            defaultSopsKey = null;
          };
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
          owner = lib.mkOption {
            type = lib.types.nullOr lib.types.str;
            default = "root";
            description = ''
              User of the file. Can only be set if uid is 0.
            '';
          };
          uid = lib.mkOption {
            type = lib.types.nullOr lib.types.int;
            default = 0;
            description = ''
              UID of the file, only applied when owner is null. The UID will be applied even if the corresponding user doesn't exist.
            '';
          };
          # macOS's default group for users is staff.
          group = lib.mkOption {
            type = lib.types.nullOr lib.types.str;
            default = "staff";
            defaultText = "staff";
            description = ''
              Group of the file. Can only be set if gid is 0.
            '';
          };
          gid = lib.mkOption {
            type = lib.types.nullOr lib.types.int;
            default = 0;
            description = ''
              GID of the file, only applied when group is null. The GID will be applied even if the corresponding group doesn't exist.
            '';
          };
          sopsFileHash = lib.mkOption {
            type = lib.types.str;
            readOnly = true;
            description = ''
              Hash of the sops file.
            '';
          };
          neededForUsers = lib.mkOption {
            type = lib.types.bool;
            default = false;
            description = ''
              **Warning** This option doesn't have any effect on macOS, as nix-darwin cannot manage user passwords on macOS.
              Setting this option moves the secret to /run/secrets-for-users and disallows setting owner and group to anything else than root.
            '';
          };
        };
    }
  );

  # nix-darwin has no services.openssh.hostKeys: macOS's sshd keeps its host keys here.
  hostKeys = {
    enable = true;
    hostKeys = [
      {
        type = "rsa";
        path = "/etc/ssh/ssh_host_rsa_key";
      }
      {
        type = "ed25519";
        path = "/etc/ssh/ssh_host_ed25519_key";
      }
    ];
  };

  escapedKeyFile = lib.escapeShellArg cfg.age.keyFile;
  installScript = ''
    ${lib.optionalString cfg.age.generateKey ''
      if [[ ! -f ${escapedKeyFile} ]]; then
        echo generating machine-specific age key...
        mkdir -p "$(dirname ${escapedKeyFile})"
        # age-keygen sets 0600 by default, no need to chmod.
        ${pkgs.age}/bin/age-keygen -o ${escapedKeyFile}
      fi
    ''}
    echo "Setting up secrets..."
    ${darwin.withEnvironment "${cfg.package}/bin/sops-install-secrets ${manifest}"}
  '';
in
{
  options.sops = removeAttrs common.toplevel [ "defaultSopsKey" ] // {
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
          cfg.package
        else
          pkgs.pkgsBuildHost.callPackage ../../package.nix { };
      defaultText = lib.literalExpression "config.sops.package";
      description = ''
        sops-install-secrets package to use when validating configuration.

        Defaults to sops.package if building natively, and a native version of sops-install-secrets if cross compiling.
      '';
    };

    age = common.age {
      keyFileExample = "/var/lib/sops-nix/key.txt";
      sshKeyPaths = {
        default = defaults.importKeys hostKeys "ed25519";
        defaultText = lib.literalMD "`/etc/ssh/ssh_host_ed25519_key`";
      };
    };

    gnupg = common.gnupg {
      homeExample = "/root/.gnupg";
      sshKeyPaths = {
        default = defaults.importKeys hostKeys "rsa";
        defaultText = lib.literalMD "`/etc/ssh/ssh_host_rsa_key`";
      };
    };
  };

  imports = [
    ./templates.nix
    ./secrets-for-users.nix
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
      ]
      ++ lib.optionals cfg.validateSopsFiles (
        lib.concatLists (
          lib.mapAttrsToList (_: secret: [
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

      system.build.sops-nix-manifest = manifest;
      system.activationScripts.postActivation.text = lib.mkAfter installScript;
      launchd.daemons.sops-install-secrets = darwin.daemon installScript;
    })
    {
      sops.environment.SOPS_GPG_EXEC = lib.mkIf (cfg.gnupg.home != null || cfg.gnupg.sshKeyPaths != [ ]) (
        lib.mkDefault "${cfg.gnupg.package}/bin/gpg"
      );
      sops.environment.PATH = lib.mkIf (cfg.age.plugins != [ ]) (lib.makeBinPath cfg.age.plugins);
    }
  ];
}
