# sops-nix's nix-darwin module path (`"${sops-nix}/modules/nix-darwin"`); the module is in
# nix/modules/nix-darwin.
{ imports = [ ../../nix/modules/nix-darwin ]; }
