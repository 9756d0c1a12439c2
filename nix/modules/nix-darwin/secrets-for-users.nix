# neededForUsers secrets on nix-darwin: their own manifest under /run/secrets-for-users, installed
# with -ignore-passwd (as sops-nix; nix-darwin sets no passwords from them, see the option).
{
  lib,
  config,
  pkgs,
  ...
}:
let
  cfg = config.sops;
  darwin = import ./lib.nix { inherit lib pkgs cfg; };
  secretsForUsers = lib.filterAttrs (_: s: s.neededForUsers) cfg.secrets;
  manifestForUsers = darwin.manifestFor "-for-users" secretsForUsers { } {
    secretsMountPoint = "/run/secrets-for-users.d";
    symlinkPath = "/run/secrets-for-users";
  };
  installScript = ''
    echo "Setting up secrets for users"
    ${darwin.withEnvironment "${cfg.package}/bin/sops-install-secrets -ignore-passwd ${manifestForUsers}"}
  '';
in
{
  assertions = [
    {
      assertion =
        lib.filterAttrs (
          _: s: (s.uid != 0 && s.owner != "root") || (s.gid != 0 && s.group != "root")
        ) secretsForUsers == { };
      message = "neededForUsers cannot be used for secrets that are not root-owned";
    }
  ];

  system.activationScripts = lib.mkIf (secretsForUsers != { }) {
    postActivation.text = lib.mkAfter installScript;
  };
  launchd.daemons.sops-install-secrets-for-users = lib.mkIf (secretsForUsers != { }) (
    darwin.daemon installScript
  );
  system.build.sops-nix-users-manifest = manifestForUsers;
}
