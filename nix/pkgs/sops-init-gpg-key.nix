# sops-init-gpg-key: generates a passphrase-less GPG key for a host (sops-nix's tool, same CLI:
# --hostname, --gpghome (default /root/.gnupg), --keytype RSA|Curve25519), prints its public key
# and fingerprint on stderr and moves the new keyring to --gpghome, which must not exist yet.
{
  lib,
  stdenvNoCC,
  makeWrapper,
  gnupg,
  coreutils,
  util-linux,
  # unixtools: a hostname that builds on Linux and macOS alike.
  unixtools,
}:
stdenvNoCC.mkDerivation {
  pname = "sops-init-gpg-key";
  version = "0.1.0";
  src = ./sops-init-gpg-key;
  dontUnpack = true;
  nativeBuildInputs = [ makeWrapper ];
  installPhase = ''
    install -m755 -D $src $out/bin/sops-init-gpg-key
    wrapProgram $out/bin/sops-init-gpg-key --prefix PATH : ${
      lib.makeBinPath [
        coreutils
        util-linux
        gnupg
        unixtools.hostname
      ]
    }
  '';
  doInstallCheck = true;
  installCheckPhase = ''
    $out/bin/sops-init-gpg-key --hostname server01 --gpghome "$TMPDIR/key"
  '';
  meta = {
    description = "Generate a GPG key for a host, for sops";
    mainProgram = "sops-init-gpg-key";
    license = lib.licenses.mit;
    platforms = lib.platforms.unix;
  };
}
