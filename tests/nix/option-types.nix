# Every sops.* option of the NixOS and home-manager modules against sops-nix's declaration
# (type and default, restated here from sops-nix's modules/sops and modules/home-manager).
# Returns the mismatches; tests/nix_module.rs expects none.
#   nix-instantiate --eval --strict --json tests/nix/option-types.nix --arg lib <nixpkgs lib dir>
{ lib }:
let
  l = import lib;
  t = l.types;
  optionsOf =
    case:
    (import ./module.nix {
      inherit lib case;
      raw = true;
    }).options;

  check =
    opts: path: spec:
    let
      o = l.attrByPath path null opts;
      got = {
        type = o.type.description;
      } // l.optionalAttrs (spec ? default) { default = o.default; };
      want = {
        type = spec.type.description;
      } // l.optionalAttrs (spec ? default) { inherit (spec) default; };
    in
    if o == null then
      [ "${l.concatStringsSep "." path}: missing" ]
    else if got != want then
      [ "${l.concatStringsSep "." path}: got ${builtins.toJSON got}, sops-nix has ${builtins.toJSON want}" ]
    else
      [ ];

  checkAll = opts: specs: l.concatLists (l.mapAttrsToList (p: spec: check opts (l.splitString "." p) spec) specs);

  nixos = optionsOf ./cases/defaults.nix;
  hm = optionsOf ./cases/home-manager.nix;
  secretOpts = opts: opts.sops.secrets.type.getSubOptions [ ];
  templateOpts = opts: opts.sops.templates.type.getSubOptions [ ];

  logType = t.listOf (t.enum [ "keyImport" "secretChanges" ]);
  formatEnum = t.enum [ "yaml" "json" "binary" "dotenv" "ini" ];
in
checkAll nixos {
  "sops.defaultSopsFile" = { type = t.path; };
  "sops.defaultSopsFormat" = { type = t.str; default = "yaml"; };
  "sops.defaultSopsKey" = { type = t.nullOr t.str; default = null; };
  "sops.validateSopsFiles" = { type = t.bool; default = true; };
  "sops.keepGenerations" = { type = t.ints.unsigned; default = 1; };
  "sops.log" = { type = logType; default = [ "keyImport" "secretChanges" ]; };
  "sops.environment" = { type = t.attrsOf (t.either t.str t.path); default = { }; };
  "sops.package" = { type = t.package; };
  "sops.validationPackage" = { type = t.package; };
  "sops.useTmpfs" = { type = t.bool; default = false; };
  "sops.useSystemdActivation" = { type = t.bool; default = false; };
  "sops.age.keyFile" = { type = t.nullOr (l.mkOptionType { name = "pathNotInStore"; description = "path not in the Nix store"; descriptionClass = "noun"; }); default = null; };
  "sops.age.plugins" = { type = t.listOf t.package; default = [ ]; };
  "sops.age.generateKey" = { type = t.bool; default = false; };
  "sops.age.sshKeyPaths" = { type = t.listOf t.path; default = [ "/etc/ssh/ssh_host_ed25519_key" ]; };
  "sops.gnupg.home" = { type = t.nullOr t.str; default = null; };
  "sops.gnupg.sshKeyPaths" = { type = t.listOf t.path; default = [ "/etc/ssh/ssh_host_rsa_key" ]; };
  "sops.gnupg.package" = { type = t.package; };
  "sops.placeholder" = { type = t.attrsOf (l.mkOptionType { name = "coercibleToString"; description = "value that can be coerced to string"; }); };
}
++ checkAll (secretOpts nixos) {
  "name" = { type = t.str; };
  "key" = { type = t.str; };
  "path" = { type = t.str; };
  "format" = { type = formatEnum; };
  "mode" = { type = t.str; default = "0400"; };
  "owner" = { type = t.nullOr t.str; default = null; };
  "uid" = { type = t.nullOr t.int; default = 0; };
  "group" = { type = t.nullOr t.str; };
  "gid" = { type = t.nullOr t.int; default = 0; };
  "sopsFile" = { type = t.path; };
  "sopsFileHash" = { type = t.str; };
  "restartUnits" = { type = t.listOf t.str; default = [ ]; };
  "reloadUnits" = { type = t.listOf t.str; default = [ ]; };
  "neededForUsers" = { type = t.bool; default = false; };
}
++ checkAll (templateOpts nixos) {
  "name" = { type = t.singleLineStr; };
  "path" = { type = t.singleLineStr; };
  "content" = { type = t.lines; default = ""; };
  "mode" = { type = t.singleLineStr; default = "0400"; };
  "owner" = { type = t.nullOr t.singleLineStr; default = null; };
  "uid" = { type = t.nullOr t.int; default = 0; };
  "group" = { type = t.nullOr t.singleLineStr; };
  "gid" = { type = t.nullOr t.int; default = 0; };
  "file" = { type = t.path; };
  "restartUnits" = { type = t.listOf t.str; default = [ ]; };
  "reloadUnits" = { type = t.listOf t.str; default = [ ]; };
}
++ checkAll hm {
  "sops.defaultSopsFile" = { type = t.path; };
  "sops.defaultSopsFormat" = { type = t.str; default = "yaml"; };
  "sops.defaultSopsKey" = { type = t.nullOr t.str; default = null; };
  "sops.validateSopsFiles" = { type = t.bool; default = true; };
  "sops.defaultSymlinkPath" = { type = t.str; default = "/home/alice/.config/sops-nix/secrets"; };
  "sops.defaultSecretsMountPoint" = { type = t.str; default = "%r/secrets.d"; };
  "sops.keepGenerations" = { type = t.ints.unsigned; default = 1; };
  "sops.log" = { type = logType; default = [ "keyImport" "secretChanges" ]; };
  "sops.environment" = { type = t.attrsOf (t.either t.str t.path); default = { }; };
  "sops.package" = { type = t.package; };
  "sops.age.keyFile" = { type = t.nullOr (l.mkOptionType { name = "pathNotInStore"; description = "path not in the Nix store"; descriptionClass = "noun"; }); default = null; };
  "sops.age.plugins" = { type = t.listOf t.package; default = [ ]; };
  "sops.age.generateKey" = { type = t.bool; default = false; };
  "sops.age.sshKeyPaths" = { type = t.listOf t.path; default = [ ]; };
  "sops.gnupg.home" = { type = t.nullOr t.str; default = null; };
  "sops.gnupg.sshKeyPaths" = { type = t.listOf t.path; default = [ ]; };
  "sops.gnupg.package" = { type = t.package; };
  "sops.gnupg.qubes-split-gpg.enable" = { type = t.bool; default = false; };
  "sops.gnupg.qubes-split-gpg.domain" = { type = t.nullOr t.str; default = null; };
}
++ checkAll (secretOpts hm) {
  "name" = { type = t.str; };
  "key" = { type = t.str; };
  "path" = { type = t.str; };
  "format" = { type = t.enum [ "yaml" "json" "binary" "ini" "dotenv" ]; };
  "mode" = { type = t.str; default = "0400"; };
  "sopsFile" = { type = t.path; };
}
++ checkAll (templateOpts hm) {
  "name" = { type = t.singleLineStr; };
  "path" = { type = t.singleLineStr; };
  "content" = { type = t.lines; default = ""; };
  "mode" = { type = t.singleLineStr; default = "0400"; };
  "file" = { type = t.path; };
}
