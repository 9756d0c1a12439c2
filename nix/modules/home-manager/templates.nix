# home-manager sops.templates (as sops-nix's): rendered under the user's symlink path.
let
  defaults = import ../../lib/defaults.nix;
in
{
  imports = [
    (import ../common/templates.nix {
      dir = "the rendered/ directory of the symlink path";
      defaultPath = hmConfig: defaults.hmTemplatePath hmConfig.xdg.configHome;
      fileDescription = ''
        File used as the template. The installer reads it only when `content` is empty.
      '';
    })
  ];
}
