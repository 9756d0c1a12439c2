# The few list/attrset helpers the pure manifest code needs, written with builtins only, so
# `manifest.nix` and `defaults.nix` evaluate under bare `nix-instantiate` (no nixpkgs).
rec {
  filterAttrs = pred: set:
    builtins.listToAttrs (
      builtins.concatMap (
        name:
        let
          value = set.${name};
        in
        if pred name value then [ { inherit name value; } ] else [ ]
      ) (builtins.attrNames set)
    );

  mapAttrsToList = f: set: map (name: f name set.${name}) (builtins.attrNames set);

  optional = cond: x: if cond then [ x ] else [ ];

  hasPrefix = prefix: s: builtins.substring 0 (builtins.stringLength prefix) s == prefix;

  concatStringsSep = builtins.concatStringsSep;

  # Attribute-name escaping for error messages (lib.strings.escapeNixIdentifier minus the keyword list).
  escapeNixIdentifier =
    s:
    if builtins.match "[a-zA-Z_][a-zA-Z0-9_'-]*" s != null then s else builtins.replaceStrings [ "$" ] [ "\\$" ] (builtins.toJSON s);
}
