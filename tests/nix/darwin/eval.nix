# Evaluates a nix-darwin sops module (ours, or sops-nix's from a checkout) on every sample in
# ./cases.nix with stubbed nix-darwin options and packages, and returns what the module makes:
# manifests, build checks, the postActivation script, launchd daemons, assertions, option
# declarations. tests/nix_module.rs compares ours with ./expected.json, which ./regenerate.sh
# writes from sops-nix's module with this same file.
#   nix-instantiate --eval --strict --json tests/nix/darwin/eval.nix \
#     --arg lib <nixpkgs lib dir> --arg module <path to a nix-darwin sops module>
{
  lib,
  module,
}:
let
  l = import lib;
  inherit (l) mkOption types;

  fakeDrv = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };
  writeTextFile =
    {
      name,
      text,
      checkPhase ? "",
      ...
    }:
    fakeDrv name // { inherit text checkPhase; };
  pkgs = rec {
    inherit writeTextFile;
    writeText = name: text: writeTextFile { inherit name text; };
    age = fakeDrv "age";
    gnupg = fakeDrv "gnupg";
    stdenv = {
      hostPlatform.system = "aarch64-darwin";
      buildPlatform = stdenv.hostPlatform;
      isDarwin = true;
      isLinux = false;
    };
    pkgsBuildHost = pkgs;
    callPackage =
      fn: args:
      let
        f = if builtins.isFunction fn then fn else import fn;
      in
      f (builtins.intersectAttrs (builtins.functionArgs f) (pkgs // { lib = l; }) // args);
  };

  # The nix-darwin options the sops module reads or sets.
  darwinStubs = {
    options = {
      assertions = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      warnings = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      system.activationScripts = mkOption {
        type = types.attrsOf (
          types.submodule {
            options.text = mkOption {
              type = types.lines;
              default = "";
            };
          }
        );
        default = { };
      };
      launchd.daemons = mkOption {
        type = types.attrsOf (types.attrsOf types.anything);
        default = { };
      };
      system.build = mkOption {
        type = types.attrsOf types.anything;
        default = { };
      };
    };
  };

  # Same installer package for both modules, so store paths in scripts compare.
  package = {
    sops.package = fakeDrv "sops-install-secrets";
  };

  evalCase =
    case:
    let
      evaluated = l.evalModules {
        specialArgs = { inherit pkgs; };
        modules = [
          darwinStubs
          module
          package
          case
        ];
      };
      inherit (evaluated) config options;
      build = config.system.build;
      manifest = m: builtins.fromJSON (builtins.unsafeDiscardStringContext m.text);
    in
    {
      manifest = if build ? sops-nix-manifest then manifest build.sops-nix-manifest else null;
      checkPhase = build.sops-nix-manifest.checkPhase or null;
      usersManifest = if build ? sops-nix-users-manifest then manifest build.sops-nix-users-manifest else null;
      usersCheckPhase = build.sops-nix-users-manifest.checkPhase or null;
      postActivation = config.system.activationScripts.postActivation.text or null;
      activationScripts = builtins.attrNames config.system.activationScripts;
      daemons = config.launchd.daemons;
      failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
      environment = config.sops.environment;
      secretPaths = builtins.mapAttrs (_: s: s.path) config.sops.secrets;
      placeholder = config.sops.placeholder;
    };

  # Every sops.* option (secret and template sub-options included): type and, where it is data
  # (not a package), default.
  declared =
    let
      evaluated = l.evalModules {
        specialArgs = { inherit pkgs; };
        modules = [
          darwinStubs
          module
          package
          { sops.defaultSopsFile = ./secrets.yaml; }
        ];
      };
      walk =
        prefix: opts:
        l.concatLists (
          l.mapAttrsToList (
            name: o:
            let
              path = "${prefix}.${name}";
            in
            if l.isOption o then
              [
                {
                  name = path;
                  value = {
                    type = o.type.description;
                  }
                  // l.optionalAttrs (o.type.name != "package" && o ? default) {
                    default = if o.type.name == "submodule" then null else o.default;
                  };
                }
              ]
              ++ (
                if o.type.name == "attrsOf" && o.type.nestedTypes.elemType.name == "submodule" then
                  walk "${path}.<name>" (o.type.getSubOptions [ ])
                else
                  [ ]
              )
            else if builtins.isAttrs o && name != "_module" then
              walk path o
            else
              [ ]
          ) opts
        );
      subDefaultsFree = n: builtins.match ".*<name>.*" n == null;
    in
    builtins.listToAttrs (
      map (o: if subDefaultsFree o.name then o else o // { value = removeAttrs o.value [ "default" ]; }) (walk "sops" evaluated.options.sops)
    );
in
{
  cases = builtins.mapAttrs (_: evalCase) (import ./cases.nix);
  options = declared;
}
