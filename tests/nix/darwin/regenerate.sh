#!/usr/bin/env bash
# Writes expected.json: what sops-nix's own nix-darwin module makes of ./cases.nix, evaluated by
# ./eval.nix (the same harness the test runs ours through). Needs a sops-nix checkout and a
# nixpkgs lib directory (nix-community/nixpkgs.lib's lib/):
#   tests/nix/darwin/regenerate.sh <sops-nix checkout> <nixpkgs lib dir>
# Last written from Mic92/sops-nix 56b2406 with nixpkgs.lib de42d442.
set -euo pipefail
cd "$(dirname "$0")"
sops_nix="$(cd "${1:?usage: $0 <sops-nix checkout> <nixpkgs lib dir>}" && pwd)"
lib="$(cd "${2:-${NIX_SOPS_NIXPKGS_LIB:?give a nixpkgs lib dir}}" && pwd)"
test -f "$sops_nix/modules/nix-darwin/default.nix" || {
  echo "$sops_nix has no modules/nix-darwin/default.nix: not a sops-nix checkout" >&2
  exit 1
}
nix-instantiate --eval --strict --json eval.nix --arg lib "$lib" --arg module "$sops_nix/modules/nix-darwin" |
  python3 -c 'import json, sys; json.dump(json.load(sys.stdin), sys.stdout, indent=1, sort_keys=True); print()' > expected.json
echo "wrote $(pwd)/expected.json"
