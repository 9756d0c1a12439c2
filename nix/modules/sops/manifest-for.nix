# `manifestFor suffix secrets templates extraJson` → the manifest file in the store, checked at
# build time by the installer itself (-check-mode=sopsfile, or manifest when sops files are not
# validated), so a wrong key path or format fails `nixos-rebuild build`, not the activation.
# The JSON comes from ../../lib/manifest.nix, which needs no nixpkgs.
{
  writeTextFile,
  cfg,
  lib,
}:

suffix: secrets: templates: extraJson:

writeTextFile {
  name = "manifest${suffix}.json";
  text = builtins.toJSON (
    (import ../../lib/manifest.nix { inherit lib; }).nixos {
      inherit
        cfg
        secrets
        templates
        extraJson
        ;
    }
  );
  checkPhase = ''
    ${cfg.validationPackage}/bin/sops-install-secrets -check-mode=${
      if cfg.validateSopsFiles then "sopsfile" else "manifest"
    } "$out"
  '';
}
