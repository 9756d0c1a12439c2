//! The apply machinery (mount, generations, owners, modes, links, changes, units, prune) with a
//! fake decryption source, each test in its own private mount namespace with a tmpfs on /run.
//! Decryption of real sops files is covered by `e2e`.
//!
//! Where a test stands for sops-nix's behaviour it cites its source: `main.go:N` is line N of
//! Mic92/sops-nix's `pkgs/sops-install-secrets/main.go` at commit 56b24064, `nixos-test.nix:N`
//! of its `checks/nixos-test.nix` (the VM test's assertions) at the same commit.

use crate::fake::*;
use nix_sops::install::{self, CheckMode};
use serde_json::json;
use std::path::Path;

const RAMFS: i64 = 0x858458f6;
const TMPFS: i64 = 0x01021994;

fn run(m: &[u8], src: &mut FakeSource) -> install::Result<install::Outcome> {
    install::install_with(m, &opts(), &env(), src)
}

/// A manifest with the one secret `a` from `/s.yaml`: `extra` its options, `top` the manifest's.
fn secret_a(extra: serde_json::Value, top: serde_json::Value) -> Vec<u8> {
    manifest(json!([secret("a", "/s.yaml", extra)]), top)
}

/// `a` (with `value`) and `b` in `/s.yaml`, for [`units_manifest`].
fn a_and_b(a: &str) -> FakeSource {
    FakeSource::default().with("/s.yaml", &[("a", s(a)), ("b", s("B"))])
}

/// What a dry run must leave as it was: the generations and the mounts.
fn secrets_state() -> String {
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            "ls -laR /run/secrets.d; cat /proc/thread-self/mountinfo | grep secrets",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn one(name: &str, value: &str) -> FakeSource {
    FakeSource::default().with("/s.yaml", &[(name, s(value))])
}

#[test]
fn first_install_mounts_ramfs_and_writes_exact_owners_and_modes() {
    in_namespace(|| {
        let (alice, alice_gid) = ensure_user("nixsops-alice");
        let team = ensure_group("nixsops-team");
        let m = manifest(
            json!([
                secret(
                    "a",
                    "/s.yaml",
                    json!({"owner": "nixsops-alice", "group": "nixsops-team", "mode": "0440"})
                ),
                secret(
                    "db/pass",
                    "/s.yaml",
                    json!({"uid": 1234, "gid": 5678, "mode": "0600"})
                ),
                secret(
                    "db/user",
                    "/s.yaml",
                    json!({"owner": "nixsops-alice", "mode": "0400"})
                ),
            ]),
            json!({}),
        );
        let mut src = FakeSource::default().with(
            "/s.yaml",
            &[
                ("a", s("A")),
                ("db", map(&[("pass", s("P")), ("user", s("U"))])),
            ],
        );
        // db/pass and db/user are nested keys ("db" → "pass").
        let out = run(&m, &mut src).unwrap();
        assert_eq!(
            src.calls[Path::new("/s.yaml")],
            1,
            "one decryption per sops file"
        );
        assert_eq!(fs_magic("/run/secrets.d"), RAMFS);
        assert_eq!(meta("/run/secrets.d"), (0, keys_gid(), 0o751));
        assert_eq!(meta("/run/secrets.d/1"), (0, keys_gid(), 0o751));
        assert_eq!(meta("/run/secrets.d/1/db"), (0, keys_gid(), 0o751));
        assert_eq!(link("/run/secrets"), Path::new("/run/secrets.d/1"));
        assert_eq!(read("/run/secrets/a"), "A");
        assert_eq!(meta("/run/secrets/a"), (alice, team, 0o440));
        assert_eq!(read("/run/secrets/db/pass"), "P");
        assert_eq!(meta("/run/secrets/db/pass"), (1234, 5678, 0o600));
        assert_eq!(
            meta("/run/secrets/db/user"),
            (alice, 0, 0o400),
            "group null → gid field"
        );
        let _ = alice_gid;
        assert_eq!(out.record.secrets.added, ["a", "db/pass", "db/user"]);
        let rec: serde_json::Value =
            serde_json::from_str(&read("/run/secrets.d/1/.nix-sops/changes.json")).unwrap();
        assert_eq!(rec["generation"], 1);
        assert_eq!(rec["secrets"]["added"], json!(["a", "db/pass", "db/user"]));
    });
}

#[test]
fn umask_077_does_not_change_configured_modes() {
    in_namespace(|| {
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
        let m = manifest(
            json!([
                secret("a", "/s.yaml", json!({"mode": "0440"})),
                secret("d/b", "/s.yaml", json!({"mode": "0644"}))
            ]),
            json!({}),
        );
        let mut src =
            FakeSource::default().with("/s.yaml", &[("a", s("x")), ("d", map(&[("b", s("y"))]))]);
        let r = run(&m, &mut src);
        nix::sys::stat::umask(old);
        r.unwrap();
        assert_eq!(meta("/run/secrets/a").2, 0o440);
        assert_eq!(meta("/run/secrets/d/b").2, 0o644);
        assert_eq!(meta("/run/secrets.d/1").2, 0o751);
        assert_eq!(meta("/run/secrets.d/1/d").2, 0o751);
    });
}

#[test]
fn ignore_passwd_owns_everything_by_root() {
    in_namespace(|| {
        let m = secret_a(
            json!({"owner": "nixsops-nobody-such", "group": "nixsops-nogroup-such", "uid": 7}),
            json!({}),
        );
        let mut o = opts();
        o.ignore_passwd = true;
        install::install_with(&m, &o, &env(), &mut one("a", "x")).unwrap();
        assert_eq!(meta("/run/secrets/a"), (0, 0, 0o400));
        assert_eq!(meta("/run/secrets.d"), (0, 0, 0o751));
    });
}

#[test]
fn unknown_user_or_group_fails_before_touching_anything() {
    in_namespace(|| {
        for (option, name) in [
            ("owner", "nixsops-does-not-exist"),
            ("group", "nixsops-no-such-group"),
        ] {
            let m = secret_a(json!({ option: name }), json!({}));
            let e = run(&m, &mut one("a", "x")).unwrap_err().to_string();
            assert!(e.contains("secret a") && e.contains(name), "{e}");
            assert!(!Path::new("/run/secrets.d").exists());
            assert!(!Path::new("/run/secrets").exists());
        }
    });
}

fn units_manifest(extra: serde_json::Value) -> Vec<u8> {
    manifest(
        json!([
            secret(
                "a",
                "/s.yaml",
                json!({"restartUnits": ["a.service"], "reloadUnits": ["r.service"]})
            ),
            secret("b", "/s.yaml", json!({"restartUnits": ["b.service"]}))
        ]),
        extra,
    )
}

fn list(name: &str) -> String {
    std::fs::read_to_string(format!("/run/nixos/{name}")).unwrap_or_default()
}

/// A plain `/run/secrets` directory another tool left is replaced and counts as a first
/// activation, as in sops-nix (`prepareSecretsDir` removes it, main.go:420; then no symlink
/// means stage-2 init and `handleModifications` returns at once, main.go:958): nothing ran with
/// our secrets, so nothing is restarted or reloaded.
#[test]
fn a_plain_symlink_path_directory_is_a_first_activation() {
    in_namespace(|| {
        std::fs::create_dir("/run/nixos").unwrap();
        std::fs::create_dir("/run/secrets").unwrap();
        std::fs::write("/run/secrets/a", "stale").unwrap();
        let out = run(&units_manifest(json!({})), &mut a_and_b("1")).unwrap();
        assert_eq!(link("/run/secrets"), Path::new("/run/secrets.d/1"));
        assert_eq!(read("/run/secrets/a"), "1");
        assert_eq!(out.record.secrets.added, ["a", "b"]);
        assert_eq!(list("activation-restart-list"), "");
        assert_eq!(list("activation-reload-list"), "");
    });
}

#[test]
fn restart_and_reload_on_change_and_not_on_no_change() {
    in_namespace(|| {
        std::fs::create_dir("/run/nixos").unwrap();
        // First boot: no symlink yet, nothing to restart (sops-nix: stage-2 init, main.go:958).
        run(&units_manifest(json!({})), &mut a_and_b("1")).unwrap();
        assert_eq!(list("activation-restart-list"), "");
        // Same content: no restart.
        let out = run(&units_manifest(json!({})), &mut a_and_b("1")).unwrap();
        assert!(out.record.is_empty(), "{:?}", out.record);
        assert_eq!(list("activation-restart-list"), "");
        assert_eq!(link("/run/secrets"), Path::new("/run/secrets.d/2"));
        // Changed content of a: a's units only (main.go:986-989), one per line in
        // /run/nixos/activation-{restart,reload}-list (main.go:1078-1108); the log line as
        // main.go:1160-1183 words it (nixos-test.nix:507-511 expects "modifying secret: test_key").
        let out = run(&units_manifest(json!({})), &mut a_and_b("2")).unwrap();
        assert_eq!(out.record.secrets.modified.len(), 1);
        assert!(out.record.secrets.modified[0].content);
        assert_eq!(list("activation-restart-list"), "a.service\n");
        assert_eq!(list("activation-reload-list"), "r.service\n");
        assert_eq!(
            install::log_lines(&out.record, false),
            ["modifying secret: a"]
        );
    });
}

/// nix-sops's own behaviour (README): sops-nix compares content only (main.go:986), so an
/// owner or mode change restarts nothing there. The list is appended to as sops-nix appends
/// (`O_APPEND`, main.go:1086).
#[test]
fn owner_and_mode_changes_trigger_restart() {
    in_namespace(|| {
        ensure_user("nixsops-alice");
        std::fs::create_dir("/run/nixos").unwrap();
        let m1 = secret_a(json!({"restartUnits": ["a.service"]}), json!({}));
        run(&m1, &mut one("a", "x")).unwrap();
        let m2 = secret_a(
            json!({"restartUnits": ["a.service"], "owner": "nixsops-alice"}),
            json!({}),
        );
        let out = run(&m2, &mut one("a", "x")).unwrap();
        let md = &out.record.secrets.modified[0];
        assert!(md.owner && !md.content && !md.mode, "{md:?}");
        assert_eq!(list("activation-restart-list"), "a.service\n");
        let m3 = secret_a(
            json!({"restartUnits": ["a.service"], "owner": "nixsops-alice", "mode": "0440"}),
            json!({}),
        );
        let out = run(&m3, &mut one("a", "x")).unwrap();
        assert!(out.record.secrets.modified[0].mode);
        assert_eq!(list("activation-restart-list"), "a.service\na.service\n");
    });
}

/// `SOPS_RESTART_UNITS_VIA_SYSTEMCTL=1` (main.go:1041): `systemctl --no-block try-restart` and
/// `try-reload-or-restart` (main.go:1050, 1070, 1073), no list files; a dry run runs nothing,
/// it only prints `would restart <unit>` (main.go:1059-1065).
#[test]
fn systemctl_mode_calls_try_restart_and_try_reload_or_restart() {
    in_namespace(|| {
        std::fs::create_dir("/run/nixos").unwrap();
        let log = "/run/systemctl.log";
        std::fs::write(
            "/run/fake-systemctl",
            format!("#!/bin/sh\necho \"$@\" >> {log}\n"),
        )
        .unwrap();
        std::fs::set_permissions(
            "/run/fake-systemctl",
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let mut e = env();
        e.restart_via_systemctl = true;
        e.systemctl = "/run/fake-systemctl".into();
        let install_units = |e: &install::Env, a: &str| {
            install::install_with(&units_manifest(json!({})), &opts(), e, &mut a_and_b(a)).unwrap()
        };
        install_units(&e, "1");
        install_units(&e, "2");
        assert_eq!(
            read(log),
            "--no-block try-restart -- a.service\n--no-block try-reload-or-restart -- r.service\n"
        );
        assert_eq!(
            list("activation-restart-list"),
            "",
            "no list files in systemctl mode"
        );
        // Dry: nothing is run.
        e.dry_activate = true;
        install_units(&e, "3");
        assert_eq!(read(log).lines().count(), 2);
    });
}

/// Log lines worded as main.go:1160-1187 (`would …` under `NIXOS_ACTION=dry-activate`,
/// main.go:1379; nixos-test.nix:528-534, 555-558); units go to
/// /run/nixos/dry-activation-restart-list (main.go:1101). nix-sops's own (README): sops-nix
/// prints nothing before the first activation (main.go:958) and leaves the new generation
/// directory behind (`prepareSecretsDir` runs before the dry-run return, main.go:1448, 1466).
#[test]
fn dry_activate_has_no_side_effects() {
    in_namespace(|| {
        std::fs::create_dir("/run/nixos").unwrap();
        let mut e = env();
        e.dry_activate = true;
        // Before any install: not even the mount point appears.
        let out = install::install_with(&units_manifest(json!({})), &opts(), &e, &mut a_and_b("1"))
            .unwrap();
        assert!(out.generation.is_none());
        assert!(!Path::new("/run/secrets.d").exists() && !Path::new("/run/secrets").exists());
        assert_eq!(
            install::log_lines(&out.record, true),
            ["would add secrets: a, b"]
        );

        run(&units_manifest(json!({})), &mut a_and_b("1")).unwrap();
        let before = secrets_state();
        let out = install::install_with(
            &secret_a(json!({"restartUnits": ["a.service"]}), json!({})),
            &opts(),
            &e,
            &mut one("a", "changed"),
        )
        .unwrap();
        let after = secrets_state();
        assert_eq!(before, after);
        assert_eq!(link("/run/secrets"), Path::new("/run/secrets.d/1"));
        assert_eq!(read("/run/secrets/a"), "1");
        assert_eq!(list("dry-activation-restart-list"), "a.service\n");
        assert_eq!(list("activation-restart-list"), "");
        assert_eq!(
            install::log_lines(&out.record, true),
            ["would modify secret: a", "would remove secret: b"]
        );
        // The next real run gets generation 2 (nothing was left behind to collide with).
        run(&units_manifest(json!({})), &mut a_and_b("1")).unwrap();
        assert_eq!(link("/run/secrets"), Path::new("/run/secrets.d/2"));
    });
}

#[test]
fn custom_path_replaces_existing_file_and_is_owned_by_the_secret_owner() {
    in_namespace(|| {
        let (alice, gid) = ensure_user("nixsops-alice");
        std::fs::write("/run/existing-file", "old").unwrap();
        let m = manifest(
            json!([
                secret(
                    "existing-file",
                    "/s.yaml",
                    json!({"path": "/run/existing-file", "owner": "nixsops-alice", "group": "nixsops-alice"})
                ),
                secret("deep", "/s.yaml", json!({"path": "/run/some/new/dir/deep"}))
            ]),
            json!({}),
        );
        let mut src =
            FakeSource::default().with("/s.yaml", &[("existing-file", s("new")), ("deep", s("d"))]);
        run(&m, &mut src).unwrap();
        assert_eq!(
            link("/run/existing-file"),
            Path::new("/run/secrets/existing-file")
        );
        assert_eq!(read("/run/existing-file"), "new");
        assert_eq!(
            std::fs::canonicalize("/run/existing-file").unwrap(),
            Path::new("/run/secrets.d/1/existing-file")
        );
        assert_eq!(
            meta("/run/existing-file").0,
            alice,
            "the link itself is lchown'ed"
        );
        assert_eq!(meta("/run/existing-file").1, gid);
        assert_eq!(read("/run/some/new/dir/deep"), "d");
    });
}

#[test]
fn stale_out_of_tree_links_are_removed_and_foreign_files_kept() {
    in_namespace(|| {
        let m = manifest(
            json!([
                secret("a", "/s.yaml", json!({"path": "/run/etc/a"})),
                secret("b", "/s.yaml", json!({"path": "/run/etc/b"})),
                secret("c", "/s.yaml", json!({"path": "/run/etc/c"}))
            ]),
            json!({}),
        );
        let mut src =
            FakeSource::default().with("/s.yaml", &[("a", s("1")), ("b", s("2")), ("c", s("3"))]);
        run(&m, &mut src).unwrap();
        assert!(Path::new("/run/etc/b").is_symlink());
        // c's link was replaced by the admin with a real file: not ours any more.
        std::fs::remove_file("/run/etc/c").unwrap();
        std::fs::write("/run/etc/c", "mine").unwrap();
        // b moves, c goes away.
        let m = manifest(
            json!([
                secret("a", "/s.yaml", json!({"path": "/run/etc/a"})),
                secret("b", "/s.yaml", json!({"path": "/run/etc/b2"}))
            ]),
            json!({}),
        );
        let out = run(
            &m,
            &mut FakeSource::default().with("/s.yaml", &[("a", s("1")), ("b", s("2"))]),
        )
        .unwrap();
        assert!(Path::new("/run/etc/a").is_symlink());
        assert!(
            !Path::new("/run/etc/b").exists() && !Path::new("/run/etc/b").is_symlink(),
            "stale link removed"
        );
        assert_eq!(read("/run/etc/b2"), "2");
        assert_eq!(
            read("/run/etc/c"),
            "mine",
            "a file we did not create is kept"
        );
        assert_eq!(out.record.secrets.removed, ["c"]);
        assert_eq!(out.record.links.len(), 2);
    });
}

#[test]
fn pruning_keeps_ten_generations_and_non_numeric_entries() {
    in_namespace(|| {
        let m0 = secret_a(json!({}), json!({"keepGenerations": 0}));
        run(&m0, &mut one("a", "x")).unwrap();
        for n in 2..=99 {
            std::fs::create_dir(format!("/run/secrets.d/{n}")).unwrap();
        }
        std::fs::create_dir("/run/secrets.d/non-numeric").unwrap();
        std::os::unix::fs::symlink("/run/secrets.d/99", "/run/secrets.tmp").unwrap();
        std::fs::rename("/run/secrets.tmp", "/run/secrets").unwrap();
        run(&m0, &mut one("a", "x")).unwrap();
        assert!(Path::new("/run/secrets.d/100").is_dir());
        let ls = std::process::Command::new("ls")
            .arg("/run/secrets.d")
            .output()
            .unwrap()
            .stdout;
        assert!(
            Path::new("/run/secrets.d/1").is_dir() && Path::new("/run/secrets.d/90").is_dir(),
            "keep 0 prunes nothing: {}",
            String::from_utf8_lossy(&ls)
        );
        let m10 = secret_a(json!({}), json!({"keepGenerations": 10}));
        run(&m10, &mut one("a", "x")).unwrap();
        assert_eq!(link("/run/secrets"), Path::new("/run/secrets.d/101"));
        assert!(!Path::new("/run/secrets.d/91").exists());
        assert!(!Path::new("/run/secrets.d/1").exists());
        assert!(Path::new("/run/secrets.d/92").is_dir());
        assert!(Path::new("/run/secrets.d/non-numeric").is_dir());
    });
}

#[test]
fn templates_render_every_placeholder_including_needed_for_users_secrets() {
    in_namespace(|| {
        // The for-users manifest ran first (-ignore-passwd), as activation orders it.
        let fu = manifest(
            json!([secret(
                "user-pw",
                "/u.yaml",
                json!({"path": "/run/secrets-for-users/user-pw", "neededForUsers": true})
            )]),
            json!({"secretsMountPoint": "/run/secrets-for-users.d", "symlinkPath": "/run/secrets-for-users"}),
        );
        let mut o = opts();
        o.ignore_passwd = true;
        install::install_with(
            &fu,
            &o,
            &env(),
            &mut FakeSource::default().with("/u.yaml", &[("user-pw", s("$6$hash"))]),
        )
        .unwrap();
        assert_eq!(read("/run/secrets-for-users/user-pw"), "$6$hash");

        let m = manifest(
            json!([
                secret("db", "/s.yaml", json!({})),
                secret("api", "/s.yaml", json!({}))
            ]),
            json!({
                "templates": [
                    {"name": "app.env", "content": "DB=<P:db>\nAPI=<P:api>\nPW=<P:user-pw>\nDB2=<P:db>\n", "file": "", "path": "/run/secrets/rendered/app.env",
                     "mode": "0440", "owner": null, "uid": 0, "group": null, "gid": 33, "restartUnits": [], "reloadUnits": []},
                    {"name": "sub/linked", "content": "<P:api>", "file": "", "path": "/run/etc/linked", "mode": "0400", "owner": null, "uid": 0, "group": null, "gid": 0}
                ],
                "placeholderBySecretName": {"db": "<P:db>", "api": "<P:api>", "user-pw": "<P:user-pw>"}
            }),
        );
        // A value that contains another placeholder is not substituted again.
        let mut src =
            FakeSource::default().with("/s.yaml", &[("db", s("d<P:api>")), ("api", s("A"))]);
        let out = run(&m, &mut src).unwrap();
        assert_eq!(
            read("/run/secrets/rendered/app.env"),
            "DB=d<P:api>\nAPI=A\nPW=$6$hash\nDB2=d<P:api>\n"
        );
        assert_eq!(meta("/run/secrets/rendered/app.env"), (0, 33, 0o440));
        assert_eq!(read("/run/etc/linked"), "A");
        assert_eq!(
            link("/run/etc/linked"),
            Path::new("/run/secrets/rendered/sub/linked")
        );
        assert_eq!(out.record.templates.added, ["app.env", "sub/linked"]);
        // Worded as main.go:1160-1187; on this first activation sops-nix itself prints nothing
        // (main.go:958), nix-sops does (README).
        assert_eq!(
            install::log_lines(&out.record, false),
            [
                "adding secrets: api, db",
                "adding rendered secrets: app.env, sub/linked"
            ]
        );

        // Without the for-users generation the template cannot be rendered: a clear error.
        std::fs::remove_file("/run/secrets-for-users").unwrap();
        let e = run(
            &m,
            &mut FakeSource::default().with("/s.yaml", &[("db", s("d")), ("api", s("A"))]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("template app.env") && e.contains("user-pw"),
            "{e}"
        );
        assert_eq!(link("/run/secrets"), Path::new("/run/secrets.d/1"));
    });
}

#[test]
fn failures_before_the_switch_keep_the_old_generation() {
    in_namespace(|| {
        let m = manifest(
            json!([
                secret("a", "/s.yaml", json!({})),
                secret("b", "/t.yaml", json!({"key": "x/y"}))
            ]),
            json!({}),
        );
        let good = || {
            FakeSource::default()
                .with("/s.yaml", &[("a", s("1"))])
                .with("/t.yaml", &[("x", map(&[("y", s("2"))]))])
        };
        run(&m, &mut good()).unwrap();
        // Missing key: the error names the secret, the key path and the file.
        let e = run(
            &m,
            &mut FakeSource::default()
                .with("/s.yaml", &[("a", s("1"))])
                .with("/t.yaml", &[("x", map(&[]))]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("secret b") && e.contains("'x/y'") && e.contains("/t.yaml"),
            "{e}"
        );
        // A file that cannot be decrypted.
        let e = run(
            &m,
            &mut FakeSource::default().with("/s.yaml", &[("a", s("1"))]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("/t.yaml"), "{e}");
        assert_eq!(link("/run/secrets"), Path::new("/run/secrets.d/1"));
        assert!(!Path::new("/run/secrets.d/2").exists());
        assert_eq!(read("/run/secrets/b"), "2");
        // A key that is not a map on the way.
        let e = run(
            &m,
            &mut FakeSource::default()
                .with("/s.yaml", &[("a", s("1"))])
                .with("/t.yaml", &[("x", s("flat"))]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("secret b") && e.contains("x/y"), "{e}");
    });
}

fn is_empty_dir(path: &str) -> bool {
    std::fs::read_dir(path).unwrap().next().is_none()
}

#[test]
fn symlinked_mount_point_or_generation_is_refused() {
    in_namespace(|| {
        std::fs::create_dir("/run/elsewhere").unwrap();
        std::os::unix::fs::symlink("/run/elsewhere", "/run/secrets.d").unwrap();
        let m = secret_a(json!({}), json!({}));
        let e = run(&m, &mut one("a", "x")).unwrap_err().to_string();
        assert!(e.contains("symlink"), "{e}");
        assert!(is_empty_dir("/run/elsewhere"));
        std::fs::remove_file("/run/secrets.d").unwrap();

        run(&m, &mut one("a", "x")).unwrap();
        // Replace the live generation with a symlink to an attacker-chosen dir.
        std::fs::rename("/run/secrets.d/1", "/run/secrets.d/real").unwrap();
        std::os::unix::fs::symlink("/run/elsewhere", "/run/secrets.d/1").unwrap();
        let e = run(&m, &mut one("a", "y")).unwrap_err().to_string();
        assert!(e.contains("symlink"), "{e}");
        assert!(is_empty_dir("/run/elsewhere"));
    });
}

#[test]
fn leftover_generation_of_an_interrupted_run_is_replaced() {
    in_namespace(|| {
        let m = secret_a(json!({}), json!({}));
        run(&m, &mut one("a", "x")).unwrap();
        std::fs::create_dir("/run/secrets.d/2").unwrap();
        std::fs::write("/run/secrets.d/2/a", "partial").unwrap();
        std::fs::write("/run/secrets.d/2/junk", "junk").unwrap();
        run(&m, &mut one("a", "y")).unwrap();
        assert_eq!(link("/run/secrets"), Path::new("/run/secrets.d/2"));
        assert_eq!(read("/run/secrets/a"), "y");
        assert!(!Path::new("/run/secrets.d/2/junk").exists());
    });
}

#[test]
fn tmpfs_and_mount_reuse() {
    in_namespace(|| {
        let m = secret_a(json!({}), json!({"useTmpfs": true}));
        run(&m, &mut one("a", "x")).unwrap();
        assert_eq!(fs_magic("/run/secrets.d"), TMPFS);
        run(&m, &mut one("a", "y")).unwrap();
        let mounts = read("/proc/thread-self/mountinfo")
            .lines()
            .filter(|l| l.split(' ').nth(4) == Some("/run/secrets.d"))
            .count();
        assert_eq!(mounts, 1, "an existing mount of the right type is reused");
        let opts = read("/proc/thread-self/mountinfo");
        let line = opts
            .lines()
            .find(|l| l.split(' ').nth(4) == Some("/run/secrets.d"))
            .unwrap();
        assert!(
            line.contains("nodev") && line.contains("nosuid") && line.contains("noexec"),
            "{line}"
        );
    });
}

#[test]
fn existing_secrets_directory_is_replaced_by_the_symlink() {
    in_namespace(|| {
        std::fs::create_dir("/run/secrets").unwrap();
        std::fs::write("/run/secrets/old", "x").unwrap();
        let m = secret_a(json!({}), json!({}));
        run(&m, &mut one("a", "x")).unwrap();
        assert_eq!(link("/run/secrets"), Path::new("/run/secrets.d/1"));
    });
}

#[test]
fn user_mode_uses_the_runtime_dir_without_mount_or_chown() {
    in_namespace(|| {
        std::fs::create_dir_all("/run/user/4242").unwrap();
        let m = secret_a(
            json!({"path": "%r/links/a", "owner": "nixsops-not-used"}),
            json!({"userMode": true, "secretsMountPoint": "%r/secrets.d", "symlinkPath": "%r/secrets"}),
        );
        run(&m, &mut one("a", "x")).unwrap();
        assert_eq!(
            link("/run/user/4242/secrets"),
            Path::new("/run/user/4242/secrets.d/1")
        );
        assert_eq!(read("/run/user/4242/links/a"), "x");
        assert_ne!(fs_magic("/run/user/4242/secrets.d"), RAMFS);
        assert_eq!(meta("/run/user/4242/secrets.d").2, 0o700);
    });
}

#[test]
fn check_modes_touch_nothing() {
    in_namespace(|| {
        let m = manifest(
            json!([secret(
                "a",
                "/nonexistent.yaml",
                json!({"owner": "nixsops-nobody-such"})
            )]),
            json!({}),
        );
        let mut o = opts();
        o.check_mode = CheckMode::Manifest;
        install::install_bytes(&m, &o, &env()).unwrap();
        assert!(!Path::new("/run/secrets.d").exists());
        o.check_mode = CheckMode::Sopsfile;
        let e = install::install_bytes(&m, &o, &env())
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent.yaml"), "{e}");
    });
}

/// main.go:1160-1187: one line per kind and change, in the order added, modified, removed,
/// secrets before rendered secrets, names sorted and joined with ", ", plural "s" when more than
/// one; `would add`/`would modify`/`would remove` when dry. nixos-test.nix:498-520 and 528-534
/// assert the same words ("adding secret: test_key", "removing rendered secret:
/// another_template", "would add rendered secret: test_template", …).
#[test]
fn log_lines_match_sops_nix_wording() {
    let rec = install::Record {
        secrets: install::Section {
            added: vec!["a".into(), "b".into()],
            modified: vec![install::Modified {
                name: "m".into(),
                content: true,
                owner: false,
                mode: false,
            }],
            removed: vec!["r".into()],
        },
        templates: install::Section {
            added: vec!["t".into()],
            modified: vec![],
            removed: vec!["x".into(), "y".into()],
        },
        ..Default::default()
    };
    assert_eq!(
        install::log_lines(&rec, false),
        [
            "adding secrets: a, b",
            "modifying secret: m",
            "removing secret: r",
            "adding rendered secret: t",
            "removing rendered secrets: x, y"
        ]
    );
    assert_eq!(
        install::log_lines(&rec, true),
        [
            "would add secrets: a, b",
            "would modify secret: m",
            "would remove secret: r",
            "would add rendered secret: t",
            "would remove rendered secrets: x, y"
        ]
    );
}
