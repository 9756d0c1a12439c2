# validateSopsFiles (the default): a path-typed sopsFile is copied to the store and hashed.
{
  kind = "nixos";
  config = {
    sops = {
      defaultSopsFile = ../../../nix/checks/test-assets/secrets.yaml;
      age.keyFile = "/var/lib/sops-nix/key.txt";
      secrets.test_key = { };
    };
  };
}
