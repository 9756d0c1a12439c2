#!/usr/bin/env bash
# Regenerates the VM-test fixtures with the real tools: age-keygen, ssh-keygen, gpg and the Go
# sops (scripts/install-peers prints its path). TEST KEYS ONLY: they are public in this repo.
#
#   age-keys.txt            age identity (sops.age.keyFile)
#   ssh-ed25519-key{,.pub}  host key (sops.age.sshKeyPaths, converted as ssh-to-age does)
#   key.asc                 armored PGP secret key, no passphrase (imported into sops.gnupg.home)
#   secrets.yaml            test_key: test_value, nested.test.file: another value — encrypted to all three
set -euo pipefail
cd "$(dirname "$0")"
repo="$(cd ../../.. && pwd)"
sops="${SOPS:-$("$repo/scripts/install-peers" | tail -n1)}"

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
