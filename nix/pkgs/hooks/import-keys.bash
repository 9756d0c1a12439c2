# shellcheck shell=bash
# sops-import-keys-hook (see ./import-keys.nix). @gpg@ is substituted by makeSetupHook.

_sopsImportKeyFile() {
  @gpg@ --quiet --import "$1"
}

# Calls $1 with every key file: each of sopsPGPKeys that exists (a missing one is reported, not
# fatal: a fresh checkout may lack a key), then every *.gpg / *.asc under sopsPGPKeyDirs.
_sopsForEachKey() {
  local key dir
  for key in ${sopsPGPKeys-}; do
    if [[ -f "$key" ]]; then
      "$1" "$key"
    else
      echo "$key does not exists" >&2
    fi
  done
  for dir in ${sopsPGPKeyDirs-}; do
    while IFS= read -r -d '' key; do
      "$1" "$key"
    done < <(find -L "$dir" -type f \( -name '*.gpg' -o -name '*.asc' \) -print0)
  done
}

sopsImportKeysHook() {
  # A project keyring keeps server keys out of the user's own.
  if [[ -n "${sopsCreateGPGHome-}" ]]; then
    export GNUPGHOME="${sopsGPGHome:-$(pwd)/.git/gnupg}"
    # Only the keyring itself must be private; its parents (.git) already exist.
    # shellcheck disable=SC2174
    mkdir -m 700 -p "$GNUPGHOME"
  fi
  _sopsForEachKey _sopsImportKeyFile
}

# Runs before the shell's own shellHook, which may already use the keys.
if [[ -z "${shellHook-}" ]]; then
  shellHook=sopsImportKeysHook
else
  shellHook="sopsImportKeysHook;${shellHook}"
fi
