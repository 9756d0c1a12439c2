# neededForUsers: the secret moves to /run/secrets-for-users and into the users manifest only;
# a custom name keeps the split; an explicit path wins.
{
  kind = "nixos";
  config = {
    sops = {
      defaultSopsFile = "/srv/s.yaml";
      validateSopsFiles = false;
      age.keyFile = "/var/lib/sops-nix/key.txt";
      secrets.regular = { };
      secrets.alice_pw = {
        neededForUsers = true;
        name = "passwords/alice";
      };
      secrets.bob_pw = {
        neededForUsers = true;
        path = "/etc/bob-password";
      };
    };
  };
}
