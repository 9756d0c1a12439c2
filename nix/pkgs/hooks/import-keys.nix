# Setup hook for mkShell: imports the PGP keys named by `sopsPGPKeys` (files) and
# `sopsPGPKeyDirs` (every *.gpg / *.asc below them) into gpg, optionally into a keyring of the
# project's own (`sopsCreateGPGHome`, at `sopsGPGHome` or .git/gnupg). sops-nix's attribute names
# and behaviour; the script is ./import-keys.bash.
{
  makeSetupHook,
  gnupg,
  sops,
}:
makeSetupHook {
  name = "sops-import-keys-hook";
  substitutions.gpg = "${gnupg}/bin/gpg";
  propagatedBuildInputs = [
    sops
    gnupg
  ];
} ./import-keys.bash
