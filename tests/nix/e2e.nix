# A NixOS-style configuration turned into a manifest by the same pure code the module uses,
# with the mount point, link and secret paths moved under `root` so tests/nix_module.rs can
# feed it to the real sops-install-secrets in a private mount namespace.
{
  root,
  sopsFile,
  keyFile,
  format ? "yaml",
}:
let
  resolve = import ../../nix/lib/resolve.nix;
  manifest = import ../../nix/lib/manifest.nix { };
  mini = import ../../nix/lib/mini.nix;
  placeholder = name: "<SOPS:${builtins.hashString "sha256" name}:PLACEHOLDER>";
  r = resolve.nixos {
    users.users.nobody.group = "nogroup";
    sops = {
      defaultSopsFile = sopsFile;
      defaultSopsFormat = format;
      validateSopsFiles = false;
      age.keyFile = keyFile;
      secrets.github_token = {
        path = "${root}/secrets/github_token";
      };
      secrets."db/password" = {
        path = "${root}/secrets/db/password";
        owner = "nobody";
        mode = "0440";
      };
      secrets.numeric = {
        key = "nested/deep";
        path = "${root}/secrets/numeric";
        uid = 1234;
        gid = 5678;
        mode = "0600";
      };
      secrets.linked = {
        key = "github_token";
        path = "${root}/etc/app/token";
      };
      templates."app.env" = {
        content = "TOKEN=${placeholder "github_token"}\nDB=${placeholder "db/password"}\n";
        path = "${root}/secrets/rendered/app.env";
        mode = "0444";
      };
    };
  };
in
manifest.nixos {
  inherit (r) cfg;
  inherit (r.cfg) templates;
  secrets = mini.filterAttrs (_: v: !v.neededForUsers) r.cfg.secrets;
  extraJson = {
    secretsMountPoint = "${root}/secrets.d";
    symlinkPath = "${root}/secrets";
  };
}
