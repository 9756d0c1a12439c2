# home-manager with age.generateKey, an age plugin and an extra environment variable: the user
# script makes the key first; the plugin's bin directory is on the unit's PATH.
{
  kind = "homeManager";
  config = {
    xdg.configHome = "/home/alice/.config";
    home.homeDirectory = "/home/alice";
    home.username = "alice";
    sops = {
      defaultSopsFile = "/home/alice/secrets.yaml";
      validateSopsFiles = false;
      age.keyFile = "/home/alice/.config/sops/age/keys.txt";
      age.generateKey = true;
      age.plugins = [
        {
          type = "derivation";
          name = "age-plugin-yubikey";
          outPath = "/nix/store/00000000000000000000000000000000-age-plugin-yubikey";
        }
      ];
      environment.SOPS_AGE_KEY_CMD = "echo key";
      secrets.token = { };
    };
  };
}
