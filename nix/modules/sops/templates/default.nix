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
