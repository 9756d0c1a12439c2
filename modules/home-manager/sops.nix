# sops-nix's home-manager module path (`"${sops-nix}/modules/home-manager/sops.nix"`); the module
# is in nix/modules/home-manager.
{ imports = [ ../../nix/modules/home-manager/sops.nix ]; }
