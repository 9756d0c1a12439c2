# nix-sops: the `nix-sops` CLI and the `sops-install-secrets` installer (sops-nix's binary name,
# so the NixOS/home-manager modules and anything calling sops-nix's binary keep working).
{
  lib,
  rustPlatform,
  # Run the crate's own test-suite in the build (needs the real peers; see ./checks/cargo-tests.nix).
  doCheck ? false,
}:
let
  cargoToml = lib.importTOML ../Cargo.toml;
in
rustPlatform.buildRustPackage {
  pname = "nix-sops";
  inherit (cargoToml.package) version;

  # Only what cargo needs: a change to docs, Nix files or examples does not rebuild the binary.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../Cargo.toml
      ../Cargo.lock
      ../src
    ];
  };

  cargoLock.lockFile = ../Cargo.lock;

  inherit doCheck;

  meta = {
    description = cargoToml.package.description;
    license = lib.licenses.mit;
    # `nix run github:…/nix-sops -- keygen`; the modules call bin/sops-install-secrets by path.
    mainProgram = "nix-sops";
    platforms = lib.platforms.linux;
  };
}
