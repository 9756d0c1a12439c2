#!/usr/bin/env bash
# Writes sops-nix-entry-points.json: the names sops-nix's flake and default.nix offer (see
# ./entry-points.nix), from a sops-nix checkout. Bare Nix, no nixpkgs needed:
#   tests/nix/sops-nix-entry-points.sh <sops-nix checkout>
# Last written from Mic92/sops-nix 56b2406.
set -euo pipefail
cd "$(dirname "$0")"
src="$(cd "${1:?usage: $0 <sops-nix checkout>}" && pwd)"
test -f "$src/modules/sops/default.nix" || {
  echo "$src has no modules/sops/default.nix: not a sops-nix checkout" >&2
  exit 1
}
nix-instantiate --eval --strict --json entry-points.nix --arg lib null --arg src "$src" |
  python3 -c 'import json, sys; json.dump(json.load(sys.stdin), sys.stdout, indent=1, sort_keys=True); print()' > sops-nix-entry-points.json
echo "wrote $(pwd)/sops-nix-entry-points.json"
