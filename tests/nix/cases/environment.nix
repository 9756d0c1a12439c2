# sops.environment and age.plugins: exported around the installer call in setupSecrets and
# setupSecretsForUsers (the plugins' bin directories as PATH), next to sops-nix's HOME.
{
  kind = "nixos";
  config = {
    sops = {
      defaultSopsFile = "/srv/s.yaml";
      validateSopsFiles = false;
      age.keyFile = "/var/lib/sops-nix/key.txt";
      age.plugins = [
        {
          type = "derivation";
          name = "age-plugin-yubikey";
          outPath = "/nix/store/00000000000000000000000000000000-age-plugin-yubikey";
        }
      ];
      environment.SOPS_AGE_KEY_CMD = "echo key";
      secrets.a = { };
      secrets.b.neededForUsers = true;
    };
  };
}
