# One secret, everything defaulted; host keys from services.openssh (the /run/secrets key is
# skipped: sops cannot need a key it deploys itself).
{
  kind = "nixos";
  config = {
    services.openssh = {
      enable = true;
      hostKeys = [
        { type = "rsa"; path = "/etc/ssh/ssh_host_rsa_key"; }
        { type = "ed25519"; path = "/etc/ssh/ssh_host_ed25519_key"; }
        { type = "ed25519"; path = "/run/secrets/deployed_host_key"; }
      ];
    };
    sops = {
      defaultSopsFile = "/var/lib/secrets/secrets.yaml";
      validateSopsFiles = false;
      secrets.github_token = { };
    };
  };
}
