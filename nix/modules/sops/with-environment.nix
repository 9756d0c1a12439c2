# Wraps a command in a subshell that exports `environment` first, as sops-nix does. Values are
# single-quoted and not escaped further, so command substitutions keep working (documented on
# the sops.environment option).
{ environment, lib }:

command:

if environment == { } then
  command
else
  ''
    (
    ${lib.concatStringsSep "\n" (lib.mapAttrsToList (n: v: "  export ${n}='${v}'") environment)}
      ${command}
    )
  ''
