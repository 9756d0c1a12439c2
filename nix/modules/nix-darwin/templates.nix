# sops.templates on nix-darwin: the shared declarations (../common/templates.nix) with darwin's
# owner/uid/group/gid (group staff when an owner is named), no restart/reload units.
{
  config,
  lib,
  options,
  ...
}:
let
  defaults = import ../../lib/defaults.nix;
  str = lib.types.singleLineStr;
  nameOrId =
    nameField: idField:
    lib.mapAttrsToList (name: t: {
      assertion = !(t.${nameField} != null && t.${idField} != 0);
      message = ''
        Assertion failed for `sops.templates.${name}`:
        Both `${nameField}` and `${idField}` cannot be defined at the same time. Use either `${nameField}` or leave `${idField}` as 0.
        ${nameField}: ${t.${nameField}}
        ${idField}: ${toString t.${idField}}
      '';
    }) config.sops.templates;
in
{
  imports = [
    (import ../common/templates.nix {
      dir = "/run/secrets/rendered";
      defaultPath = _: defaults.templatePath;
      fileDescription = ''
        File used as the template. The installer reads it only when `content` is empty
        (as sops-nix's installer does).
      '';
      extraOptions = _: template: {
        owner = lib.mkOption {
          type = lib.types.nullOr str;
          default = null;
          description = ''
            User of the file. Can only be set if uid is 0.
          '';
        };
        uid = lib.mkOption {
          type = lib.types.nullOr lib.types.int;
          default = 0;
          description = ''
            UID of the template, only applied when owner is null. The UID will be applied even if the corresponding user doesn't exist.
          '';
        };
        group = lib.mkOption {
          type = lib.types.nullOr str;
          default = if template.owner != null then "staff" else null;
          defaultText = "staff";
          description = ''
            Group of the file. Can only be set if gid is 0. Default on darwin to 'staff'.
          '';
        };
        gid = lib.mkOption {
          type = lib.types.nullOr lib.types.int;
          default = 0;
          description = ''
            GID of the template, only applied when group is null. The GID will be applied even if the corresponding group doesn't exist.
          '';
        };
      };
    })
  ];

  config = lib.optionalAttrs (options ? sops.secrets) (
    lib.mkIf (config.sops.templates != { }) {
      assertions = nameOrId "owner" "uid" ++ nameOrId "group" "gid";
    }
  );
}
