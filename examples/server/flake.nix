{
  description = "nix-sops example: a NixOS server with six secrets";

  inputs = {
    # This repository, so the example always builds against the module next to it. In your own
    # flake use the published source instead, e.g. "github:<owner>/nix-sops".
    nix-sops.url = "path:../..";
    # One nixpkgs for both: the one nix-sops pins (or point nix-sops.inputs.nixpkgs.follows at yours).
    nixpkgs.follows = "nix-sops/nixpkgs";
  };

  outputs =
    { nixpkgs, nix-sops, ... }:
    {
      # nixos-rebuild build --flake .#server
      nixosConfigurations.server = nixpkgs.lib.nixosSystem {
        modules = [
          # Same attribute as sops-nix's flake: migrating is swapping the input.
          nix-sops.nixosModules.sops
          ./nixos/hosts/server/configuration.nix
          { nixpkgs.hostPlatform = "x86_64-linux"; }
        ];
      };
    };
}
