# The manifests of a NixOS and a home-manager configuration with `sops.hostPubKeys` set to
# `keys` (JSON; `null` leaves the option unset), for tests/nix_module.rs:
#   nix-instantiate --eval --strict --json tests/nix/host-keys.nix --argstr keys '["age1…"]'
{ keys }:
let
  resolve = import ../../nix/lib/resolve.nix;
  parsed = builtins.fromJSON keys;
  hostPubKeys = if parsed == null then { } else { hostPubKeys = parsed; };
  sops = {
    defaultSopsFile = "/var/lib/secrets/secrets.yaml";
    validateSopsFiles = false;
    age.keyFile = "/var/lib/sops/key.txt";
    secrets.github_token = { };
  } // hostPubKeys;
in
{
  nixos = (resolve.nixos { inherit sops; }).manifest;
  homeManager = (resolve.homeManager {
    inherit sops;
    xdg.configHome = "/home/u/.config";
  }).manifest;
}
