# The NixOS VM tests (nix/checks/nixos-tests.nix) evaluated as far as bare Nix goes, and, with
# nixpkgs' lib, each node's configuration through the real module with ./module.nix's stubs:
# which tests exist, which node modules would set boot.initrd.postDeviceCommands (the systemd
# initrd refuses it), where the age key is copied and in which order the activation snippets run,
# the secrets each node asks for, and the `ssh-keys` node's manifest.
#   nix-instantiate --eval --strict --json tests/nix/vm-tests.nix --arg lib null|<nixpkgs lib dir>
{ lib }:
let
  bare = lib == null;
  lib' = if bare then import ./bare-lib.nix else import lib;
  nixosModule = ../../nix/modules/sops;
  tests = import ../../nix/checks/nixos-tests.nix {
    lib = lib';
    testers.runNixOSTest = t: t;
    inherit nixosModule;
  };
  names = builtins.attrNames tests;

  # Node modules as plain attrsets: functions called with arguments that fail if a value is
  # forced (only the structure is read), imports followed except the sops module itself.
  stubArgs = {
    config = throw "vm-tests.nix: a node's structure depends on config";
    lib = lib';
    pkgs = throw "vm-tests.nix: a node's structure depends on pkgs";
    options = { };
  };
  modulesOf =
    m:
    if m == nixosModule then
      [ ]
    else
      let
        v = if builtins.isFunction m then m stubArgs else m;
      in
      [ v ] ++ builtins.concatMap modulesOf (v.imports or [ ]);
  nodeModules = t: builtins.concatMap modulesOf (builtins.attrValues t.nodes);
  sets = path: m: lib'.hasAttrByPath path m;
  testsSetting = path: builtins.filter (n: builtins.any (sets path) (nodeModules tests.${n})) names;
  secretNames =
    t:
    builtins.concatMap (m: builtins.attrNames (m.sops.secrets or { })) (nodeModules t);

  sshKeysNode = removeAttrs tests.ssh-keys.nodes.server [ "imports" ];

  # With nixpkgs' lib: each node through the real module (a node module may read config).
  evalNode =
    node:
    (import ./module.nix {
      inherit lib;
      case = {
        kind = "nixos";
        config = { };
        moduleConfig = node;
      };
      raw = true;
    });
  activation =
    t:
    let
      evaluated = evalNode (builtins.head (builtins.attrValues t.nodes));
      scripts = evaluated.config.system.activationScripts;
    in
    {
      postDeviceCommandsDefined = evaluated.options.boot.initrd.postDeviceCommands.isDefined;
      deps = builtins.mapAttrs (_: s: s.deps or [ ]) scripts;
      copyAgeKey = scripts.copyAgeKey.text or null;
      useSystemdActivation = evaluated.config.sops.useSystemdActivation;
      secrets = builtins.attrNames evaluated.config.sops.secrets;
    };
in
{
  inherit names;
  initrdCommands = testsSetting [
    "boot"
    "initrd"
    "postDeviceCommands"
  ];
  copyAgeKey = testsSetting [
    "system"
    "activationScripts"
    "copyAgeKey"
  ];
  secrets = lib'.genAttrs names (n: secretNames tests.${n});
  sshKeysManifest = ((import ../../nix/lib/resolve.nix).nixos sshKeysNode).manifest;
}
// (
  if bare then
    { }
  else
    {
      activation = lib'.genAttrs names (n: activation tests.${n});
      # The stubs do see the initrd hook when a node sets it (so `false` above means something).
      initrdProbe =
        (activation {
          nodes.machine.boot.initrd.postDeviceCommands = "cp /key /run/key";
        }).postDeviceCommandsDefined;
    }
)
