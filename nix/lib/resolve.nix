# The `sops` configuration with every default filled in, without the module system: the same
# defaults as the modules (both take them from ./defaults.nix), for callers that have only bare
# Nix (the tests, scripts that want a manifest without nixpkgs).
#
#   (import ./resolve.nix).nixos { sops = { … }; users.users = { … }; services.openssh = { … }; }
#     → { cfg; manifest; usersManifest; }
#   (import ./resolve.nix).homeManager { sops = { … }; xdg.configHome = "…"; }
#     → { cfg; manifest; }
#
# Template `file` defaults to `builtins.toFile` here (the module uses pkgs.writeText).
let
  defaults = import ./defaults.nix;
  mini = import ./mini.nix;
  manifest = import ./manifest.nix { };
  logDefault = [
    "keyImport"
    "secretChanges"
  ];

  # Placeholders exist only when there are templates (sops-nix: mkIf (templates != { })).
  placeholders =
    s: secrets: templates:
    (if templates != { } then builtins.mapAttrs (n: _: defaults.placeholder n) secrets else { })
    // (s.placeholder or { });

  commonCfg = s: {
    defaultSopsFormat = s.defaultSopsFormat or "yaml";
    defaultSopsKey = s.defaultSopsKey or null;
    validateSopsFiles = s.validateSopsFiles or true;
    keepGenerations = s.keepGenerations or 1;
    log = s.log or logDefault;
    hostPubKeys = s.hostPubKeys or [ ];
  };

  # What a secret defaults to in both modules.
  secretBase = common: s: attrName: def: {
    name = def.name or attrName;
    key = def.key or (defaults.secretKey common.defaultSopsKey attrName);
    format = def.format or common.defaultSopsFormat;
    mode = def.mode or "0400";
    sopsFile = def.sopsFile or s.defaultSopsFile;
  };

  # What a template defaults to in both modules; `pathOf` maps its name to its default path.
  templateBase =
    pathOf: attrName: def:
    let
      name = def.name or attrName;
      content = def.content or "";
    in
    {
      inherit name content;
      path = def.path or (pathOf name);
      mode = def.mode or "0400";
      file = def.file or (builtins.toFile name content);
    };

  # NixOS secrets and templates: ownership and the units to restart or reload.
  ownership =
    users: def:
    let
      owner = def.owner or null;
    in
    {
      inherit owner;
      uid = def.uid or 0;
      group = def.group or (defaults.ownerGroup users owner);
      gid = def.gid or 0;
      restartUnits = def.restartUnits or [ ];
      reloadUnits = def.reloadUnits or [ ];
    };
in
{
  nixos =
    config:
    let
      s = config.sops;
      users = config.users.users or { };
      openssh = config.services.openssh or { enable = false; };
      common = commonCfg s;

      secret =
        attrName: def:
        let
          base = secretBase common s attrName def;
          neededForUsers = def.neededForUsers or false;
        in
        base
        // ownership users def
        // {
          inherit neededForUsers;
          path = def.path or (defaults.secretPath {
            inherit neededForUsers;
            inherit (base) name;
          });
          sopsFileHash = defaults.sopsFileHash common.validateSopsFiles base.sopsFile;
        };

      template =
        attrName: def: templateBase defaults.templatePath attrName def // ownership users def;

      secrets = builtins.mapAttrs secret (s.secrets or { });
      templates = builtins.mapAttrs template (s.templates or { });

      cfg = common // {
        inherit secrets templates;
        useTmpfs = s.useTmpfs or false;
        age = {
          keyFile = s.age.keyFile or null;
          sshKeyPaths = s.age.sshKeyPaths or (defaults.importKeys openssh "ed25519");
        };
        gnupg = {
          home = s.gnupg.home or s.gnupgHome or null;
          sshKeyPaths = s.gnupg.sshKeyPaths or s.sshKeyPaths or (defaults.importKeys openssh "rsa");
        };
        placeholder = placeholders s secrets templates;
      };
    in
    {
      inherit cfg;
      manifest = manifest.nixos {
        inherit cfg templates;
        secrets = mini.filterAttrs (_: v: !v.neededForUsers) secrets;
      };
      usersManifest = manifest.nixos {
        inherit cfg;
        secrets = mini.filterAttrs (_: v: v.neededForUsers) secrets;
        templates = { };
        extraJson = {
          secretsMountPoint = "/run/secrets-for-users.d";
          symlinkPath = "/run/secrets-for-users";
        };
      };
    };

  homeManager =
    config:
    let
      s = config.sops;
      configHome = config.xdg.configHome;
      common = commonCfg s;
      defaultSymlinkPath = s.defaultSymlinkPath or (defaults.hmSymlinkPath configHome);

      secret =
        attrName: def:
        secretBase common s attrName def
        // {
          path = def.path or (defaults.hmSecretPath defaultSymlinkPath attrName);
        };

      template = templateBase (defaults.hmTemplatePath configHome);

      secrets = builtins.mapAttrs secret (s.secrets or { });
      templates = builtins.mapAttrs template (s.templates or { });

      cfg = common // {
        inherit secrets templates defaultSymlinkPath;
        defaultSecretsMountPoint = s.defaultSecretsMountPoint or defaults.hmMountPoint;
        age = {
          keyFile = s.age.keyFile or null;
          sshKeyPaths = s.age.sshKeyPaths or [ ];
        };
        gnupg = {
          home = s.gnupg.home or null;
          sshKeyPaths = s.gnupg.sshKeyPaths or [ ];
        };
        placeholder = placeholders s secrets templates;
      };
    in
    {
      inherit cfg;
      manifest = manifest.homeManager { inherit cfg secrets templates; };
    };
}
