# Sample nix-darwin configurations, evaluated through both sops-nix's darwin module and ours by
# ./eval.nix. Each is a module; ./secrets.yaml stands in for a sops file (only its store path and
# hash end up in the outputs).
let
  sopsFile = ./secrets.yaml;
in
{
  # sops-nix's own darwin check (checks/darwin.nix): a secret, templates with uid/gid, generateKey.
  sops-nix-check =
    { config, ... }:
    {
      sops.secrets.test_key = { };
      sops.templates."template.toml".content = ''
        password = "${config.sops.placeholder.test_key}";
      '';
      sops.templates."template-with-uid.toml" = {
        content = ''
          password = "${config.sops.placeholder.test_key}";
        '';
        uid = 1000;
      };
      sops.templates."template-with-gid.toml" = {
        content = ''
          password = "${config.sops.placeholder.test_key}";
        '';
        gid = 1000;
      };
      sops.defaultSopsFile = sopsFile;
      sops.age.generateKey = true;
      sops.age.keyFile = "/var/lib/sops-nix/key.txt";
    };

  # The defaults: root:staff, host keys from /etc/ssh, no keyFile.
  defaults = {
    sops.defaultSopsFile = sopsFile;
    sops.secrets.a = { };
    sops.secrets."nested/b" = { };
  };

  # Owners, ids, formats, keys, custom paths, a neededForUsers secret, environment and plugins.
  everything =
    { config, ... }:
    {
      sops = {
        defaultSopsFile = sopsFile;
        defaultSopsFormat = "json";
        validateSopsFiles = false;
        keepGenerations = 3;
        log = [ "secretChanges" ];
        age.keyFile = "/Users/admin/.config/sops/age/keys.txt";
        age.sshKeyPaths = [ ];
        age.plugins = [
          {
            type = "derivation";
            name = "age-plugin-yubikey";
            outPath = "/nix/store/00000000000000000000000000000000-age-plugin-yubikey";
          }
        ];
        environment.SOPS_AGE_KEY_CMD = "echo key";
        secrets = {
          owned = {
            owner = "admin";
            group = "admin";
            mode = "0440";
          };
          by_id = {
            owner = null;
            group = null;
            uid = 501;
            gid = 20;
            key = "other/key";
            format = "yaml";
          };
          blob = {
            format = "binary";
            sopsFile = "/etc/blob.bin";
            path = "/etc/blob";
          };
          user_pw.neededForUsers = true;
        };
        templates.owned = {
          owner = "admin";
          content = "x=${config.sops.placeholder.owned}\n";
          mode = "0440";
        };
        templates.named = {
          name = "named.conf";
          path = "/etc/named.conf";
          content = "y\n";
        };
      };
    };

  # gnupg.home (the rsa host key default must then be emptied, as sops-nix asks).
  gnupg = {
    sops = {
      defaultSopsFile = sopsFile;
      gnupg.home = "/var/root/.gnupg";
      gnupg.sshKeyPaths = [ ];
      age.sshKeyPaths = [ ];
      secrets.a = { };
    };
  };

  # Assertions: gnupg.home with the default sshKeyPaths, uid with owner, a non-root
  # neededForUsers secret, a template with owner and uid.
  failing = {
    sops = {
      defaultSopsFile = sopsFile;
      gnupg.home = "/var/root/.gnupg";
      secrets.a.uid = 5;
      secrets.u = {
        neededForUsers = true;
        owner = "admin";
        uid = 7;
      };
      templates.t = {
        owner = "admin";
        uid = 3;
      };
    };
  };

  # Nothing configured: no daemon, no activation text, the empty manifest.
  empty = { };
}
