# Like e2e.nix, but the secrets come from the test as JSON (`--argstr secrets '{…}'`), so a test
# can give each secret its own sopsFile and format, and `sops.hostPubKeys` (`--argstr
# hostPubKeys '["age1…"]'`).
{
  root,
  keyFile,
  secrets,
  hostPubKeys ? "[]",
}:
let
  r = (import ../../nix/lib/resolve.nix).nixos {
    sops = {
      defaultSopsFile = "/nonexistent";
      validateSopsFiles = false;
      age.keyFile = keyFile;
      secrets = builtins.fromJSON secrets;
      hostPubKeys = builtins.fromJSON hostPubKeys;
    };
  };
in
(import ../../nix/lib/manifest.nix { }).nixos {
  inherit (r) cfg;
  inherit (r.cfg) secrets templates;
  extraJson = {
    secretsMountPoint = "${root}/secrets.d";
    symlinkPath = "${root}/secrets";
  };
}
