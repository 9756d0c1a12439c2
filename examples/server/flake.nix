{
  description = "nix-sops example: a NixOS server with six secrets";

  inputs = {
    # This repository, so the example builds against the module next to it. Nix 2.26 and newer
    # re-read a relative path on every evaluation; older Nix locks it by content hash in
    # flake.lock and keeps using that copy after the checkout changes: run
    # `nix flake update nix-sops` there after each change. In your own flake point at your
    # checkout instead, e.g. "git+file:///srv/src/nix-sops" (locked by commit).
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
