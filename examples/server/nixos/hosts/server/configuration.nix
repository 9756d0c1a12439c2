# An example server: six secrets from ../../secrets/secrets.yaml, each consumed the way its
# service expects — always by path (config.sops.secrets.<name>.path), never by value, so no
# secret ever lands in the world-readable Nix store.
{ config, pkgs, ... }:
let
  secrets = config.sops.secrets;
in
{
  # --- sops ---------------------------------------------------------------------------------
  sops = {
    defaultSopsFile = ../../secrets/secrets.yaml;
    # The server decrypts with its SSH host key (the default whenever services.openssh is on:
    # sops.age.sshKeyPaths = [ "/etc/ssh/ssh_host_ed25519_key" ]). Alternatively:
    # age.keyFile = "/var/lib/sops-nix/key.txt";

    # The server's public host key (`ssh-keyscan -t ed25519 server | cut -d' ' -f2-`): the
    # build then checks that the server can decrypt every sops file it uses, instead of finding
    # out at activation (EXAMPLE key: ../../../keys/ssh_host_ed25519_key.pub).
    hostPubKeys = [
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOeWyBXFZRWtzhOmNHVGXWjaEPeZnVzYBipMIl664OFQ"
    ];

    secrets = {
      # A service's key file, handed over as a systemd credential.
      github_token = {
        restartUnits = [ "github-sync.service" ];
      };
      # An interactive token for the admin's shells (see environment.sessionVariables below).
      GITHUB_TOKEN = {
        owner = "admin";
      };
      # A database password file, readable by postgres only.
      database_password = {
        owner = "postgres";
        restartUnits = [ "app-db-password.service" ];
      };
      # An SSH IdentityFile for root's git fetches.
      ssh_private_key = {
        mode = "0400";
      };
      # WireGuard and Tailscale read their keys from files.
      wireguard_private_key = { };
      tailscale_auth_key = { };
    };
  };

  # --- consumers ----------------------------------------------------------------------------

  # github_token: a service's key file, via LoadCredential (the unit needs no read access to
  # /run/secrets and may run as a dynamic user).
  systemd.services.github-sync = {
    description = "Mirror repositories from GitHub (example)";
    after = [ "network-online.target" ];
    wants = [ "network-online.target" ];
    serviceConfig = {
      Type = "oneshot";
      DynamicUser = true;
      LoadCredential = [ "github_token:${secrets.github_token.path}" ];
    };
    path = [ pkgs.curl ];
    script = ''
      curl --fail --silent -H "Authorization: Bearer $(< "$CREDENTIALS_DIRECTORY/github_token")" \
        https://api.github.com/user > /dev/null
    '';
  };

  # GITHUB_TOKEN: the *path* goes into the session environment; the value is read at login, so
  # it never appears in a Nix option (and thus never in the store).
  environment.sessionVariables.GITHUB_TOKEN_FILE = secrets.GITHUB_TOKEN.path;
  environment.interactiveShellInit = ''
    if [ -r "$GITHUB_TOKEN_FILE" ]; then export GITHUB_TOKEN="$(< "$GITHUB_TOKEN_FILE")"; fi
  '';

  # database_password: a password file applied to the app's database role.
  services.postgresql = {
    enable = true;
    ensureDatabases = [ "app" ];
    ensureUsers = [
      {
        name = "app";
        ensureDBOwnership = true;
      }
    ];
  };
  systemd.services.app-db-password = {
    description = "Set the app database role's password from sops";
    after = [ "postgresql.service" ];
    requires = [ "postgresql.service" ];
    wantedBy = [ "multi-user.target" ];
    serviceConfig = {
      Type = "oneshot";
      User = "postgres";
    };
    path = [ config.services.postgresql.package ];
    # Through stdin, so the password is not on a command line.
    script = ''
      printf "ALTER ROLE app PASSWORD '%s';\n" "$(< ${secrets.database_password.path})" | psql -q
    '';
  };

  # ssh_private_key: an IdentityFile for git over SSH.
  programs.ssh.extraConfig = ''
    Host git.example.com
      IdentityFile ${secrets.ssh_private_key.path}
      IdentitiesOnly yes
  '';

  # wireguard_private_key
  networking.wireguard.interfaces.wg0 = {
    ips = [ "10.100.0.1/24" ];
    listenPort = 51820;
    privateKeyFile = secrets.wireguard_private_key.path;
    peers = [
      {
        # EXAMPLE peer
        publicKey = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
        allowedIPs = [ "10.100.0.2/32" ];
      }
    ];
  };

  # tailscale_auth_key
  services.tailscale = {
    enable = true;
    authKeyFile = secrets.tailscale_auth_key.path;
  };

  # --- the rest of a minimal host -----------------------------------------------------------
  networking.hostName = "server";
  services.openssh.enable = true; # its ed25519 host key decrypts the secrets
  users.users.admin = {
    isNormalUser = true;
    extraGroups = [ "wheel" ];
  };
  boot.loader.grub.device = "nodev";
  fileSystems."/" = {
    device = "/dev/disk/by-label/nixos";
    fsType = "ext4";
  };
  system.stateVersion = "25.11";
}
