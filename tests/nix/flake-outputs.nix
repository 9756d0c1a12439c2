# Evaluates this repository's flake outputs with nixpkgs' lib and a stub package set (no
# nixpkgs checkout needed), so tests can check the output names and the package wiring.
#   nix-instantiate --eval --strict --json tests/nix/flake-outputs.nix --arg lib <nixpkgs lib dir>
{ lib }:
let
  lib' = import lib;
  flake = import ../../flake.nix;
  fakeDrv = name: attrs: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  } // attrs;
  stubPkgs = system: rec {
    lib = lib';
    stdenv = {
      hostPlatform = { inherit system; isLinux = lib'.hasSuffix "linux" system; };
      isLinux = lib'.hasSuffix "linux" system;
      isDarwin = lib'.hasSuffix "darwin" system;
    };
    rustPlatform.buildRustPackage = a: fakeDrv "${a.pname}-${a.version}" {
      inherit (a) cargoLock doCheck meta;
      srcFiles = lib'.fileset.toList (a.src.fileset or (lib'.fileset.unions [ ]));
      overrideAttrs = f: fakeDrv "overridden" (f a);
    };
    testers.runNixOSTest = t: fakeDrv "vm-test-${t.name}" { };
    runCommand = name: _: _: fakeDrv name { };
    mkShell = a: fakeDrv "shell" { packages = map (p: p.name) a.packages; };
    makeSetupHook = a: _: fakeDrv a.name { };
    stdenvNoCC.mkDerivation = a: fakeDrv a.pname { };
    jq = fakeDrv "jq" { };
    callPackage =
      fn: args:
      let
        f = if builtins.isFunction fn then fn else import fn;
      in
      f (builtins.intersectAttrs (builtins.functionArgs f) (stubPkgs system // { callPackage = callPackage; }) // args);
  } // lib'.genAttrs [ "cargo" "rustc" "clippy" "rustfmt" "sops" "age" "ssh-to-age" "gnupg" "openssh" "nixfmt-tree" "ssh-to-pgp" "makeWrapper" "coreutils" "util-linux" ] (n: fakeDrv n { })
    // { unixtools.hostname = fakeDrv "hostname" { }; };
  nixpkgs = {
    lib = lib' // { nixosSystem = a: { config.system.build = { sops-nix-manifest = fakeDrv "m" { }; sops-nix-users-manifest = fakeDrv "u" { }; }; config.system.activationScripts.setupSecrets.text = ""; }; };
    legacyPackages = lib'.genAttrs [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ] stubPkgs;
  };
  self = flake.outputs { inherit self nixpkgs; };
  pkg = self.packages.x86_64-linux.default;
in
{
  outputs = builtins.attrNames self;
  nixosModules = builtins.attrNames self.nixosModules;
  homeManagerModules = builtins.attrNames self.homeManagerModules;
  nixosModule = toString self.nixosModules.sops;
  homeManagerModule = toString self.homeManagerModules.sops;
  packages = builtins.attrNames self.packages.x86_64-linux;
  packageName = pkg.name;
  cargoLock = toString pkg.cargoLock.lockFile;
  # lib.fileset needs builtins.readFileType (Nix >= 2.14); older evaluators report null.
  srcFiles =
    if builtins ? readFileType then
      map (p: lib'.removePrefix (toString ../..) (toString p)) pkg.srcFiles
    else
      null;
  checksLinux = builtins.attrNames self.checks.x86_64-linux;
  systems = builtins.attrNames self.checks;
  devShell = self.devShells.x86_64-linux.default.packages;
  overlay = builtins.attrNames (self.overlays.default (stubPkgs "x86_64-linux") { });
  formatter = self.formatter.x86_64-linux.name;
}
