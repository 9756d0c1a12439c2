{
  description = "nix-sops: a Rust drop-in replacement for sops-nix (NixOS and home-manager modules, sops-install-secrets)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixpkgs-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        # Linux only: nothing here has been built on macOS, and system installs on macOS need
        # sops-nix's hdiutil RAM disk, which nix-sops does not have (README, "Limitations").
        "x86_64-linux"
        "aarch64-linux"
      ];
      eachSystem = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      # sops-nix's overlay names (sops-install-secrets, sops-init-gpg-key, sops-pgp-hook,
      # sops-import-keys-hook, ssh-to-pgp passed through) plus nix-sops.
      overlays.default =
        final: prev:
        let
          ours = import ./nix/pkgs { pkgs = final; };
        in
        {
          inherit (ours)
            nix-sops
            sops-install-secrets
            sops-init-gpg-key
            sops-pgp-hook
            sops-import-keys-hook
            ;
          inherit (prev) ssh-to-pgp;
        };

      # Same attribute names as sops-nix's flake, so swapping the input is the whole migration.
      nixosModules = {
        sops = ./nix/modules/sops;
        default = self.nixosModules.sops;
      };
      homeManagerModules = {
        sops = ./nix/modules/home-manager/sops.nix;
        default = self.homeManagerModules.sops;
      };
      homeManagerModule = self.homeManagerModules.sops;
      homeModules = self.homeManagerModules;
      darwinModules = {
        sops = ./nix/modules/nix-darwin;
        default = self.darwinModules.sops;
      };

      # Bare-Nix helpers: the manifest as an attrset, without nixpkgs (see nix/lib/resolve.nix).
      lib = {
        manifest = import ./nix/lib/manifest.nix { inherit lib; };
        resolve = import ./nix/lib/resolve.nix;
      };

      # The same set as default.nix (sops-nix's package names, ssh-to-pgp from nixpkgs).
      packages = eachSystem (pkgs: import ./nix/pkgs { inherit pkgs; });

      devShells = eachSystem (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${pkgs.stdenv.hostPlatform.system}.default ];
          packages = [
            pkgs.cargo
            pkgs.rustc
            pkgs.clippy
            pkgs.rustfmt
            pkgs.sops
            pkgs.age
            pkgs.ssh-to-age
            pkgs.gnupg
            pkgs.nixfmt-tree
          ];
        };
      });

      checks = eachSystem (
        pkgs:
        {
          cargo-tests = pkgs.callPackage ./nix/checks/cargo-tests.nix { };
        }
        // lib.optionalAttrs pkgs.stdenv.isLinux (
          {
            # The example server's manifest, built (and so checked against its sops file by the
            # installer) without building the whole system.
            example-server-manifest =
              (lib.nixosSystem {
                modules = [
                  self.nixosModules.sops
                  ./examples/server/nixos/hosts/server/configuration.nix
                  { nixpkgs.hostPlatform = pkgs.stdenv.hostPlatform.system; }
                ];
              }).config.system.build.sops-nix-manifest;
            module-eval = pkgs.callPackage ./nix/checks/module-eval.nix {
              inherit (lib) nixosSystem;
              inherit (pkgs.stdenv.hostPlatform) system;
              nixosModule = self.nixosModules.sops;
            };
          }
          // removeAttrs (pkgs.callPackage ./nix/checks/nixos-tests.nix {
            nixosModule = self.nixosModules.sops;
          }) [ "override" "overrideDerivation" ]
        )
      );

      # nixfmt-tree formats the whole tree when `nix fmt` passes no file (plain nixfmt would wait
      # on stdin).
      formatter = eachSystem (pkgs: pkgs.nixfmt-tree);
    };
}
