# Setup hook for mkShell: like ./import-keys.nix, and also exports SOPS_PGP_FP (the primary
# fingerprint of every imported key, comma-separated) so `sops` encrypts to them. No
# sopsCreateGPGHome here, as in sops-nix.
{
  makeSetupHook,
  gnupg,
  sops,
}:
makeSetupHook {
  name = "sops-pgp-hook";
  substitutions.gpg = "${gnupg}/bin/gpg";
  propagatedBuildInputs = [
    sops
    gnupg
  ];
} ./pgp.bash
