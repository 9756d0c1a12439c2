# The sops-install-secrets manifest as a plain attribute set, field for field as sops-nix's
# `modules/sops/manifest-for.nix` and `modules/home-manager/sops.nix` build it.
#
# Pure on purpose: only builtins plus `lib` (the real nixpkgs lib when the module calls this,
# `./mini.nix` otherwise), so the tests can evaluate it with a bare `nix-instantiate`.
#
#   (import ./manifest.nix { }).nixos {
#     cfg = config.sops; suffix = ""; secrets = …; templates = …; extraJson = { };
#   }
{
  lib ? import ./mini.nix,
}:
let
  logging = log: {
    keyImport = builtins.elem "keyImport" log;
    secretChanges = builtins.elem "secretChanges" log;
  };

  # The evaluation-time checks sops-nix makes before writing the manifest when
  # validateSopsFiles is on: the file exists and is (or will be copied) in the store.
  sopsFileErrors =
    secrets:
    builtins.foldl' (
      acc: secret:
      acc
      ++ lib.optional (!builtins.pathExists secret.sopsFile)
        "Cannot find path '${toString secret.sopsFile}' set in sops.secrets.${lib.escapeNixIdentifier secret.name}.sopsFile\n"
      ++ lib.optional (
        !builtins.isPath secret.sopsFile
        && !(builtins.isString secret.sopsFile && lib.hasPrefix builtins.storeDir secret.sopsFile)
      ) "'${toString secret.sopsFile}' is not in the Nix store. Either add it to the Nix store or set sops.validateSopsFiles to false"
    ) [ ] (builtins.attrValues secrets);

  # The fields both manifests take from the options as they are.
  fromOptions = cfg: secrets: templates: {
    secrets = builtins.attrValues secrets;
    templates = builtins.attrValues templates;
    keepGenerations = cfg.keepGenerations;
    gnupgHome = cfg.gnupg.home;
    sshKeyPaths = cfg.gnupg.sshKeyPaths;
    ageKeyFile = cfg.age.keyFile;
    ageSshKeyPaths = cfg.age.sshKeyPaths;
    placeholderBySecretName = cfg.placeholder;
    logging = logging cfg.log;
  }
  # Not in sops-nix: absent unless set, so other manifests stay identical to sops-nix's.
  // (if (cfg.hostPubKeys or [ ]) != [ ] then { hostPubKeys = cfg.hostPubKeys; } else { });

  # Throws like sops-nix does, or returns `value`.
  checked =
    validate: secrets: value:
    let
      errors = sopsFileErrors secrets;
    in
    if validate && errors != [ ] then
      throw "\nFailed assertions:\n${lib.concatStringsSep "\n" (map (x: "- ${x}") errors)}"
    else
      value;
in
{
  inherit sopsFileErrors logging;

  # NixOS: `secrets`/`templates` are attrsets of evaluated submodules, serialized whole (as
  # sops-nix does; `builtins.attrValues` sorts them by attribute name). `extraJson` overrides
  # top-level fields (the for-users manifest sets the `-for-users` mount point and link).
  nixos =
    {
      cfg,
      secrets,
      templates,
      extraJson ? { },
    }:
    checked cfg.validateSopsFiles secrets (
      fromOptions cfg secrets templates
      // {
        secretsMountPoint = "/run/secrets.d";
        symlinkPath = "/run/secrets";
        useTmpfs = cfg.useTmpfs;
        userMode = false;
      }
      // extraJson
    );

  # home-manager: user mode, `%r`-relative mount point, no useTmpfs field (as sops-nix).
  # sops-nix's home-manager module does not run the sopsFile eval checks; neither do we.
  homeManager =
    {
      cfg,
      secrets,
      templates,
    }:
    fromOptions cfg secrets templates
    // {
      secretsMountPoint = cfg.defaultSecretsMountPoint;
      symlinkPath = cfg.defaultSymlinkPath;
      userMode = true;
    };
}
