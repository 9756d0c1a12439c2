# sops-nix's entry points, evaluated against this repository with a stub package set and, by
# default, the bare lib (./bare-lib.nix; no nixpkgs): the flake's output names, the packages and
# overlay, default.nix, the module paths (flake attributes and sops-nix's file paths), and a
# migrating user's devShells (./migrating-user) with this repository in sops-nix's place.
#   nix-instantiate --eval --strict --json tests/nix/compat.nix [--arg lib <nixpkgs lib dir>]
{
  lib ? null,
}:
let
  lib' = if lib == null then import ./bare-lib.nix else import lib;
  stubPkgs = import ./stub-pkgs.nix { lib = lib'; };
  systems = [
    "x86_64-linux"
    "aarch64-linux"
    "x86_64-darwin"
    "aarch64-darwin"
  ];
  nixpkgs = {
    lib = lib';
    legacyPackages = lib'.genAttrs systems stubPkgs;
  };
  flake = import ../../flake.nix;
  self = flake.outputs { inherit self nixpkgs; };
  pkgs = stubPkgs "x86_64-linux";
  root = toString ../..;
  rel = p: lib'.removePrefix root (toString p);

  # A module entry point: the file it is, and the files a thin one imports.
  module = p: {
    path = rel p;
    imports =
      let
        m = import p;
      in
      if builtins.isAttrs m then map rel (m.imports or [ ]) else null;
  };

  # How one of our packages is made (its fake derivation's recorded arguments).
  describe =
    drv:
    {
      inherit (drv) name;
    }
    // lib'.optionalAttrs (drv ? script) {
      script = rel drv.script;
      inherit (drv) substitutions propagatedBuildInputs;
    }
    // lib'.optionalAttrs (drv ? args) {
      src = rel drv.args.src;
      mainProgram = drv.meta.mainProgram;
    }
    // lib'.optionalAttrs (drv ? cargoLock) { mainProgram = drv.meta.mainProgram; };

  packages = self.packages.x86_64-linux;
  overlaid = self.overlays.default pkgs pkgs;
  defaultNix = import ../.. { inherit pkgs; };
  calledDefaultNix = pkgs.callPackage ../.. { };

  shell = (import ./migrating-user/shell.nix { inherit pkgs; sops-nix = ../..; }).shellArgs;
  userFlake = (import ./migrating-user/flake.nix).outputs {
    inherit nixpkgs;
    sops-nix = self;
  };
  flakeShell = userFlake.devShells.x86_64-linux.default.shellArgs;
  # The systems the flake claims (Linux only: see README, "Limitations").
  flakeSystems = builtins.attrNames self.packages;
in
{
  outputs = builtins.attrNames self;
  packages = builtins.mapAttrs (_: describe) packages;
  inherit flakeSystems;
  packageNamesPerSystem = lib'.genAttrs flakeSystems (s: builtins.attrNames self.packages.${s});
  overlay = builtins.mapAttrs (_: describe) overlaid;
  defaultNix = builtins.mapAttrs (_: describe) defaultNix;
  callPackageDefaultNix = builtins.attrNames calledDefaultNix;
  formatter = lib'.genAttrs flakeSystems (s: self.formatter.${s}.name);
  devShellPackages = map (p: p.name) self.devShells.x86_64-linux.default.shellArgs.packages;
  modules = {
    nixosModules = builtins.mapAttrs (_: module) self.nixosModules;
    homeManagerModules = builtins.mapAttrs (_: module) self.homeManagerModules;
    homeManagerModule = module self.homeManagerModule;
    homeModules = builtins.mapAttrs (_: module) self.homeModules;
    darwinModules = builtins.mapAttrs (_: module) self.darwinModules;
    "modules/sops" = module ../../modules/sops;
    "modules/home-manager/sops.nix" = module ../../modules/home-manager/sops.nix;
    "modules/nix-darwin" = module ../../modules/nix-darwin;
  };
  shell = {
    inherit (shell) sopsPGPKeyDirs sopsCreateGPGHome;
    nativeBuildInputs = map describe shell.nativeBuildInputs;
  };
  flakeShell = {
    inherit (flakeShell) sopsPGPKeys sopsGPGHome sopsCreateGPGHome;
    nativeBuildInputs = map describe flakeShell.nativeBuildInputs;
  };
  userFlakeModules = {
    nixos = map rel userFlake.nixosConfigurations.host.modules;
    home = map rel userFlake.homeConfigurations.me.modules;
    darwin = map rel userFlake.darwinConfigurations.mac.modules;
    overlay = builtins.attrNames ((builtins.head userFlake.overlays) pkgs pkgs);
  };
}
