# Evaluates the real NixOS (or home-manager) module with nixpkgs' `lib.evalModules` and small
# stubs for the options it reads from other modules, so tests can check options, defaults,
# assertions, wiring and the manifest without nixpkgs' package set. Used by tests/nix_module.rs
# when NIX_SOPS_NIXPKGS_LIB points at a nixpkgs `lib` directory:
#   nix-instantiate --eval --strict --json tests/nix/module.nix --arg lib <lib> --arg case <case>
{
  lib,
  case,
  extraModules ? [ ],
  # "sops-nix-paths": through the thin files at sops-nix's paths (modules/sops,
  # modules/home-manager/sops.nix) instead of the flake's nix/modules paths.
  entry ? "flake",
  # true: the lib.evalModules result itself (options included), for other test files to import.
  raw ? false,
  # A module to evaluate instead of ours (tests/nix/cases/regenerate.sh: sops-nix's own, from a
  # checkout), under the same stubs.
  module ? null,
  # true: every writeTextFile also prints `trace: {"file":<name>,"text":…,"checkPhase":…}`, so
  # the files a module writes can be compared, including the manifest sops-nix's home-manager
  # module keeps in a let binding (tests/nix/cases/regenerate.sh).
  traceFiles ? false,
}:
let
  lib' = if builtins.isAttrs lib then lib else import lib;
  inherit (lib') mkOption types;
  c = if builtins.isAttrs case then case else import case;
  anything = mkOption {
    type = types.attrsOf types.anything;
    default = { };
  };

  fakeDrv = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };

  # writeTextFile keeps its text and checkPhase so the test can read the manifest and the
  # build-time check command.
  writeTextFile =
    {
      name,
      text,
      checkPhase ? "",
      ...
    }:
    let
      file = fakeDrv name // { inherit text checkPhase; };
    in
    if traceFiles then
      builtins.trace (builtins.toJSON {
        file = name;
        inherit text checkPhase;
      }) file
    else
      file;

  pkgs = rec {
    inherit writeTextFile;
    writeText = name: text: writeTextFile { inherit name text; };
    writeShellScript = name: text: writeTextFile { inherit name text; };
    age = fakeDrv "age";
    gnupg = fakeDrv "gnupg";
    coreutils = fakeDrv "coreutils";
    rustPlatform.buildRustPackage = a: fakeDrv "${a.pname}-${a.version}";
    stdenv = {
      hostPlatform = {
        system = "x86_64-linux";
        isLinux = true;
      };
      buildPlatform = stdenv.hostPlatform;
      isLinux = true;
      isDarwin = false;
    };
    pkgsBuildHost = pkgs;
    callPackage =
      fn: args:
      let
        f = if builtins.isFunction fn then fn else import fn;
        auto = pkgs // {
          lib = lib';
        };
      in
      f (builtins.intersectAttrs (builtins.functionArgs f) auto // args);
  };

  # The options of other NixOS modules that the sops module reads or defines.
  nixosStubs =
    { config, ... }:
    {
      options = {
        assertions = mkOption {
          type = types.listOf types.unspecified;
          default = [ ];
        };
        warnings = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        services.openssh = {
          enable = mkOption { default = false; };
          hostKeys = mkOption { default = [ ]; };
        };
        services.userborn.enable = mkOption { default = false; };
        users.mutableUsers = mkOption { default = true; };
        users.users = mkOption {
          type = types.attrsOf (
            types.submodule {
              freeformType = types.attrsOf types.anything;
              options.group = mkOption {
                type = types.str;
                default = "";
              };
            }
          );
          default = { };
        };
        users.groups = anything;
        # NixOS's own script type, so `deps` from several modules merge as they do there.
        system.activationScripts = mkOption {
          type = types.attrsOf (
            types.either types.str (
              types.submodule {
                options = {
                  deps = mkOption {
                    type = types.listOf types.str;
                    default = [ ];
                  };
                  text = mkOption {
                    type = types.lines;
                    default = "";
                  };
                  supportsDryActivation = mkOption {
                    type = types.bool;
                    default = false;
                  };
                };
              }
            )
          );
          default = { };
        };
        # What the VM tests' nodes set besides sops (tests/nix/vm-tests.nix); the initrd hook is
        # declared so a test can see that no node defines it.
        # No default: `isDefined` then tells whether a node sets it.
        boot.initrd.postDeviceCommands = mkOption { type = types.lines; };
        boot.initrd.systemd = anything;
        boot.kernelPackages = mkOption { default = null; };
        specialisation = anything;
        system.switch = anything;
        system.etc = anything;
        system.dryActivationScript = mkOption { default = ""; };
        system.build = anything;
        systemd.services = anything;
        systemd.sysusers.enable = mkOption { default = false; };
      };
    };

  hmStubs = {
    options = {
      assertions = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      xdg.configHome = mkOption { type = types.str; };
      home.homeDirectory = mkOption {
        type = types.str;
        default = "/home/user";
      };
      home.username = mkOption {
        type = types.str;
        default = "user";
      };
      home.sessionVariables = anything;
      home.activation = anything;
      systemd.user.services = anything;
      systemd.user.systemctlPath = mkOption { default = "/bin/systemctl"; };
      launchd.agents = anything;
    };
  };

  isNixos = c.kind == "nixos";
  evaluated = lib'.evalModules {
    specialArgs = {
      inherit pkgs;
    };
    modules = [
      (if isNixos then nixosStubs else hmStubs)
      (
        if module != null then
          module
        else if entry == "sops-nix-paths" then
          (if isNixos then ../../modules/sops else ../../modules/home-manager/sops.nix)
        else if isNixos then
          ../../nix/modules/sops
        else
          ../../nix/modules/home-manager/sops.nix
      )
      (c.moduleConfig or c.config)
    ] ++ extraModules;
  };
  config = evaluated.config;
  failed = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
  scripts = config.system.activationScripts or { };
in
if raw then
  evaluated
else
{
  manifest =
    if isNixos then
      builtins.fromJSON (builtins.unsafeDiscardStringContext config.system.build.sops-nix-manifest.text)
    else
      builtins.fromJSON (builtins.unsafeDiscardStringContext config.sops.manifest.text);
  usersManifest = if isNixos then builtins.fromJSON (builtins.unsafeDiscardStringContext config.system.build.sops-nix-users-manifest.text) else null;
  checkPhase =
    if isNixos then config.system.build.sops-nix-manifest.checkPhase else config.sops.manifest.checkPhase;
  failedAssertions = failed;
  activationScripts = builtins.attrNames scripts;
  activationTexts = builtins.mapAttrs (_: s: if builtins.isString s then s else s.text) scripts;
  setupSecretsDeps = scripts.setupSecrets.deps or null;
  setupSecretsText = scripts.setupSecrets.text or null;
  setupSecretsForUsersDeps = scripts.setupSecretsForUsers.deps or null;
  setupSecretsForUsersText = scripts.setupSecretsForUsers.text or null;
  homeActivation = config.home.activation or null;
  usersDeps = scripts.users.deps or null;
  supportsDryActivation = scripts.setupSecrets.supportsDryActivation or null;
  services = if isNixos then config.systemd.services else config.systemd.user.services;
  environment = config.sops.environment;
  ageSshKeyPaths = config.sops.age.sshKeyPaths;
  gnupgSshKeyPaths = config.sops.gnupg.sshKeyPaths;
  useSystemdActivation = config.sops.useSystemdActivation or null;
  paths = builtins.mapAttrs (_: s: s.path) config.sops.secrets;
}
