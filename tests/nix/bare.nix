# Bare-Nix evaluation of one sample configuration (no nixpkgs): the defaults and the manifest
# from nix/lib/resolve.nix. Used by tests/nix_module.rs:
#   nix-instantiate --eval --strict --json tests/nix/bare.nix --arg case ./tests/nix/cases/x.nix
{ case }:
let
  c = import case;
  r = (import ../../nix/lib/resolve.nix).${c.kind} c.config;
in
{
  manifest = r.manifest;
  usersManifest = r.usersManifest or null;
}
