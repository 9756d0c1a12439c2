# Option declarations that the NixOS module (../sops) and the home-manager module
# (../home-manager) share, as sops-nix's two modules repeat them. Each module passes what differs
# (examples, defaults, paths in descriptions); names, types, defaults and descriptions must stay
# sops-nix's (tests/nix/option-types.nix checks them).
{ lib, pkgs }:
let
  inherit (lib) mkOption types;
  defaults = import ../../lib/defaults.nix;

  # uid/gid: `id` applies only when `name` (owner/group) is null.
  numericId =
    {
      id,
      name,
      what,
      kind,
    }:
    mkOption {
      type = with types; nullOr int;
      default = 0;
      description = ''
        ${id} of the ${what}, only applied when ${name} is null. The ${id} will be applied even if the corresponding ${kind} doesn't exist.
      '';
    };

  # owner/group: a name (of type `str`), settable only while `id` (uid/gid) is 0; `extra` has
  # its default.
  principal =
    str: label: id: extra:
    mkOption (
      {
        type = types.nullOr str;
        description = ''
          ${label} of the file. Can only be set if ${id} is 0.
        '';
      }
      // extra
    );

  # age.sshKeyPaths and gnupg.sshKeyPaths; `extra` has the module's default (and defaultText).
  keyPathsOption =
    extra: description:
    mkOption (
      {
        type = types.listOf types.path;
        inherit description;
      }
      // extra
    );

  unitsOption =
    { verb, trigger }:
    what:
    mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "sshd.service" ];
      description = ''
        Names of units that should be ${verb} when ${what} changes.
        This works the same way as {option}`systemd.services.<name>.${trigger}`.
      '';
    };
in
rec {
  pathNotInStore = lib.mkOptionType {
    name = "pathNotInStore";
    description = "path not in the Nix store";
    descriptionClass = "noun";
    check = x: !lib.path.hasStorePathPrefix (/. + x);
    merge = lib.mergeEqualOption;
  };

  # sops.* options declared the same way in both modules.
  toplevel = {
    defaultSopsFile = mkOption {
      type = types.path;
      description = ''
        Default sops file used for all secrets.
      '';
    };

    defaultSopsFormat = mkOption {
      type = types.str;
      default = "yaml";
      description = ''
        Default sops format used for all secrets.
      '';
    };

    defaultSopsKey = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = ''
        Default key used to lookup in all secrets.
        This option is ignored if format is binary.
        "" means whole file.
      '';
    };

    validateSopsFiles = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Check all sops files at evaluation time.
        This requires sops files to be added to the nix store.
      '';
    };

    hostPubKeys = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOeWyBXFZRWtzhOmNHVGXWjaEPeZnVzYBipMIl664OFQ"
        "age12m2pt5gsv3gqt2a3e394phn67vk02d4kse6mjercl2ngapf5a9nq5edcw9"
      ];
      description = ''
        Public keys of the machine that decrypts these secrets (not in sops-nix): its SSH
        ed25519 host key (`"ssh-ed25519 AAAA…"`, e.g. from
        `ssh-keyscan -t ed25519 HOST | cut -d' ' -f2-`) and/or age recipients (`"age1…"`,
        e.g. `nix-sops ssh-to-age -i /etc/ssh/ssh_host_ed25519_key.pub`, or
        `nix-sops keygen -y` of {option}`sops.age.keyFile`).

        When set (and {option}`sops.validateSopsFiles` is on), building the manifest checks from
        each sops file's metadata that these keys can recover its data key, so a machine that is
        not a recipient (a new host, a regenerated host key, a forgotten `updatekeys`) fails
        the build instead of the activation. An `ssh-ed25519` key opens `age1…` recipients that
        are its ssh-to-age conversion and `ssh-ed25519` recipients of the same key. Files only
        PGP keys could open give a warning, not an error.
      '';
    };

    keepGenerations = mkOption {
      type = types.ints.unsigned;
      default = 1;
      description = ''
        Number of secrets generations to keep. Setting this to 0 disables pruning.
      '';
    };

    log = mkOption {
      type = types.listOf (
        types.enum [
          "keyImport"
          "secretChanges"
        ]
      );
      default = [
        "keyImport"
        "secretChanges"
      ];
      description = "What to log";
    };

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ../../package.nix { };
      defaultText = lib.literalExpression "pkgs.callPackage <nix-sops/nix/package.nix> { }";
      description = ''
        sops-install-secrets package to use (nix-sops's Rust installer by default).
      '';
    };
  };

  # The modules word it differently (the NixOS one wraps values in a subshell).
  environment =
    description:
    mkOption {
      type = types.attrsOf (types.either types.str types.path);
      default = { };
      inherit description;
    };

  # sops.age.*; `sshKeyPaths` carries the module's default (and defaultText).
  age =
    { keyFileExample, sshKeyPaths }:
    {
      keyFile = mkOption {
        type = types.nullOr pathNotInStore;
        default = null;
        example = keyFileExample;
        description = ''
          Path to age key file used for sops decryption.
        '';
      };

      plugins = mkOption {
        type = types.listOf types.package;
        default = [ ];
        description = ''
          List of plugins to use for sops decryption.
        '';
      };

      generateKey = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Whether or not to generate the age key. If this
          option is set to false, the key must already be
          present at the specified location.
        '';
      };

      sshKeyPaths = keyPathsOption sshKeyPaths ''
        Paths to ssh keys added as age keys during sops description.
      '';
    };

  # sops.gnupg.*; `sshKeyPaths` carries the module's default (and defaultText).
  gnupg =
    { homeExample, sshKeyPaths }:
    {
      home = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = homeExample;
        description = ''
          Path to gnupg database directory containing the key for decrypting the sops file.
        '';
      };

      sshKeyPaths = keyPathsOption sshKeyPaths ''
        Path to ssh keys added as GPG keys during sops description.
        This option must be explicitly unset if `config.sops.gnupg.home` is set.
      '';

      package = mkOption {
        type = types.package;
        default = pkgs.gnupg;
        defaultText = lib.literalExpression "pkgs.gnupg";
        description = ''
          The gnupg package to use for sops operations.
        '';
      };
    };

  # Options of one sops.secrets.<name> that both modules have. `dir` is where the file goes (for
  # the description), `formats` the enum in the module's order (sops-nix's two differ),
  # `sopsFileDefault` the default of sopsFile when the module sets it here.
  secret =
    {
      cfg,
      name,
      dir,
      formats,
      sopsFileDefault ? { },
    }:
    {
      name = mkOption {
        type = types.str;
        default = name;
        description = ''
          Name of the file used in ${dir}
        '';
      };

      key = mkOption {
        type = types.str;
        default = defaults.secretKey cfg.defaultSopsKey name;
        description = ''
          Key used to lookup in the sops file.
          To access nested data structures, use / as a separator.
          This option is ignored if format is binary.
          "" means whole file.
        '';
      };

      format = mkOption {
        type = types.enum formats;
        default = cfg.defaultSopsFormat;
        description = ''
          File format used to decrypt the sops secret.
          Binary files are written to the target file as is.
        '';
      };

      mode = mkOption {
        type = types.str;
        default = "0400";
        description = ''
          Permissions mode of the in octal.
        '';
      };

      sopsFile = mkOption (
        {
          type = types.path;
          defaultText = lib.literalExpression "\${config.sops.defaultSopsFile}";
          description = ''
            Sops file the secret is loaded from.
          '';
        }
        // sopsFileDefault
      );
    };

  # owner/uid/group/gid of a NixOS secret or template (`what`: "file" or "template"); `str` is the
  # string type of owner and group, `owner` the submodule's owner (for the group default).
  ownership =
    {
      str,
      what,
      users,
      owner,
      groupDefaultText,
    }:
    {
      owner = principal str "User" "uid" { default = null; };
      uid = numericId {
        id = "UID";
        name = "owner";
        kind = "user";
        inherit what;
      };
      group = principal str "Group" "gid" {
        default = defaults.ownerGroup users owner;
        defaultText = groupDefaultText;
      };
      gid = numericId {
        id = "GID";
        name = "group";
        kind = "group";
        inherit what;
      };
    };

  # restartUnits/reloadUnits of a NixOS secret or template; `what` is the thing that changes.
  units = what: {
    restartUnits = unitsOption {
      verb = "restarted";
      trigger = "restartTriggers";
    } what;
    reloadUnits = unitsOption {
      verb = "reloaded";
      trigger = "reloadTriggers";
    } what;
  };
}
