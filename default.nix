# Non-flake entry point, as sops-nix's default.nix: `(pkgs.callPackage nix-sops { })` or
# `import nix-sops { inherit pkgs; }` gives sops-install-secrets, sops-init-gpg-key,
# sops-pgp-hook, sops-import-keys-hook and ssh-to-pgp. (sops-nix's `vendorHash` argument is
# accepted and ignored: this is a Rust package.)
{
  pkgs ? import <nixpkgs> { },
  ...
}:
import ./nix/pkgs { inherit pkgs; }
