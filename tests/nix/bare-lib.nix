# Just the nixpkgs `lib` functions that flake.nix and the package files call, written with
# builtins, so the flake's outputs evaluate under bare `nix-instantiate` (no nixpkgs). Module
# evaluation needs the real lib (NIX_SOPS_NIXPKGS_LIB); this is not a substitute for it.
let
  mini = import ../../nix/lib/mini.nix;
in
mini
// {
  genAttrs = names: f: builtins.listToAttrs (map (name: { inherit name; value = f name; }) names);
  optionalAttrs = cond: set: if cond then set else { };
  hasSuffix =
    suffix: s:
    let
      ls = builtins.stringLength s;
      lx = builtins.stringLength suffix;
    in
    lx <= ls && builtins.substring (ls - lx) lx s == suffix;
  removePrefix =
    prefix: s:
    let
      lp = builtins.stringLength prefix;
    in
    if mini.hasPrefix prefix s then builtins.substring lp (builtins.stringLength s - lp) s else s;
  hasAttrByPath =
    path: set:
    path == [ ]
    || (
      builtins.isAttrs set
      && set ? ${builtins.head path}
      && (import ./bare-lib.nix).hasAttrByPath (builtins.tail path) set.${builtins.head path}
    );
  importTOML = path: builtins.fromTOML (builtins.readFile path);
  makeBinPath = pkgs: builtins.concatStringsSep ":" (map (p: "${p}/bin") pkgs);
  # The package's source filter: here, the list of files it names.
  fileset = {
    unions = files: { inherit files; };
    toSource = { root, fileset }: { inherit root fileset; };
  };
  licenses.mit = "mit";
  platforms = {
    linux = [ "x86_64-linux" "aarch64-linux" ];
    darwin = [ "x86_64-darwin" "aarch64-darwin" ];
    unix = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
  };
  nixosSystem = _: throw "bare-lib: nixosSystem needs nixpkgs";
}
