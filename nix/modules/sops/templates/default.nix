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
  users = config.users.users;
  defaults = import ../../../lib/defaults.nix;
  common = import ../../common/options.nix { inherit lib pkgs; };

  # A template names its owner (group) or gives its uid (gid), not both (as sops-nix checks).
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
    (import ../../common/templates.nix {
      dir = "/run/secrets/rendered";
      defaultPath = _: defaults.templatePath;
      fileDescription = ''
        File used as the template. The installer reads it only when `content` is empty
        (as sops-nix's installer does).
      '';
      extraOptions =
        _: template:
        common.ownership {
          str = lib.types.singleLineStr;
          what = "template";
          inherit users;
          inherit (template) owner;
          groupDefaultText = lib.literalExpression "config.users.users.\${cfg.owner}.group";
        }
        // common.units "the rendered template";
    })
  ];

  config = lib.optionalAttrs (options ? sops.secrets) (
    lib.mkIf (config.sops.templates != { }) {
      assertions = nameOrId "owner" "uid" ++ nameOrId "group" "gid";
    }
  );
}
