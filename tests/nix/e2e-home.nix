# A home-manager configuration turned into a user-mode manifest by the module's pure code
# (%r mount point, links under xdg.configHome), for tests/nix_module.rs to install without root.
{
  root,
  sopsFile,
  keyFile,
  format ? "yaml",
}:
let
  placeholder = name: "<SOPS:${builtins.hashString "sha256" name}:PLACEHOLDER>";
in
(import ../../nix/lib/resolve.nix).homeManager {
  xdg.configHome = "${root}/config";
  sops = {
    defaultSopsFile = sopsFile;
    defaultSopsFormat = format;
    validateSopsFiles = false;
    age.keyFile = keyFile;
    secrets.github_token = { };
    secrets."db/password" = {
      mode = "0440";
    };
    secrets.runtime = {
      key = "github_token";
      path = "%r/app/token";
    };
    templates."app.env".content = "TOKEN=${placeholder "github_token"}\n";
  };
}
