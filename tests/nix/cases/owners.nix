# owner → group from users.users.<owner>.group; uid/gid without names; explicit group; a custom
# path (the installer symlinks it); restart and reload units.
{
  kind = "nixos";
  config = {
    users.users.postgres.group = "postgres-grp";
    users.users.alice.group = "users";
    sops = {
      defaultSopsFile = "/srv/s.yaml";
      validateSopsFiles = false;
      gnupg.home = "/root/.gnupg";
      gnupg.sshKeyPaths = [ ];
      secrets.database_password = {
        owner = "postgres";
        mode = "0440";
        restartUnits = [ "postgresql.service" ];
        reloadUnits = [ "nginx.service" ];
      };
      secrets.ssh_private_key = {
        owner = "alice";
        group = "wheel";
        path = "/home/alice/.ssh/id_ed25519";
      };
      secrets.numeric = {
        uid = 1001;
        gid = 1002;
      };
    };
  };
}
