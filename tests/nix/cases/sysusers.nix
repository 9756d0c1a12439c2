# systemd.sysusers: the installer runs as the units sops-install-secrets and
# sops-install-secrets-for-users, ordered as sops-nix orders them, with the environment and
# SOPS_RESTART_UNITS_VIA_SYSTEMCTL; no activation scripts.
{
  kind = "nixos";
  config = {
    systemd.sysusers.enable = true;
    sops = {
      defaultSopsFile = "/srv/s.yaml";
      validateSopsFiles = false;
      age.keyFile = "/var/lib/sops-nix/key.txt";
      environment.FOO = "bar";
      secrets.regular.restartUnits = [ "app.service" ];
      secrets.user_pw.neededForUsers = true;
    };
  };
}
