# Evaluates a whole NixOS system with the module and builds its manifests: the build runs the
# installer's `-check-mode=sopsfile` on them, so key paths missing from the sops file fail here.
{
  lib,
  runCommand,
  jq,
  nixosSystem,
  nixosModule,
  system,
}:
let
  testAssets = ./test-assets;
  eval = nixosSystem {
    modules = [
      nixosModule
      { nixpkgs.hostPlatform = system; }
      (
        { config, ... }:
        {
          boot.loader.grub.enable = false;
          fileSystems."/".device = "/dev/null";
          system.stateVersion = lib.trivial.release;
          users.users.someuser = {
            isSystemUser = true;
            group = "somegroup";
          };
          users.groups.somegroup = { };
          sops = {
            age.keyFile = "/var/lib/sops-nix/key.txt";
            defaultSopsFile = testAssets + "/secrets.yaml";
            secrets.test_key.owner = "someuser";
            secrets."nested/test/file".neededForUsers = true;
            templates."app.env".content = "KEY=${config.sops.placeholder.test_key}\n";
          };
        }
      )
    ];
  };
  inherit (eval.config.system.build) sops-nix-manifest sops-nix-users-manifest;
in
runCommand "nix-sops-module-eval"
  {
    nativeBuildInputs = [ jq ];
    manifest = sops-nix-manifest;
    usersManifest = sops-nix-users-manifest;
    activate = eval.config.system.activationScripts.setupSecrets.text;
  }
  ''
    jq -e '.secrets | map(.name) == ["test_key"]' "$manifest"
    jq -e '.secrets[0].owner == "someuser" and .secrets[0].group == "somegroup"' "$manifest"
    jq -e '.templates[0].path == "/run/secrets/rendered/app.env"' "$manifest"
    jq -e '.symlinkPath == "/run/secrets-for-users" and (.secrets | map(.name)) == ["nested/test/file"]' "$usersManifest"
    grep -q "sops-install-secrets $manifest" <<<"$activate"
    touch "$out"
  ''
