# The crate's tests in the Nix sandbox, with the real peers from nixpkgs (sops, age, OpenSSH,
# GnuPG). Tests that need root (mount namespaces, useradd) or a Nix store cannot run in the
# sandbox: `scripts/test` runs the whole suite as root outside Nix.
{
  lib,
  callPackage,
  sops,
  age,
  openssh,
  gnupg,
}:
(callPackage ../package.nix { doCheck = true; }).overrideAttrs (old: {
  pname = "nix-sops-tests";
  # The integration tests and their fixtures, on top of the Rust sources.
  src = lib.fileset.toSource {
    root = ../..;
    fileset = lib.fileset.unions [
      ../../Cargo.toml
      ../../Cargo.lock
      ../../src
      ../../tests
    ];
  };
  nativeCheckInputs = (old.nativeCheckInputs or [ ]) ++ [
    sops
    age
    openssh
    gnupg
  ];
  NIX_SOPS_TEST_SOPS = "${sops}/bin/sops";
  # Unit tests of the library and binaries: they need no root and no Nix store.
  cargoTestFlags = [
    "--lib"
    "--bins"
  ];
})
