# A sops-nix user's shell.nix, as sops-nix's README writes it, with the fetched source passed in
# (`sops-nix`) so a test can swap it for this repository, and `pkgs` for a stub set.
{ pkgs, sops-nix }:
with pkgs;
mkShell {
  # imports all files ending in .asc/.gpg
  sopsPGPKeyDirs = [
    "${toString ./.}/keys/hosts"
    "${toString ./.}/keys/users"
  ];
  sopsCreateGPGHome = true;
  nativeBuildInputs = [
    (pkgs.callPackage sops-nix { }).sops-import-keys-hook
  ];
}
