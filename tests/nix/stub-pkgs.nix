# A stub nixpkgs package set for one system: every package the flake, default.nix and
# nix/pkgs use, as a fake derivation that keeps the arguments it was built from, so tests can read
# how each package is wired without nixpkgs. `lib` is nixpkgs' lib or ./bare-lib.nix.
{ lib }:
system:
let
  fakeDrv =
    name: attrs:
    {
      type = "derivation";
      inherit name;
      outPath = "/nix/store/00000000000000000000000000000000-${name}";
    }
    // attrs;
  isLinux = lib.hasSuffix "linux" system;
  pkgs =
    {
      inherit lib;
      stdenv = {
        hostPlatform = { inherit system isLinux; };
        buildPlatform = pkgs.stdenv.hostPlatform;
        inherit isLinux;
        isDarwin = lib.hasSuffix "darwin" system;
      };
      pkgsBuildHost = pkgs;
      rustPlatform.buildRustPackage =
        a:
        fakeDrv "${a.pname}-${a.version}" {
          inherit (a) cargoLock doCheck meta;
          src = a.src;
          overrideAttrs = f: fakeDrv "overridden" (f a);
        };
      stdenvNoCC.mkDerivation = a: fakeDrv "${a.pname}-${a.version}" { args = a; inherit (a) meta; };
      # What makeSetupHook was given: its name, the script, the substitutions and the inputs.
      makeSetupHook =
        a: script:
        fakeDrv a.name {
          script = toString script;
          substitutions = a.substitutions or { };
          propagatedBuildInputs = map (p: p.name) (a.propagatedBuildInputs or [ ]);
        };
      # mkShell's arguments as given (the environment variables a shell gets).
      mkShell = a: fakeDrv "shell" { shellArgs = a; };
      testers.runNixOSTest = t: fakeDrv "vm-test-${t.name}" { test = t; };
      runCommand = name: _: _: fakeDrv name { };
      callPackage =
        fn: args:
        let
          f = if builtins.isFunction fn then fn else import fn;
          auto = pkgs // {
            inherit pkgs;
          };
        in
        f (builtins.intersectAttrs (builtins.functionArgs f) auto // args);
    }
    // lib.genAttrs [
      "cargo"
      "rustc"
      "clippy"
      "rustfmt"
      "sops"
      "age"
      "ssh-to-age"
      "ssh-to-pgp"
      "gnupg"
      "openssh"
      "nixfmt"
      "nixfmt-tree"
      "jq"
      "makeWrapper"
      "coreutils"
      "util-linux"
    ] (n: fakeDrv n { })
    // {
      unixtools.hostname = fakeDrv "hostname" { };
    };
in
pkgs
