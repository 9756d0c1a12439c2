# No secrets and no defaultSopsFile: the module still builds an (empty) manifest and asserts
# nothing, as sops-nix does (system.build.sops-nix-manifest always exists).
{
  kind = "nixos";
  config = {
    sops = { };
  };
}
