# Templates: placeholders for every secret (including a neededForUsers one, which stays out of
# the users manifest's templates), owner → group, uid/gid, external path, explicit name.
let
  # The placeholder string sops-nix defines; the module case below uses the real option.
  placeholder = name: "<SOPS:${builtins.hashString "sha256" name}:PLACEHOLDER>";
  body = placeholderOf: {
    users.users.app.group = "appgrp";
    sops = {
      defaultSopsFile = "/srv/s.yaml";
      validateSopsFiles = false;
      age.keyFile = "/var/lib/sops-nix/key.txt";
      secrets.db_pass = { };
      secrets."api/key" = { };
      secrets.root_pw.neededForUsers = true;
      templates."app.env" = {
        content = "DB=${placeholderOf "db_pass"}\n";
        owner = "app";
        restartUnits = [ "app.service" ];
      };
      templates.linked = {
        name = "linked.conf";
        content = "key = x\n";
        path = "/etc/app/linked.conf";
        uid = 420;
        gid = 421;
        mode = "0440";
      };
    };
  };
in
{
  kind = "nixos";
  config = body placeholder;
  moduleConfig = { config, ... }: body (name: config.sops.placeholder.${name});
}
