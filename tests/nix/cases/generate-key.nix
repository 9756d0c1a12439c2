# age.generateKey: the generate-age-key activation script, and setupSecrets ordered after it.
{
  kind = "nixos";
  config = {
    sops = {
      defaultSopsFile = "/srv/s.yaml";
      validateSopsFiles = false;
      age.keyFile = "/var/lib/sops-nix/key.txt";
      age.generateKey = true;
      secrets.a = { };
    };
  };
}
