# Nested names and keys, a custom name, defaultSopsKey/defaultSopsFormat, per-secret sopsFile,
# format and mode; global knobs (keepGenerations, log, useTmpfs) reach the manifest.
{
  kind = "nixos";
  config = {
    sops = {
      defaultSopsFile = "/srv/secrets/default.yaml";
      defaultSopsFormat = "json";
      validateSopsFiles = false;
      age.keyFile = "/var/lib/sops-nix/key.txt";
      keepGenerations = 0;
      log = [ "secretChanges" ];
      useTmpfs = true;
      secrets."db/password" = { format = "yaml"; };
      secrets.api = {
        name = "services/api/token";
        key = "api/token";
        sopsFile = "/srv/secrets/api.json";
        mode = "0440";
      };
      secrets.whole = {
        key = "";
        format = "binary";
        sopsFile = "/srv/secrets/blob.bin";
      };
    };
  };
}
