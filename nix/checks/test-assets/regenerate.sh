#!/usr/bin/env bash
# Regenerates the VM-test fixtures with the real tools: age-keygen, ssh-keygen, gpg and the Go
# sops (scripts/install-peers prints its path). TEST KEYS ONLY: they are public in this repo.
#
#   age-keys.txt            age identity (sops.age.keyFile)
#   ssh-ed25519-key{,.pub}  host key (sops.age.sshKeyPaths, converted as ssh-to-age does)
#   key.asc                 armored PGP secret key, no passphrase (imported into sops.gnupg.home)
#   secrets.yaml            test_key: test_value, nested.test.file: another value — encrypted to all three
#   ssh-rsa-key             RSA host key (sops.gnupg.sshKeyPaths, the `ssh-keys` test)
#   ssh-rsa-secrets.yaml    test_key: test_value — encrypted only to the OpenPGP key nix-sops
#                           derives from ssh-rsa-key as sops-nix does (creation time 0)
#
# `regenerate.sh rsa` makes only the last two (the others stay as they are).
set -euo pipefail
cd "$(dirname "$0")"
repo="$(cd ../../.. && pwd)"
sops="${SOPS:-$("$repo/scripts/install-peers" | tail -n1)}"

regenerate_rsa() {
  rm -f ssh-rsa-key ssh-rsa-key.pub ssh-rsa-secrets.yaml
  ssh-keygen -q -t rsa -b 4096 -N "" -C "nix-sops VM test RSA host key" -f ssh-rsa-key
  rm ssh-rsa-key.pub
  local home pub fpr
  home="$(mktemp -d)"
  # The public half of the derived key, printed by nix-sops's own conversion (src/keys/pgp.rs).
  pub="$(cd "$repo" && NIX_SOPS_RSA_KEY="$PWD/nix/checks/test-assets/ssh-rsa-key" \
    cargo test --quiet --test nix_module -- --ignored --exact print_pgp_public_key_of_rsa_host_key --nocapture 2>/dev/null |
    sed -n '/-----BEGIN PGP PUBLIC KEY BLOCK-----/,/-----END PGP PUBLIC KEY BLOCK-----/p')"
  test -n "$pub" || { echo "could not derive the PGP key of ssh-rsa-key" >&2; exit 1; }
  printf '%s\n' "$pub" | gpg --homedir "$home" --batch --quiet --import
  fpr="$(gpg --homedir "$home" --batch --with-colons --list-keys | awk -F: '/^fpr:/ {print $10; exit}')"
  printf 'test_key: test_value\n' > ssh-rsa-secrets.yaml
  GNUPGHOME="$home" HOME="$home" SOPS_DISABLE_VERSION_CHECK=1 "$sops" encrypt --in-place --pgp "$fpr" ssh-rsa-secrets.yaml
  rm -rf "$home"
  echo "regenerated ssh-rsa-key and ssh-rsa-secrets.yaml; pgp $fpr"
}

if [ "${1:-}" = rsa ]; then
  regenerate_rsa
  exit 0
fi

rm -f age-keys.txt ssh-ed25519-key ssh-ed25519-key.pub key.asc secrets.yaml
age-keygen -o age-keys.txt 2>/dev/null
age_recipient="$(age-keygen -y age-keys.txt)"
ssh-keygen -q -t ed25519 -N "" -C "nix-sops VM test host key" -f ssh-ed25519-key
ssh_recipient="$("$repo/nix/scripts/ed25519-to-age" < ssh-ed25519-key.pub)"

gnupghome="$(mktemp -d)"
trap 'rm -rf "$gnupghome"' EXIT
export GNUPGHOME="$gnupghome"
gpg --batch --quiet --passphrase '' --quick-gen-key "nix-sops test <test@nix-sops.invalid>" rsa3072 default never
fpr="$(gpg --batch --with-colons --list-secret-keys | awk -F: '/^fpr:/ {print $10; exit}')"
gpg --batch --quiet --passphrase "" --quick-add-key "$fpr" rsa3072 encr never
gpg --batch --quiet --armor --export-secret-keys "$fpr" > key.asc

printf 'test_key: test_value\nnested:\n  test:\n    file: another value\n' > secrets.yaml
HOME="$gnupghome" SOPS_DISABLE_VERSION_CHECK=1 "$sops" encrypt --in-place \
  --age "$age_recipient,$ssh_recipient" --pgp "$fpr" secrets.yaml
echo "regenerated; age $age_recipient, ssh $ssh_recipient, pgp $fpr"
regenerate_rsa
