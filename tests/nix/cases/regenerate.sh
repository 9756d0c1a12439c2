#!/usr/bin/env bash
# Writes ./<case>.json for every ./<case>.nix: what sops-nix's own module (modules/sops for kind
# "nixos", modules/home-manager/sops.nix for "homeManager") makes of the case — the manifests,
# the harness's other outputs (activation scripts, units, environment, paths, assertions) and
# every file the module writes — evaluated by tests/nix/module.nix, the harness
# tests/nix_module.rs runs our module through, with the same stubs and sops.package set to one
# fake store path. Generated: do not edit the JSON by hand.
#
#   tests/nix/cases/regenerate.sh <sops-nix checkout> <nixpkgs lib dir>
#
# Both are plain source trees. With the search tool, `fetch` github:Mic92/sops-nix and
# github:nix-community/nixpkgs.lib (bare mirrors under /work/.mirror), then export them:
#   mkdir /tmp/sops-nix /tmp/nixpkgs.lib
#   git --git-dir=/work/.mirror/Mic92+sops-nix/repo archive HEAD | tar -x -C /tmp/sops-nix
#   git --git-dir=/work/.mirror/nix-community+nixpkgs.lib/repo archive HEAD | tar -x -C /tmp/nixpkgs.lib
#   tests/nix/cases/regenerate.sh /tmp/sops-nix /tmp/nixpkgs.lib/lib
# (or `git clone` both from GitHub). The second argument is the lib/ directory, as
# NIX_SOPS_NIXPKGS_LIB; it defaults to $NIX_SOPS_NIXPKGS_LIB.
# Last written from Mic92/sops-nix 56b24064 with nixpkgs.lib de42d442.
#
# It also writes ../sops-nix-vm-output.json: the lines sops-nix's VM test restart-and-reload
# (checks/nixos-test.nix) expects the installer to print, in order (its `assertOutput` calls),
# for tests/install/e2e.rs to replay that scenario against.
#
# Store paths become the markers tests/nix_module.rs expands: a template's store file
# `@FILE@`, a placeholder `@PLACEHOLDER:<secret>@`, the store copy and SHA-256 of a repository
# file `@STORE:<repo path>@` / `@SHA256:<repo path>@`. sops-nix's home-manager module keeps its
# manifest in a let binding, so that one is read from the harness's file trace (traceFiles).
set -euo pipefail
cd "$(dirname "$0")"
sops_nix="$(cd "${1:?usage: $0 <sops-nix checkout> <nixpkgs lib dir>}" && pwd)"
lib="$(cd "${2:-${NIX_SOPS_NIXPKGS_LIB:?give a nixpkgs lib dir}}" && pwd)"
for m in modules/sops/default.nix modules/home-manager/sops.nix; do
  test -f "$sops_nix/$m" || {
    echo "$sops_nix has no $m: not a sops-nix checkout" >&2
    exit 1
  }
done
test -f "$lib/default.nix" || {
  echo "$lib has no default.nix: not a nixpkgs lib directory" >&2
  exit 1
}
exec python3 - "$sops_nix" "$lib" <<'EOF'
import hashlib, json, pathlib, re, subprocess, sys

sops_nix, lib = sys.argv[1:]
repo = pathlib.Path("../../..").resolve()
FAKE = "/nix/store/00000000000000000000000000000000-"
package = (
    '[ { sops.package = { type = "derivation"; name = "sops-install-secrets"; '
    f'outPath = "{FAKE}sops-install-secrets"; }}; }} ]'
)


def nix(*args):
    out = subprocess.run(
        ["nix-instantiate", *args], cwd=repo, capture_output=True, text=True
    )
    if out.returncode != 0:
        sys.exit(f"nix-instantiate {' '.join(args)} failed:\n{out.stderr}")
    return out


def evaluate(case, kind):
    """The harness's outputs for sops-nix's module, and the files it wrote (traced)."""
    module = "modules/sops" if kind == "nixos" else "modules/home-manager/sops.nix"
    harness = (
        f"import ./tests/nix/module.nix {{ lib = {lib}; case = ./tests/nix/cases/{case}.nix; "
        f"module = {sops_nix}/{module}; extraModules = {package}; traceFiles = true; }}"
    )
    if kind != "nixos":
        # sops-nix's home-manager module has no option holding its manifest: that one comes
        # from the trace, written when the user service's script is.
        harness = f'removeAttrs ({harness}) [ "manifest" "usersManifest" "checkPhase" ]'
    out = nix("--eval", "--strict", "--json", "-E", harness)
    return json.loads(out.stdout), traced(out.stderr)


def traced(stderr):
    """The files the module wrote (writeTextFile), by name."""
    files = {}
    for line in stderr.splitlines():
        if line.startswith("trace: {"):
            f = json.loads(line[len("trace: "):])
            name = f.pop("file")
            assert files.get(name, f) == f, f"{name} written twice, differently"
            files[name] = f
    return files


# Repository files a case may copy to the store: store path or SHA-256 → marker.
tracked = subprocess.run(
    ["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True
).stdout.split()


def repo_marker(s):
    if m := re.fullmatch(r"/nix/store/[0-9a-z]{32}-(.+)", s):
        for path in (p for p in tracked if pathlib.Path(p).name == m.group(1)):
            store = subprocess.run(
                ["nix-store", "--add", str(repo / path)],
                capture_output=True, text=True, check=True,
            ).stdout.strip()
            if s == store:
                return f"@STORE:{path}@"
    elif re.fullmatch(r"[0-9a-f]{64}", s):
        for path in tracked:
            if (repo / path).is_file() and hashlib.sha256((repo / path).read_bytes()).hexdigest() == s:
                return f"@SHA256:{path}@"
    return None


def normalise(v, names):
    if isinstance(v, dict):
        out = {k: normalise(x, names) for k, x in v.items()}
        if "file" in out and "content" in out:  # a template: its store file
            assert v["file"] == FAKE + v["name"], v["file"]
            out["file"] = "@FILE@"
        return out
    if isinstance(v, list):
        return [normalise(x, names) for x in v]
    if isinstance(v, str):
        marker = repo_marker(v)
        if marker:
            return marker
        if re.search(r"/nix/store/(?!0{32}-)", v):
            sys.exit(f"unexpected store path in {v!r}")

        def placeholder(m):
            if m.group(1) not in names:
                sys.exit(f"placeholder of an unknown secret: {m.group(0)}")
            return f"@PLACEHOLDER:{names[m.group(1)]}@"

        return re.sub(r"<SOPS:([0-9a-f]{64}):PLACEHOLDER>", placeholder, v)
    return v


def placeholder_names(*manifests):
    names = {}
    for m in manifests:
        for n in (m or {}).get("placeholderBySecretName", {}):
            names[hashlib.sha256(n.encode()).hexdigest()] = n
    return names


for case_file in sorted(pathlib.Path(".").glob("*.nix")):
    case = case_file.stem
    kind = json.loads(
        nix("--eval", "--json", "-E", f"(import ./tests/nix/cases/{case}.nix).kind").stdout
    )
    outputs, files = evaluate(case, kind)
    if kind == "nixos":
        manifest, users = outputs.pop("manifest"), outputs.pop("usersManifest")
        outputs.pop("checkPhase")  # in files, with the manifest's
    else:
        manifest, users = json.loads(files["manifest.json"]["text"]), None
    for name, f in files.items():
        if re.fullmatch(r"manifest.*\.json", name):
            del f["text"]  # compared as JSON above
    names = placeholder_names(manifest, users)
    expected = {
        "manifest": normalise(manifest, names),
        "usersManifest": normalise(users, names),
        # The rest of the harness's outputs (activation scripts and their order, units,
        # environment, paths, assertions) and every file the module writes.
        "module": normalise(outputs, names),
        "files": normalise(files, names),
    }
    with open(f"{case}.json", "w") as f:
        json.dump(expected, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote tests/nix/cases/{case}.json")
# sops-nix's VM test: the restart-and-reload scenario's expected output, call by call.
vm = (pathlib.Path(sops_nix) / "checks/nixos-test.nix").read_text()
start = vm.index("restart-and-reload = ")
end = vm.find("testers.runNixOSTest", vm.index("testers.runNixOSTest", start) + 1)
scenario = vm[start : end if end != -1 else len(vm)]
calls = [
    re.findall(r'"((?:[^"\\]|\\.)*)"', args)
    for args in re.findall(r"assertOutput\(\s*out,([^)]*)\)", scenario)
]
assert len(calls) >= 5 and all(calls), calls
with open("../sops-nix-vm-output.json", "w") as f:
    json.dump({"restart-and-reload": calls}, f, indent=2)
    f.write("\n")
print("wrote tests/nix/sops-nix-vm-output.json")
EOF
