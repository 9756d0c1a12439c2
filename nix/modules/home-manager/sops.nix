# nix-sops home-manager module: sops-nix's home-manager options, user mode (`%r` paths, no
# chown), run by the `sops-nix` user service (restarted on every home-manager activation) or a
# launchd agent on darwin.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  cfg = config.sops;
  defaults = import ../../lib/defaults.nix;
  common = import ../common/options.nix { inherit lib pkgs; };
  sops-install-secrets = cfg.package;

  secretType = lib.types.submodule (
    { name, ... }:
    {
      options =
        common.secret {
          inherit cfg name;
          dir = "/run/user/*/secrets";
          formats = [
            "yaml"
            "json"
            "binary"
            "ini"
            "dotenv"
          ];
          sopsFileDefault.default = cfg.defaultSopsFile;
        }
        // {
          path = lib.mkOption {
            type = lib.types.str;
            default = defaults.hmSecretPath cfg.defaultSymlinkPath name;
            description = ''
              Path where secrets are symlinked to.
              If the default is kept no other symlink is created.
              `%r` is replaced by $XDG_RUNTIME_DIR on linux or `getconf
              DARWIN_USER_TEMP_DIR` on darwin.
            '';
          };
        };
    }
  );

  manifest = pkgs.writeTextFile {
    name = "manifest.json";
    text = builtins.toJSON (
      (import ../../lib/manifest.nix { inherit lib; }).homeManager {
        inherit cfg;
        inherit (cfg) secrets templates;
      }
    );
    checkPhase = ''
      ${sops-install-secrets}/bin/sops-install-secrets -check-mode=${
        if cfg.validateSopsFiles then "sopsfile" else "manifest"
      } "$out"
    '';
  };

  escapedAgeKeyFile = lib.escapeShellArg cfg.age.keyFile;

  script = toString (
    pkgs.writeShellScript "sops-nix-user" (
      lib.optionalString cfg.age.generateKey ''
        if [[ ! -f ${escapedAgeKeyFile} ]]; then
          echo generating machine-specific age key...
          ${pkgs.coreutils}/bin/mkdir -p $(${pkgs.coreutils}/bin/dirname ${escapedAgeKeyFile})
          # age-keygen sets 0600 by default, no need to chmod.
          ${pkgs.age}/bin/age-keygen -o ${escapedAgeKeyFile}
        fi
      ''
      + ''
        ${sops-install-secrets}/bin/sops-install-secrets -ignore-passwd ${manifest}
      ''
    )
  );
in
{
  imports = [ ./templates.nix ];

  options.sops = common.toplevel // {
    secrets = lib.mkOption {
      type = lib.types.attrsOf secretType;
      default = { };
      description = ''
        Secrets to decrypt.
      '';
    };

    # Not in sops-nix: the manifest the user service installs, for inspection and tests
    # (the NixOS module has system.build.sops-nix-manifest for this).
    manifest = lib.mkOption {
      type = lib.types.package;
      internal = true;
      readOnly = true;
      default = manifest;
      description = "The sops-install-secrets manifest of this home-manager configuration.";
    };

    defaultSymlinkPath = lib.mkOption {
      type = lib.types.str;
      default = defaults.hmSymlinkPath config.xdg.configHome;
      description = ''
        Default place where the latest generation of decrypt secrets
        can be found.
      '';
    };

    defaultSecretsMountPoint = lib.mkOption {
      type = lib.types.str;
      default = defaults.hmMountPoint;
      description = ''
        Default place where generations of decrypted secrets are stored.
      '';
    };

    environment = common.environment ''
      Environment variables to set before calling sops-install-secrets.

      To properly quote strings with quotes use lib.escapeShellArg.
    '';

    age = common.age {
      keyFileExample = "/home/someuser/.age-key.txt";
      sshKeyPaths.default = [ ];
    };

    gnupg =
      common.gnupg {
        homeExample = "/home/someuser/.gnupg";
        sshKeyPaths.default = [ ];
      }
      // {
        qubes-split-gpg = {
          enable = lib.mkEnableOption "Enable support for Qubes Split GPG feature: https://www.qubes-os.org/doc/split-gpg";

          domain = lib.mkOption {
            type = lib.types.nullOr lib.types.str;
            default = null;
            example = "vault-gpg";
            description = ''
              It tells Qubes OS which secure Qube holds your GPG keys for isolated cryptographic operations.
            '';
          };
        };
      };
  };

  config = lib.mkIf (cfg.secrets != { }) {
    assertions = [
      {
        assertion =
          cfg.gnupg.home != null
          || cfg.gnupg.sshKeyPaths != [ ]
          || cfg.gnupg.qubes-split-gpg.enable
          || cfg.age.keyFile != null
          || cfg.age.sshKeyPaths != [ ];
        message = "No key source configured for sops. Either set services.openssh.enable or set sops.age.keyFile or sops.gnupg.home or sops.gnupg.qubes-split-gpg.enable";
      }
      {
        assertion =
          !(cfg.gnupg.home != null && cfg.gnupg.sshKeyPaths != [ ])
          && !(cfg.gnupg.home != null && cfg.gnupg.qubes-split-gpg.enable)
          && !(cfg.gnupg.sshKeyPaths != [ ] && cfg.gnupg.qubes-split-gpg.enable);
        message = "Exactly one of sops.gnupg.home, sops.gnupg.qubes-split-gpg.enable and sops.gnupg.sshKeyPaths must be set";
      }
      {
        assertion =
          !cfg.gnupg.qubes-split-gpg.enable
          || (cfg.gnupg.qubes-split-gpg.domain != null && cfg.gnupg.qubes-split-gpg.domain != "");
        message = "sops.gnupg.qubes-split-gpg.domain is required when sops.gnupg.qubes-split-gpg.enable is set to true";
      }
      {
        assertion = !(cfg.gnupg.home != null && cfg.age.keyFile != null);
        message = "sops.gnupg.home and sops.age.keyFile cannot both be set: the installer uses either a GnuPG home or age keys. Unset one of them";
      }
    ];

    home.sessionVariables = lib.mkIf cfg.gnupg.qubes-split-gpg.enable {
      SOPS_GPG_EXEC = "qubes-gpg-client-wrapper";
    };

    sops.environment = {
      SOPS_GPG_EXEC = lib.mkMerge [
        (lib.mkIf (cfg.gnupg.home != null || cfg.gnupg.sshKeyPaths != [ ]) (
          lib.mkDefault "${cfg.gnupg.package}/bin/gpg"
        ))
        (lib.mkIf cfg.gnupg.qubes-split-gpg.enable (lib.mkDefault config.home.sessionVariables.SOPS_GPG_EXEC))
      ];

      PATH =
        let
          pluginPaths = lib.makeBinPath cfg.age.plugins;
          systemPaths = lib.optionalString pkgs.stdenv.isDarwin "/usr/bin:/bin:/usr/sbin:/sbin";
        in
        lib.concatStringsSep ":" (
          lib.filter (p: p != "") [
            pluginPaths
            systemPaths
          ]
        );

      QUBES_GPG_DOMAIN = lib.mkIf cfg.gnupg.qubes-split-gpg.enable (
        lib.mkDefault cfg.gnupg.qubes-split-gpg.domain
      );
    };

    systemd.user.services.sops-nix = lib.mkIf pkgs.stdenv.hostPlatform.isLinux {
      Unit = {
        Description = "sops-nix activation";
      };
      Service = {
        Type = "oneshot";
        Environment = builtins.concatStringsSep " " (
          lib.mapAttrsToList (name: value: "'${name}=${value}'") cfg.environment
        );
        ExecStart = script;
      };
      Install.WantedBy =
        if cfg.gnupg.home != null then [ "graphical-session-pre.target" ] else [ "default.target" ];
    };

    # Darwin: load secrets once on login.
    launchd.agents.sops-nix = {
      enable = true;
      config = {
        Program = script;
        EnvironmentVariables = cfg.environment;
        KeepAlive = false;
        RunAtLoad = true;
        StandardOutPath = "${config.home.homeDirectory}/Library/Logs/SopsNix/stdout";
        StandardErrorPath = "${config.home.homeDirectory}/Library/Logs/SopsNix/stderr";
      };
    };

    # (Re)load secrets on every home-manager activation.
    home.activation.sops-nix =
      if pkgs.stdenv.isLinux then
        let
          systemctl = config.systemd.user.systemctlPath;
        in
        ''
          systemdStatus=$(${systemctl} --user is-system-running 2>&1 || true)

          if [[ $systemdStatus == 'running' || $systemdStatus == 'degraded' ]]; then
            ${systemctl} restart --user sops-nix
          else
            echo "User systemd daemon not running. Probably executed on boot where no manual start/reload is needed."
          fi

          unset systemdStatus
        ''
      else
        let
          domain-target = "gui/$(id -u ${config.home.username})";
        in
        ''
          /bin/launchctl bootout ${domain-target}/org.nix-community.home.sops-nix && true
          /bin/launchctl bootstrap ${domain-target} ${config.home.homeDirectory}/Library/LaunchAgents/org.nix-community.home.sops-nix.plist
        '';
  };
}
