# sops.templates: files rendered at activation with secret values substituted for
# `config.sops.placeholder.<secret>` strings (as sops-nix's templates module).
{
  config,
  pkgs,
  lib,
  options,
  ...
}:
let
  inherit (lib) mkOption types;
  users = config.users.users;
  defaults = import ../../../lib/defaults.nix;
in
{
  options.sops = {
    templates = mkOption {
      description = "Templates for secret files";
      type = types.attrsOf (
        types.submodule (
          { config, ... }:
          {
            options = {
              name = mkOption {
                type = types.singleLineStr;
                default = config._module.args.name;
                description = ''
                  Name of the file used in /run/secrets/rendered
                '';
              };
              path = mkOption {
                description = "Path where the rendered file will be placed";
                type = types.singleLineStr;
                default = defaults.templatePath config.name;
              };
              content = mkOption {
                type = types.lines;
                default = "";
                description = ''
                  Content of the file
                '';
              };
              mode = mkOption {
                type = types.singleLineStr;
                default = "0400";
                description = ''
                  Permissions mode of the rendered secret file in octal.
                '';
              };
              owner = mkOption {
                type = with types; nullOr singleLineStr;
                default = null;
                description = ''
                  User of the file. Can only be set if uid is 0.
                '';
              };
              uid = mkOption {
                type = with types; nullOr int;
                default = 0;
                description = ''
                  UID of the template, only applied when owner is null. The UID will be applied even if the corresponding user doesn't exist.
                '';
              };
              group = mkOption {
                type = with types; nullOr singleLineStr;
                default = defaults.ownerGroup users config.owner;
                defaultText = lib.literalExpression "config.users.users.\${cfg.owner}.group";
                description = ''
                  Group of the file. Can only be set if gid is 0.
                '';
              };
              gid = mkOption {
                type = with types; nullOr int;
                default = 0;
                description = ''
                  GID of the template, only applied when group is null. The GID will be applied even if the corresponding group doesn't exist.
                '';
              };
              file = mkOption {
                type = types.path;
                default = pkgs.writeText config.name config.content;
                defaultText = lib.literalExpression "pkgs.writeText config.name config.content";
                example = "./configuration-template.conf";
                description = ''
                  File used as the template. The installer reads it only when `content` is empty
                  (as sops-nix's installer does).
                '';
              };
              restartUnits = lib.mkOption {
                type = types.listOf types.str;
                default = [ ];
                example = [ "sshd.service" ];
                description = ''
                  Names of units that should be restarted when the rendered template changes.
                  This works the same way as {option}`systemd.services.<name>.restartTriggers`.
                '';
              };
              reloadUnits = lib.mkOption {
                type = types.listOf types.str;
                default = [ ];
                example = [ "sshd.service" ];
                description = ''
                  Names of units that should be reloaded when the rendered template changes.
                  This works the same way as {option}`systemd.services.<name>.reloadTriggers`.
                '';
              };
            };
          }
        )
      );
      default = { };
    };
    placeholder = mkOption {
      type = types.attrsOf (
        types.mkOptionType {
          name = "coercibleToString";
          description = "value that can be coerced to string";
          check = lib.strings.isConvertibleWithToString;
          merge = lib.mergeEqualOption;
        }
      );
      default = { };
      visible = false;
    };
  };

  config = lib.optionalAttrs (options ? sops.secrets) (
    lib.mkIf (config.sops.templates != { }) {
      sops.placeholder = lib.mapAttrs (name: _: lib.mkDefault (defaults.placeholder name)) config.sops.secrets;

      assertions =
        lib.mapAttrsToList (name: t: {
          assertion = !(t.owner != null && t.uid != 0);
          message = ''
            Assertion failed for `sops.templates.${name}`:
            Both `owner` and `uid` cannot be defined at the same time. Use either `owner` or leave `uid` as 0.
            owner: ${t.owner}
            uid: ${toString t.uid}
          '';
        }) config.sops.templates
        ++ lib.mapAttrsToList (name: t: {
          assertion = !(t.group != null && t.gid != 0);
          message = ''
            Assertion failed for `sops.templates.${name}`:
            Both `group` and `gid` cannot be defined at the same time. Use either `group` or leave `gid` as 0.
            group: ${t.group}
            gid: ${toString t.gid}
          '';
        }) config.sops.templates;
    }
  );
}
