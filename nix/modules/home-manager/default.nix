# Import either this directory or ./sops.nix (the file sops-nix users point at).
{ imports = [ ./sops.nix ]; }
