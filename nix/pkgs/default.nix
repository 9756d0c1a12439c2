# Every package sops-nix's default.nix / flake `packages` / overlay carries, under the same names,
# so `(pkgs.callPackage nix-sops { }).sops-import-keys-hook`, `nix-sops.packages.${system}.*` and
# the overlay work unchanged after swapping the input.
{ pkgs }:
rec {
  # The Rust installer (sops-nix's binary name) and the `nix-sops` CLI, one package.
  sops-install-secrets = pkgs.callPackage ../package.nix { };
  nix-sops = sops-install-secrets;
  # sops-nix's `default` is sops-init-gpg-key; ours stays the CLI (`nix run nix-sops -- keygen`),
  # the one difference in meaning (README, "Coming from sops-nix").
  default = sops-install-secrets;

  sops-init-gpg-key = pkgs.callPackage ./sops-init-gpg-key.nix { };
  sops-import-keys-hook = pkgs.callPackage ./hooks/import-keys.nix { };
  # Deprecated in sops-nix (it sets SOPS_PGP_FP); kept for shells that still use it.
  sops-pgp-hook = pkgs.callPackage ./hooks/pgp.nix { };

  # Passed through from nixpkgs, as sops-nix does ("backwards compatibility").
  inherit (pkgs) ssh-to-pgp;
}
