# home-manager with a GnuPG home: the user unit waits for the graphical session, SOPS_GPG_EXEC.
{
  kind = "homeManager";
  config = {
    xdg.configHome = "/home/alice/.config";
    sops = {
      defaultSopsFile = "/home/alice/secrets.yaml";
      validateSopsFiles = false;
      gnupg.home = "/home/alice/.gnupg";
      secrets.token = { };
    };
  };
}
