# home-manager: user mode, %r mount point, links under xdg.configHome, path by *attribute* name
# (sops-nix #687), no owner fields, templates under .../rendered/.
{
  kind = "homeManager";
  config = {
    xdg.configHome = "/home/alice/.config";
    sops = {
      defaultSopsFile = "/home/alice/secrets.yaml";
      validateSopsFiles = false;
      age.keyFile = "/home/alice/.config/sops/age/keys.txt";
      secrets.github_token = { };
      secrets.renamed = { name = "tokens/other"; };
      secrets.runtime = { path = "%r/app/token"; mode = "0600"; format = "json"; };
      templates."git-credentials".content = "token=x\n";
    };
  };
}
