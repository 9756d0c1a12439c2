# sops-nix's NixOS module path (`imports = [ "${sops-nix}/modules/sops" ]`); the module is in
# nix/modules/sops.
{ imports = [ ../../nix/modules/sops ]; }
