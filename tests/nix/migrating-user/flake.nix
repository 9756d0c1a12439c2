# A sops-nix user's flake with a devShell on the hooks; the test calls `outputs` with this
# repository's flake outputs as the `sops-nix` input (and a stub nixpkgs).
{
  inputs.sops-nix.url = "github:Mic92/sops-nix";
  outputs =
    { nixpkgs, sops-nix, ... }:
    let
      system = "x86_64-linux";
      pkgs = nixpkgs.legacyPackages.${system};
    in
    {
      devShells.${system}.default = pkgs.mkShell {
        sopsPGPKeys = [
          "./keys/users/admin.asc"
          "./keys/hosts/missing.asc"
        ];
        sopsGPGHome = "./.gnupg";
        sopsCreateGPGHome = "1";
        nativeBuildInputs = [
          sops-nix.packages.${system}.sops-import-keys-hook
          sops-nix.packages.${system}.sops-pgp-hook
        ];
      };
      nixosConfigurations.host.modules = [ sops-nix.nixosModules.sops ];
      homeConfigurations.me.modules = [ sops-nix.homeManagerModules.sops ];
      darwinConfigurations.mac.modules = [ sops-nix.darwinModules.sops ];
      overlays = [ sops-nix.overlays.default ];
    };
}
