# sops.templates and sops.placeholder as both modules declare them (as sops-nix's templates
# modules do). The module passes what differs:
#   dir             where rendered files go, as the `name` description words it
#   defaultPath     top-level config → template name → default `path`
#   fileDescription the `file` option's description
#   extraOptions    top-level config → template's config → more template options (NixOS owners)
{
  dir,
  defaultPath,
  fileDescription,
  extraOptions ? _: _: { },
}:
{
  config,
  pkgs,
  lib,
  options,
  ...
}:
let
  inherit (lib) mkOption types;
  topConfig = config;
  defaults = import ../../lib/defaults.nix;
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
                  Name of the file used in ${dir}
                '';
              };
              path = mkOption {
                description = "Path where the rendered file will be placed";
                type = types.singleLineStr;
                default = defaultPath topConfig config.name;
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
              file = mkOption {
                type = types.path;
                default = pkgs.writeText config.name config.content;
                defaultText = lib.literalExpression "pkgs.writeText config.name config.content";
                example = "./configuration-template.conf";
                description = fileDescription;
              };
            }
            // extraOptions topConfig config;
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
    }
  );
}
