# Defaults that sops-nix computes from other options, as plain functions. The NixOS and
# home-manager modules use them as option defaults, and `resolve.nix` (bare-Nix tests) uses the
# same functions, so both paths agree by construction. Builtins only.
let
  mini = import ./mini.nix;
in
rec {
  # /run/secrets/<name>, or /run/secrets-for-users/<name> for neededForUsers secrets.
  secretPath =
    { neededForUsers, name }:
    if neededForUsers then "/run/secrets-for-users/${name}" else "/run/secrets/${name}";

  # `key` defaults to sops.defaultSopsKey, else the attribute name.
  secretKey = defaultSopsKey: attrName: if defaultSopsKey != null then defaultSopsKey else attrName;

  # `group` defaults to the owner's primary group (users.users.<owner>.group).
  ownerGroup = users: owner: if owner != null then users.${owner}.group else null;

  # sha256 hex of the sops file when validating, "" otherwise.
  sopsFileHash =
    validate: sopsFile: if validate then "${builtins.hashFile "sha256" sopsFile}" else "";

  # Keep in sync with the installer's rendered sub-directory.
  templatePath = name: "/run/secrets/rendered/${name}";

  placeholder = secretName: "<SOPS:${builtins.hashString "sha256" secretName}:PLACEHOLDER>";

  # Host keys of one algorithm from services.openssh.hostKeys, skipping keys that sops itself
  # deploys (a catch-22 at boot).
  importKeys =
    openssh: algo:
    if openssh.enable or false then
      map (e: e.path) (
        builtins.filter (e: e.type == algo && !(mini.hasPrefix "/run/secrets" (toString e.path))) (
          openssh.hostKeys or [ ]
        )
      )
    else
      [ ];

  # home-manager: secrets link under defaultSymlinkPath by *attribute* name (sops-nix #687).
  hmSecretPath = symlinkPath: attrName: "${symlinkPath}/${attrName}";
  hmSymlinkPath = xdgConfigHome: "${xdgConfigHome}/sops-nix/secrets";
  hmMountPoint = "%r/secrets.d";
  hmTemplatePath = xdgConfigHome: name: "${xdgConfigHome}/sops-nix/secrets/rendered/${name}";

  # The default HOME/PATH sops-nix puts in front of sops.environment in the activation script.
  scriptEnvironment = pluginBinPath: environment: environment // {
    HOME = "/var/empty";
    PATH = pluginBinPath;
  };
}
