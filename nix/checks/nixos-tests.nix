# NixOS VM tests: sops-nix's scenarios (checks/nixos-test.nix there) against nix-sops's module
# and installer. Run on a machine with Nix and KVM: `nix flake check` or
# `nix build .#checks.x86_64-linux.<name>`. Fixtures: ./test-assets (regenerate.sh).
{
  lib,
  testers,
  nixosModule,
}:
let
  testAssets = ./test-assets;

  # Copies the age key in place before anything decrypts: a stage-2 activation snippet ordered
  # before setupSecrets (and setupSecretsForUsers where there is one). Not from the initrd
  # (boot.initrd.postDeviceCommands): the systemd-based initrd, NixOS's default now, refuses it.
  # `extra` runs right after the copy (e.g. to put a directory where /run/secrets goes).
  ageKeyBeforeSecrets = extra: { config, lib, ... }:
    let
      cfg = config.sops;
      activation = !cfg.useSystemdActivation;
      forUsers = lib.any (s: s.neededForUsers) (lib.attrValues cfg.secrets);
      regular = lib.any (s: !s.neededForUsers) (lib.attrValues cfg.secrets);
    in
    {
      system.activationScripts = {
        copyAgeKey = lib.stringAfter [ "specialfs" ] (
          ''
            cp ${testAssets + "/age-keys.txt"} /run/age-keys.txt
            chmod 700 /run/age-keys.txt
          ''
          + extra
        );
        setupSecrets = lib.mkIf (activation && regular) { deps = [ "copyAgeKey" ]; };
        setupSecretsForUsers = lib.mkIf (activation && forUsers) { deps = [ "copyAgeKey" ]; };
      };
    };
  ageKeyInStage2 = ageKeyBeforeSecrets "";

  # The module, decrypting test-assets/secrets.yaml with the age key at /run/age-keys.txt.
  ageKeySops = {
    imports = [ nixosModule ];
    sops = {
      age.keyFile = "/run/age-keys.txt";
      defaultSopsFile = testAssets + "/secrets.yaml";
    };
  };

  # sysusers and userborn: systemd stage 1 with /etc as an overlay; the age key is put in place
  # just before the for-users installer runs.
  systemdStage1 =
    { pkgs, ... }:
    {
      system.etc.overlay.enable = true;
      boot.initrd.systemd.enable = true;
      boot.kernelPackages = pkgs.linuxPackages_latest;
      systemd.services."sops-install-secrets-for-users".preStart = ''
        printf '${builtins.readFile (testAssets + "/age-keys.txt")}' > /run/age-keys.txt
        chmod -R 700 /run/age-keys.txt
      '';
    };

  # Every variant, sysusers and userborn included, re-runs switch-to-configuration afterwards, as
  # sops-nix's test does (its guard against the /etc overlay never matches a function module).
  userPasswordTest =
    name: extraConfig:
    testers.runNixOSTest {
      inherit name;
      nodes.machine =
        { config, lib, ... }:
        {
          imports = [
            ageKeySops
            extraConfig
          ];
          sops = {
            secrets.test_key.neededForUsers = true;
            secrets."nested/test/file".owner = "example-user";
          };
          system.switch.enable = true;
          users.users.example-user = lib.mkMerge [
            (lib.mkIf (!config.systemd.sysusers.enable) {
              isNormalUser = true;
              hashedPasswordFile = config.sops.secrets.test_key.path;
            })
            (lib.mkIf config.systemd.sysusers.enable {
              isSystemUser = true;
              group = "users";
              hashedPasswordFile = config.sops.secrets.test_key.path;
            })
          ];
        };
      testScript = ''
        start_all()
        machine.wait_for_unit("multi-user.target")
        machine.succeed("getent shadow example-user | grep -q :test_value:")
        machine.succeed("grep -q 'another value' /run/secrets/nested/test/file")
        user = machine.succeed("stat -c%U /run/secrets/nested/test/file").strip()
        assert user == "example-user", f"Expected 'example-user', got '{user}'"
        machine.succeed("grep -q test_value /run/secrets-for-users/test_key")
        machine.succeed("/run/current-system/bin/switch-to-configuration test")
        machine.succeed("grep -q 'another value' /run/secrets/nested/test/file")
        machine.succeed("grep -q test_value /run/secrets-for-users/test_key")
      '';
    };

  restartUnits = {
    systemd.services."restart-unit" = {
      description = "Restart unit";
      serviceConfig.ExecStart = "/bin/sh -c 'echo ok > /restarted'";
    };
    systemd.services."reload-unit" = {
      description = "Reload unit";
      wantedBy = [ "multi-user.target" ];
      reloadIfChanged = true;
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = "/bin/sh -c true";
        ExecReload = "/bin/sh -c 'echo ok > /reloaded'";
      };
    };
    systemd.services."reload-trigger" = {
      description = "Reload trigger unit";
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = "/bin/sh -c true";
        ExecReload = "/bin/sh -c 'echo ok > /reloaded'";
      };
    };
  };

  restartNode =
    { config, ... }:
    {
      imports = [
        ageKeySops
        ageKeyInStage2
        restartUnits
      ];
      system.switch.enable = true;
      sops = {
        secrets.test_key = {
          restartUnits = [
            "restart-unit.service"
            "reload-unit.service"
          ];
          reloadUnits = [ "reload-trigger.service" ];
        };
        templates.test_template = {
          content = ''
            this is a template with
            a secret: ${config.sops.placeholder.test_key}
          '';
          restartUnits = [
            "restart-unit.service"
            "reload-unit.service"
          ];
          reloadUnits = [ "reload-trigger.service" ];
        };
      };
    };

  assertOutputPy = ''
    def assertOutput(output, *expected_lines):
      prefix = "setting up /etc...\n"
      if output.startswith(prefix):
        output = output.removeprefix(prefix)
      actual_lines = output.splitlines(keepends=False)
      if actual_lines != list(expected_lines):
        raise Exception(f"{actual_lines} != {list(expected_lines)}")
  '';
in
{
  age-keys = testers.runNixOSTest {
    name = "nix-sops-age-keys";
    nodes.machine =
      { config, ... }:
      {
        imports = [
          ageKeySops
          # A directory in the way at the first activation is replaced by the symlink.
          (ageKeyBeforeSecrets ''
            [ -e /run/secrets ] || mkdir /run/secrets
          '')
        ];
        sops = {
          secrets = {
            test_key = { };
            test_key_root_root.key = "test_key";
            test_key_someuser_somegroup = {
              uid = config.users.users.someuser.uid;
              gid = config.users.groups.somegroup.gid;
              key = "test_key";
            };
            test_key_someuser_root = {
              uid = config.users.users.someuser.uid;
              key = "test_key";
            };
            test_key_1001_1001 = {
              uid = 1001;
              gid = 1001;
              key = "test_key";
            };
          };
        };
        users.users.someuser = {
          uid = 1000;
          group = "somegroup";
          isNormalUser = true;
        };
        users.groups.somegroup.gid = 1000;
      };
    testScript = ''
      start_all()
      machine.succeed("grep -q test_value /run/secrets/test_key")
      with subtest("ownership"):
        for f, u, g, U, G in [
          ("test_key_someuser_somegroup", "1000", "1000", "someuser", "somegroup"),
          ("test_key_someuser_root", "1000", "0", "someuser", "root"),
          ("test_key_root_root", "0", "0", "root", "root"),
          ("test_key_1001_1001", "1001", "1001", "UNKNOWN", "UNKNOWN"),
        ]:
          machine.succeed(f"[ $(stat -c%u /run/secrets/{f}) = '{u}' ]")
          machine.succeed(f"[ $(stat -c%g /run/secrets/{f}) = '{g}' ]")
          machine.succeed(f"[ $(stat -c%U /run/secrets/{f}) = '{U}' ]")
          machine.succeed(f"[ $(stat -c%G /run/secrets/{f}) = '{G}' ]")
        machine.succeed("[ $(stat -c%a /run/secrets/test_key) = '400' ]")
    '';
  };

  # sops-nix's RSA `ssh-keys` test: the host's RSA key (services.openssh.hostKeys, so
  # sops.gnupg.sshKeyPaths by default) becomes the OpenPGP key sops-nix derives from it, and
  # decrypts a file encrypted to that key alone (test-assets/ssh-rsa-secrets.yaml).
  ssh-keys = testers.runNixOSTest {
    name = "nix-sops-ssh-keys";
    nodes.server = {
      imports = [ nixosModule ];
      services.openssh.enable = true;
      services.openssh.hostKeys = [
        {
          type = "rsa";
          bits = 4096;
          path = testAssets + "/ssh-rsa-key";
        }
      ];
      sops.defaultSopsFile = testAssets + "/ssh-rsa-secrets.yaml";
      sops.secrets.test_key = { };
    };
    testScript = ''
      start_all()
      server.succeed("grep -q test_value /run/secrets/test_key")
    '';
  };

  age-ssh-keys = testers.runNixOSTest {
    name = "nix-sops-age-ssh-keys";
    nodes.machine = {
      imports = [ nixosModule ];
      services.openssh.enable = true;
      services.openssh.hostKeys = [
        {
          type = "ed25519";
          path = testAssets + "/ssh-ed25519-key";
        }
      ];
      sops = {
        defaultSopsFile = testAssets + "/secrets.yaml";
        secrets.test_key = { };
        # A generated key appended to the host key must not break decryption.
        age = {
          keyFile = "/tmp/testkey";
          generateKey = true;
        };
      };
    };
    testScript = ''
      start_all()
      machine.succeed("grep -q test_value /run/secrets/test_key")
      machine.succeed("test -s /tmp/testkey")
    '';
  };

  pgp-keys = testers.runNixOSTest {
    name = "nix-sops-pgp-keys";
    nodes.server =
      { config, lib, pkgs, ... }:
      {
        imports = [ nixosModule ];
        users.users.someuser = {
          isSystemUser = true;
          group = "nogroup";
        };
        sops.gnupg.home = "/run/gpghome";
        sops.defaultSopsFile = testAssets + "/secrets.yaml";
        sops.secrets.test_key.owner = config.users.users.someuser.name;
        sops.secrets."nested/test/file".owner = config.users.users.someuser.name;
        sops.secrets.existing-file = {
          key = "test_key";
          path = "/run/existing-file";
        };
        # Must run before setupSecrets.
        system.activationScripts.gnupghome = lib.stringAfter [ "etc" ] ''
          mkdir -p -m 700 /run/gpghome
          ${pkgs.gnupg}/bin/gpg --homedir /run/gpghome --batch --import ${testAssets + "/key.asc"}
          touch /run/existing-file
        '';
        system.activationScripts.setupSecrets.deps = [ "gnupghome" ];
      };
    testScript = ''
      start_all()
      assert server.succeed("cat /run/secrets/test_key") == "test_value"
      server.succeed("runuser -u someuser -- cat /run/secrets/test_key >&2")
      assert server.succeed("cat /run/secrets/nested/test/file") == "another value"
      target = server.succeed("readlink -f /run/existing-file").strip()
      assert target == "/run/secrets.d/1/existing-file", target
    '';
  };

  pruning = testers.runNixOSTest {
    name = "nix-sops-pruning";
    nodes.machine =
      { lib, ... }:
      {
        imports = [
          ageKeySops
          ageKeyInStage2
        ];
        sops = {
          secrets.test_key = { };
          keepGenerations = lib.mkDefault 0;
        };
        specialisation.pruning.configuration.sops.keepGenerations = 10;
      };
    testScript = ''
      machine.succeed("mkdir /run/secrets.d/{2..99} /run/secrets.d/non-numeric")
      machine.succeed("ln -fsn /run/secrets.d/99 /run/secrets")
      machine.succeed("/run/current-system/activate")
      machine.succeed("test -d /run/secrets.d/100")
      # keepGenerations = 0: nothing is pruned
      machine.succeed("test -d /run/secrets.d/1")
      machine.succeed("test -d /run/secrets.d/90")
      machine.succeed("test -d /run/secrets.d/non-numeric")

      machine.succeed("/run/current-system/specialisation/pruning/bin/switch-to-configuration test")
      # now at 101, keeping 10: 92 stays, 91 goes, non-numeric entries are left alone
      machine.fail("test -d /run/secrets.d/91")
      machine.succeed("test -d /run/secrets.d/92")
      machine.succeed("test -d /run/secrets.d/non-numeric")
    '';
  };

  templates = testers.runNixOSTest {
    name = "nix-sops-templates";
    nodes.machine =
      { config, ... }:
      {
        imports = [
          ageKeySops
          ageKeyInStage2
        ];
        sops = {
          secrets.test_key = { };
          # templates next to a neededForUsers secret (sops-nix #659)
          secrets."nested/test/file".neededForUsers = true;
          templates.test_template = {
            content = ''
              This line is not modified.
              The next value will be replaced by ${config.sops.placeholder.test_key}
              This line is also not modified.
            '';
            owner = "someuser";
            group = "somegroup";
          };
          templates.test_default = {
            content = ''
              Test value: ${config.sops.placeholder.test_key}
            '';
            path = "/etc/externally/linked";
          };
          templates.test_uid_gid = {
            uid = 420;
            gid = 420;
            content = ''
              Test value: ${config.sops.placeholder.test_key}
            '';
          };
        };
        users.groups.somegroup = { };
        users.users.someuser = {
          isSystemUser = true;
          group = "somegroup";
        };
      };
    testScript = ''
      start_all()
      machine.succeed("[ $(stat -c%U /run/secrets/rendered/test_template) = 'someuser' ]")
      machine.succeed("[ $(stat -c%G /run/secrets/rendered/test_template) = 'somegroup' ]")
      machine.succeed("[ $(stat -c%U /run/secrets/rendered/test_default) = 'root' ]")
      machine.succeed("[ $(stat -c%G /run/secrets/rendered/test_default) = 'root' ]")
      machine.succeed("[ $(stat -c%u /run/secrets/rendered/test_uid_gid) = '420' ]")
      machine.succeed("[ $(stat -c%g /run/secrets/rendered/test_uid_gid) = '420' ]")
      expected = "This line is not modified.\nThe next value will be replaced by test_value\nThis line is also not modified.\n"
      assert machine.succeed("cat /run/secrets/rendered/test_template") == expected
      assert machine.succeed("cat /run/secrets/rendered/test_default") == "Test value: test_value\n"
      realpath = machine.succeed("realpath /etc/externally/linked").strip()
      assert realpath == "/run/secrets.d/1/rendered/test_default", realpath
      machine.succeed("grep -q 'another value' /run/secrets-for-users/nested/test/file")
    '';
  };

  restart-and-reload = testers.runNixOSTest {
    name = "nix-sops-restart-and-reload";
    nodes.machine = restartNode;
    testScript = assertOutputPy + ''
      machine.wait_for_unit("multi-user.target")
      machine.fail("test -f /restarted")
      machine.fail("test -f /reloaded")
      machine.fail("ls /run/nixos/*-list")  # nothing to restart after boot

      machine.succeed("/run/current-system/bin/switch-to-configuration test")
      machine.fail("test -f /restarted")  # unchanged secret: no restart
      machine.fail("test -f /reloaded")

      machine.succeed(": > /run/secrets/test_key")
      machine.succeed("/run/current-system/bin/switch-to-configuration test")
      machine.succeed("test -f /restarted")
      machine.succeed("test -f /reloaded")
      machine.succeed("rm /restarted /reloaded")

      machine.succeed(": > /run/secrets/rendered/test_template")
      machine.succeed("/run/current-system/bin/switch-to-configuration test")
      machine.succeed("test -f /restarted")
      machine.succeed("test -f /reloaded")
      machine.succeed("rm /restarted /reloaded")

      with subtest("change detection"):
        machine.succeed("rm /run/secrets/test_key /run/secrets/rendered/test_template")
        out = machine.succeed("/run/current-system/bin/switch-to-configuration test")
        assertOutput(out, "adding secret: test_key", "adding rendered secret: test_template")

        machine.succeed(": > /run/secrets/test_key")
        machine.succeed(": > /run/secrets/rendered/test_template")
        out = machine.succeed("/run/current-system/bin/switch-to-configuration test")
        assertOutput(out, "modifying secret: test_key", "modifying rendered secret: test_template")

        machine.succeed(": > /run/secrets/another_key")
        machine.succeed(": > /run/secrets/rendered/another_template")
        out = machine.succeed("/run/current-system/bin/switch-to-configuration test")
        assertOutput(out, "removing secret: another_key", "removing rendered secret: another_template")
    '';
  };

  dry-activate = testers.runNixOSTest {
    name = "nix-sops-dry-activate";
    nodes.machine = restartNode;
    testScript = assertOutputPy + ''
      machine.wait_for_unit("multi-user.target")
      machine.succeed("rm /run/secrets/test_key /run/secrets/rendered/test_template")
      machine.succeed(": > /run/secrets/another_key")
      machine.succeed(": > /run/secrets/rendered/another_template")
      out = machine.succeed("/run/current-system/bin/switch-to-configuration dry-activate")
      assertOutput(
        out,
        "would add secret: test_key",
        "would remove secret: another_key",
        "would add rendered secret: test_template",
        "would remove rendered secret: another_template",
      )
      # nothing was activated
      machine.fail("test -f /run/secrets/test_key")
      machine.fail("test -f /run/secrets/rendered/test_template")
      machine.succeed("test -f /run/secrets/another_key")
      machine.succeed("test -f /run/secrets/rendered/another_template")

      machine.succeed("/run/current-system/bin/switch-to-configuration test")
      machine.succeed("test -f /run/secrets/test_key")
      machine.succeed("test -f /run/secrets/rendered/test_template")
      machine.fail("test -f /run/secrets/another_key")
      machine.fail("test -f /run/secrets/rendered/another_template")
      machine.succeed("rm -f /restarted /reloaded")

      machine.succeed(": > /run/secrets/test_key")
      out = machine.succeed("/run/current-system/bin/switch-to-configuration dry-activate")
      assertOutput(out, "would modify secret: test_key")
      machine.succeed("[ $(cat /run/secrets/test_key | wc -c) = 0 ]")
      machine.fail("test -f /restarted")  # dry mode restarts nothing
      machine.fail("test -f /reloaded")
    '';
  };

  user-passwords = userPasswordTest "nix-sops-user-passwords" ageKeyInStage2;

  user-passwords-sysusers = userPasswordTest "nix-sops-user-passwords-sysusers" {
    imports = [ systemdStage1 ];
    systemd.sysusers.enable = true;
    users.mutableUsers = true;
  };

  user-passwords-userborn = userPasswordTest "nix-sops-user-passwords-userborn" {
    imports = [ systemdStage1 ];
    services.userborn.enable = true;
    users.mutableUsers = false;
  };
}
