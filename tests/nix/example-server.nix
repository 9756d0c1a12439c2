# The example server's configuration.nix, evaluated with bare Nix: its `sops` block resolved by
# nix/lib/resolve.nix (the module's defaults) and fed back as `config`, so the test can check
# which secret path each consumer got. Stubs stand in for nixpkgs (only names are needed).
let
  host = import ../../examples/server/nixos/hosts/server/configuration.nix;
  fakePkg = name: "/nix/store/00000000000000000000000000000000-${name}";
  evaluated = host {
    config = {
      sops.secrets = resolved.cfg.secrets;
      services.postgresql.package = fakePkg "postgresql";
    };
    pkgs.curl = fakePkg "curl";
  };
  resolved = (import ../../nix/lib/resolve.nix).nixos {
    # validateSopsFiles stays on: the encrypted file must exist at the path the host names.
    inherit (evaluated) sops;
    users.users.postgres.group = "postgres";
    users.users.admin.group = "users";
    services.openssh = {
      enable = evaluated.services.openssh.enable;
      hostKeys = [
        {
          type = "ed25519";
          path = "/etc/ssh/ssh_host_ed25519_key";
        }
      ];
    };
  };
in
{
  manifest = resolved.manifest;
  consumers = {
    github_token = evaluated.systemd.services.github-sync.serviceConfig.LoadCredential;
    GITHUB_TOKEN = evaluated.environment.sessionVariables.GITHUB_TOKEN_FILE;
    database_password = evaluated.systemd.services.app-db-password.script;
    ssh_private_key = evaluated.programs.ssh.extraConfig;
    wireguard_private_key = evaluated.networking.wireguard.interfaces.wg0.privateKeyFile;
    tailscale_auth_key = evaluated.services.tailscale.authKeyFile;
  };
}
