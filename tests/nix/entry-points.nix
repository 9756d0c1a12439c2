# The names a flake (ours, or sops-nix's from a checkout) offers to its users: flake outputs,
# modules, packages per system, overlay, default.nix, sops-nix's module file paths, and what its
# setup hooks are made of; evaluated with ./stub-pkgs.nix and, by default, the bare lib.
# tests/nix_module.rs checks that ours offers every name in ./sops-nix-entry-points.json, which
# ./sops-nix-entry-points.sh writes from a sops-nix checkout with this same file.
#   nix-instantiate --eval --strict --json tests/nix/entry-points.nix --arg lib null --arg src ./.
{
  lib ? null,
  src,
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
  self = (import (src + "/flake.nix")).outputs { inherit self nixpkgs; };
  pkgs = stubPkgs "x86_64-linux";
  defaultNix = import src { inherit pkgs; };
  hook = d: {
    inherit (d) name propagatedBuildInputs;
    substitutions = builtins.attrNames d.substitutions;
  };
  shell = (import ./migrating-user/shell.nix { inherit pkgs; sops-nix = src; }).shellArgs;
in
{
  outputs = builtins.attrNames self;
  nixosModules = builtins.attrNames self.nixosModules;
  homeManagerModules = builtins.attrNames self.homeManagerModules;
  homeModules = builtins.attrNames self.homeModules;
  darwinModules = builtins.attrNames self.darwinModules;
  homeManagerModule = builtins.typeOf self.homeManagerModule;
  packages = builtins.mapAttrs (_: builtins.attrNames) self.packages;
  overlay = builtins.attrNames (self.overlays.default pkgs pkgs);
  defaultNix = builtins.attrNames defaultNix;
  modulePaths = builtins.filter (p: builtins.pathExists (src + "/${p}")) [
    "modules/sops/default.nix"
    "modules/home-manager/sops.nix"
    "modules/nix-darwin/default.nix"
  ];
  hooks = {
    sops-import-keys-hook = hook defaultNix.sops-import-keys-hook;
    sops-pgp-hook = hook defaultNix.sops-pgp-hook;
  };
  devShellHooks = map (h: h.name) shell.nativeBuildInputs;
}
