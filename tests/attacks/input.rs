//! Hostile or mistaken input: files that are not regular (FIFO, device, directory, socket) or too
//! large, symlinked template sources, manifest fields that would wrap, inject lines or reach
//! systemctl as options, and signals to `nix-sops edit` while the plaintext is on disk.

use super::{ns, ok, peers, secret, text, Fixture};
use nix::sys::stat::Mode;
use serde_json::json;
use std::os::unix::fs::symlink;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the installer with `args` on `m`, bounded by `timeout` (a hang is exit 124) and 2 GB of
/// address space (so reading a device cannot take the machine), then `after`. Returns the
/// installer's exit code and the whole output.
fn install(args: &str, m: &Path, after: &str) -> (i32, Output) {
    let o = ns(
        &format!(
            "set +e\n(ulimit -v 2000000; exec timeout 20 $BIN {args} {})\nrc=$?\nset -e\necho RC=$rc\n{after}",
            m.display()
        ),
        &[],
    );
    let stdout = text(&o.stdout);
    let rc = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RC="))
        .unwrap_or_else(|| panic!("no exit code: {stdout}\n{}", text(&o.stderr)))
        .parse()
        .unwrap();
    (rc, o)
}

/// Asserts the installer failed by itself (not by the timeout), and returns its stderr.
#[track_caller]
fn refused(rc: i32, o: &Output) -> String {
    let stderr = text(&o.stderr);
    assert_ne!(rc, 124, "the installer hung: {stderr}");
    assert_ne!(rc, 0, "the installer succeeded: {stderr}");
    stderr
}

const UNTOUCHED: &str = "test ! -e /run/secrets && test ! -e /run/secrets.d/1 && echo UNTOUCHED";

fn mkfifo(p: &Path) {
    nix::unistd::mkfifo(p, Mode::from_bits_truncate(0o644)).unwrap();
}

#[test]
fn sops_file_fifo_is_refused_without_hanging() {
    let f = Fixture::with_age_key();
    let fifo = f.p("secrets.yaml");
    mkfifo(&fifo);
    let m = f.manifest("m.json", json!([secret("a", &fifo, json!({}))]), json!({}));
    let (rc, o) = install("", &m, UNTOUCHED);
    let e = refused(rc, &o);
    assert!(
        e.contains(&format!(
            "sops file {} is a FIFO (named pipe), not a regular file",
            fifo.display()
        )),
        "{e}"
    );
    assert!(text(&o.stdout).contains("UNTOUCHED"), "{}", text(&o.stdout));
    // `-check-mode=sopsfile` reads the same files, the same way.
    let (rc, o) = install("-check-mode=sopsfile", &m, "");
    let e = refused(rc, &o);
    assert!(e.contains("is a FIFO (named pipe)"), "{e}");
}

#[test]
fn sops_file_device_directory_and_oversize_are_refused() {
    let f = Fixture::with_age_key();
    let big = f.p("big.yaml");
    std::fs::File::create(&big)
        .unwrap()
        .set_len((64 << 20) + 1)
        .unwrap();
    let dir = f.p("a-directory");
    std::fs::create_dir(&dir).unwrap();
    let zero = PathBuf::from("/dev/zero");
    for (file, needle) in [
        (
            &zero,
            "sops file /dev/zero is a character device, not a regular file",
        ),
        (&dir, "is a directory, not a regular file"),
        (&big, "is larger than 64 MiB (the limit for a sops file)"),
    ] {
        let m = f.manifest("m.json", json!([secret("a", file, json!({}))]), json!({}));
        let (rc, o) = install("", &m, UNTOUCHED);
        let e = refused(rc, &o);
        assert!(e.contains(needle), "{}: {e}", file.display());
        assert!(e.contains(&file.display().to_string()), "{e}");
        assert!(text(&o.stdout).contains("UNTOUCHED"));
        let (rc, o) = install("-check-mode=sopsfile", &m, "");
        let e = refused(rc, &o);
        assert!(e.contains(needle), "check-mode, {}: {e}", file.display());
    }
}

#[test]
fn age_key_file_fifo_is_refused_without_hanging() {
    let f = Fixture::with_age_key();
    let s = f.encrypt("s.yaml", "a: value\n");
    let fifo = f.p("keys.txt");
    mkfifo(&fifo);
    let m = f.manifest(
        "m.json",
        json!([secret("a", &s, json!({}))]),
        json!({ "ageKeyFile": fifo }),
    );
    let (rc, o) = install("", &m, UNTOUCHED);
    let e = refused(rc, &o);
    assert!(
        e.contains(&format!(
            "ageKeyFile {} is a FIFO (named pipe), not a regular file",
            fifo.display()
        )),
        "{e}"
    );
    assert!(text(&o.stdout).contains("UNTOUCHED"));
}

/// Impermanence setups link host keys to a persistent volume: a link is followed, but what it
/// points at must still be a regular file.
#[test]
fn symlinked_host_key_is_followed_but_must_reach_a_regular_file() {
    peers::require("ssh-keygen");
    let f = Fixture::with_age_key();
    let persist = f.p("persist");
    std::fs::create_dir(&persist).unwrap();
    let real = persist.join("ssh_host_ed25519_key");
    assert!(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&real)
        .status()
        .unwrap()
        .success());
    let pubkey = std::fs::read_to_string(real.with_extension("pub")).unwrap();
    let recipient = nix_sops::keys::public_key_to_age(pubkey.trim()).unwrap();
    let s = f.encrypt_to("s.json", r#"{"a": "from-linked-key"}"#, &recipient);
    let linked = f.p("ssh_host_ed25519_key");
    symlink(&real, &linked).unwrap();
    let fifo = persist.join("fifo_key");
    mkfifo(&fifo);
    let to_fifo = f.p("ssh_host_fifo_key");
    symlink(&fifo, &to_fifo).unwrap();
    let m = f.manifest(
        "m.json",
        json!([secret("a", &s, json!({"format": "json"}))]),
        json!({"ageKeyFile": null, "ageSshKeyPaths": [to_fifo, linked]}),
    );
    let (rc, o) = install("", &m, "cat /run/secrets/a");
    assert_eq!(rc, 0, "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).ends_with("from-linked-key"),
        "{}",
        text(&o.stdout)
    );
    let e = text(&o.stderr);
    assert!(
        e.contains(&format!(
            "ssh key {} is a FIFO (named pipe), not a regular file",
            to_fifo.display()
        )),
        "the link to a FIFO is a warning: {e}"
    );
}

fn template(name: &str, file: &Path) -> serde_json::Value {
    json!({
        "name": name, "content": "", "file": file, "path": format!("/run/secrets/rendered/{name}"),
        "mode": "0400", "owner": null, "uid": 0, "group": null, "gid": 0,
        "restartUnits": [], "reloadUnits": []
    })
}

/// Whoever owns a template's `file` swaps it for a link to a root-only file: its text must not
/// be rendered (to a file that user may read).
#[test]
fn template_file_symlink_to_a_root_only_file_is_not_followed() {
    let f = Fixture::with_age_key();
    let s = f.encrypt("s.yaml", "a: value\n");
    let shadow = f.p("shadow");
    std::fs::write(&shadow, "root:ROOT-ONLY-HASH:19000::::::\n").unwrap();
    std::fs::set_permissions(&shadow, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let tmpl = f.p("app.conf.tmpl");
    symlink(&shadow, &tmpl).unwrap();
    let fifo = f.p("fifo.tmpl");
    mkfifo(&fifo);
    for (file, needle) in [
        (
            &tmpl,
            format!(
                "template t: template file {} is a symbolic link, which is not followed",
                tmpl.display()
            ),
        ),
        (
            &fifo,
            format!(
                "template t: template file {} is a FIFO (named pipe)",
                fifo.display()
            ),
        ),
    ] {
        let m = f.manifest(
            "m.json",
            json!([secret("a", &s, json!({}))]),
            json!({"templates": [template("t", file)], "placeholderBySecretName": {"a": "<A>"}}),
        );
        let (rc, o) = install(
            "",
            &m,
            &format!("{UNTOUCHED}\ncat /run/secrets/rendered/t || true"),
        );
        let e = refused(rc, &o);
        assert!(e.contains(&needle), "{e}");
        let all = format!("{}{e}", text(&o.stdout));
        assert!(!all.contains("ROOT-ONLY-HASH"), "{all}");
        assert!(text(&o.stdout).contains("UNTOUCHED"));
    }
    // A regular template file still renders.
    let plain = f.p("plain.tmpl");
    std::fs::write(&plain, "x=<A>\n").unwrap();
    let m = f.manifest(
        "m.json",
        json!([secret("a", &s, json!({}))]),
        json!({"templates": [template("t", &plain)], "placeholderBySecretName": {"a": "<A>"}}),
    );
    let (rc, o) = install("", &m, "cat /run/secrets/rendered/t");
    assert_eq!(rc, 0, "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).ends_with("x=value\n"),
        "{}",
        text(&o.stdout)
    );
}

/// keepGenerations near u64::MAX wrapped `n + keep` and deleted generations that should stay.
#[test]
fn huge_keep_generations_is_refused_and_deletes_nothing() {
    let f = Fixture::with_age_key();
    let s = f.encrypt("s.yaml", "a: value\n");
    let m = |keep: u64| {
        f.manifest(
            &format!("m{keep}.json"),
            json!([secret("a", &s, json!({}))]),
            json!({ "keepGenerations": keep }),
        )
    };
    let (keep_all, huge, go_max) = (m(0), m(u64::MAX), m(i64::MAX as u64));
    let o = ns(
        &format!(
            "$BIN {all} >/dev/null; $BIN {all} >/dev/null\n\
             if $BIN {huge}; then echo HUGE-ACCEPTED; fi\n\
             echo GENERATIONS $(ls /run/secrets.d) LIVE $(readlink /run/secrets)\n\
             $BIN {max} >/dev/null; echo AFTER-MAX $(ls /run/secrets.d)",
            all = keep_all.display(),
            huge = huge.display(),
            max = go_max.display()
        ),
        &[],
    );
    let stdout = ok(&o);
    let e = text(&o.stderr);
    assert!(!stdout.contains("HUGE-ACCEPTED"), "{stdout}");
    assert!(
        e.contains("keepGenerations 18446744073709551615 is larger than sops-nix accepts (at most 9223372036854775807)"),
        "{e}"
    );
    assert!(
        stdout.contains("GENERATIONS 1 2 LIVE /run/secrets.d/2\n"),
        "{stdout}"
    );
    // The largest Go int is valid and keeps everything.
    assert!(stdout.contains("AFTER-MAX 1 2 3\n"), "{stdout}");
}

/// Each manifest mistake is refused before anything is touched, naming the entry.
#[test]
fn names_units_and_ids_that_would_inject_or_mislead_are_refused() {
    let f = Fixture::with_age_key();
    let s = f.encrypt("s.yaml", "a: value\n");
    let cases: Vec<(serde_json::Value, serde_json::Value, &str)> = vec![
        (
            json!([secret("a\nb", &s, json!({"key": "a"}))]),
            json!({}),
            r#"secret #0 "a\nb": the name contains a control character"#,
        ),
        (
            json!([secret("a\u{1b}[2J", &s, json!({"key": "a"}))]),
            json!({}),
            "the name contains a control character",
        ),
        (
            json!([secret("a", &s, json!({}))]),
            json!({"templates": [{"name": "t\tx", "content": "<A>"}], "placeholderBySecretName": {"a": "<A>"}}),
            r#"template #0 "t\tx": the name contains a control character"#,
        ),
        (
            json!([secret(
                "a",
                &s,
                json!({"restartUnits": ["a.service\nevil.service"]})
            )]),
            json!({}),
            r#"restartUnits of secret a: "a.service\nevil.service" is not a systemd unit name"#,
        ),
        (
            json!([secret("a", &s, json!({"path": "/etc/app\nevil"}))]),
            json!({}),
            r#"path of secret a "/etc/app\nevil" contains a control character"#,
        ),
        (
            json!([secret("a", &s, json!({"reloadUnits": ["--help"]}))]),
            json!({}),
            r#"reloadUnits of secret a: "--help" is not a systemd unit name"#,
        ),
        (
            json!([secret("a", &s, json!({"restartUnits": ["x@.service"]}))]),
            json!({}),
            "a template without an instance",
        ),
        (
            json!([secret("a", &s, json!({"uid": 4294967295u32}))]),
            json!({}),
            "secret a: uid 4294967295 is the \"do not change\" value of chown",
        ),
        (
            json!([secret("a", &s, json!({}))]),
            json!({"templates": [{"name": "t", "content": "<A>", "gid": 4294967295u32}], "placeholderBySecretName": {"a": "<A>"}}),
            "template t: gid 4294967295 is the \"do not change\" value of chown",
        ),
    ];
    for (i, (secrets, extra, needle)) in cases.into_iter().enumerate() {
        let m = f.manifest(&format!("m{i}.json"), secrets, extra);
        let (rc, o) = install("", &m, UNTOUCHED);
        let e = refused(rc, &o);
        assert!(e.contains(needle), "case {i}: {e}");
        assert!(text(&o.stdout).contains("UNTOUCHED"), "case {i}");
        assert!(
            !e.lines().any(|l| l.starts_with("evil") || l == "b"),
            "case {i}: a line was injected: {e}"
        );
    }
}

/// Unit names reach systemctl after `--`, so none can be read as an option.
#[test]
fn systemctl_gets_the_units_after_a_double_dash() {
    let f = Fixture::with_age_key();
    let bin = f.p("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("systemctl");
    std::fs::write(&fake, "#!/bin/sh\necho \"$@\" >> /run/systemctl.log\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let m = |value: &str| {
        let s = f.encrypt(&format!("s-{value}.yaml"), &format!("a: {value}\n"));
        f.manifest(
            &format!("m-{value}.json"),
            json!([secret("a", &s, json!({"restartUnits": ["a.service", "getty@tty1.service"], "reloadUnits": ["r.service"]}))]),
            json!({}),
        )
    };
    let (one, two) = (m("one"), m("two"));
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let o = ns(
        &format!(
            "$BIN {} >/dev/null\n$BIN {} >/dev/null\ncat /run/systemctl.log",
            one.display(),
            two.display()
        ),
        &[("SOPS_RESTART_UNITS_VIA_SYSTEMCTL", "1"), ("PATH", &path)],
    );
    assert_eq!(
        ok(&o),
        "--no-block try-restart -- a.service getty@tty1.service\n--no-block try-reload-or-restart -- r.service\n"
    );
}

// ---- nix-sops edit ----

/// The test's `XDG_RUNTIME_DIR`: on RAM (`/dev/shm`), as `edit` keeps the plaintext only on a
/// RAM-backed directory; named after the test's directory, removed by [`runtime_is_empty`].
fn runtime(dir: &Path) -> PathBuf {
    Path::new("/dev/shm").join(format!(
        "nix-sops-test-{}",
        dir.file_name().unwrap().to_string_lossy()
    ))
}

/// Whether nothing is left in the runtime directory; it is removed when so.
fn runtime_is_empty(dir: &Path) -> bool {
    let empty = std::fs::read_dir(runtime(dir)).unwrap().next().is_none();
    if empty {
        std::fs::remove_dir(runtime(dir)).unwrap();
    }
    empty
}

/// Runs `nix-sops edit s.yaml` in `dir` with `editor` (a script path); the scratch goes under
/// [`runtime`] (XDG_RUNTIME_DIR). `own_group` starts it as a process group leader, as a
/// shell's foreground job is.
fn edit(
    dir: &Path,
    editor: &Path,
    key_file: &Path,
    own_group: bool,
    env: &[(&str, &str)],
) -> Output {
    let runtime = runtime(dir);
    if !runtime.is_dir() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&runtime)
            .unwrap();
    }
    let mut c = Command::new(env!("CARGO_BIN_EXE_nix-sops"));
    c.current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("SOPS_AGE_KEY_FILE", key_file)
        .env("EDITOR", editor)
        .env("MARK", dir.join("scratch-path"))
        .envs(env.iter().copied())
        .args(["edit", "s.yaml"]);
    if own_group {
        c.process_group(0);
    }
    c.output().unwrap()
}

fn editor_script(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("editor.sh");
    std::fs::write(
        &p,
        format!("#!/bin/sh\nprintf '%s' \"$1\" > \"$MARK\"\ngrep SigBlk /proc/self/status > \"$MARK.mask\"\n{body}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    p
}

fn edit_fixture() -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let (dir, key, key_file) = peers::dir_with_key("key.txt");
    let enc = peers::sops_encrypt(
        dir.path(),
        "s.yaml",
        b"password: hunter2\n",
        &["--age", &key.recipient],
    );
    std::fs::write(dir.path().join("s.yaml"), &enc).unwrap();
    (dir, key_file, enc)
}

/// The plaintext the editor was given is gone, with its private directory; the file unchanged.
#[track_caller]
fn scratch_is_gone(dir: &Path, enc: &[u8]) {
    let scratch = PathBuf::from(std::fs::read_to_string(dir.join("scratch-path")).unwrap());
    assert!(scratch.starts_with(runtime(dir)), "{}", scratch.display());
    assert!(!scratch.exists(), "{} was left behind", scratch.display());
    assert!(
        runtime_is_empty(dir),
        "the scratch directory was left behind"
    );
    assert_eq!(std::fs::read(dir.join("s.yaml")).unwrap(), enc);
    // The editor could be signalled: it did not inherit the mask nix-sops blocks them with.
    let mask = std::fs::read_to_string(dir.join("scratch-path.mask")).unwrap();
    assert_eq!(mask.trim(), "SigBlk:\t0000000000000000");
}

#[test]
fn edit_removes_the_plaintext_on_sigterm_sighup_and_sigint_sent_to_it() {
    for (sig, n) in [("TERM", 15), ("HUP", 1), ("INT", 2)] {
        let (dir, key_file, enc) = edit_fixture();
        let d = dir.path();
        // The signal goes to nix-sops alone (as `kill PID` does); the editor would stay.
        let editor = editor_script(d, &format!("kill -{sig} $PPID\nexec sleep 30"));
        let o = edit(d, &editor, &key_file, false, &[]);
        assert_eq!(
            o.status.signal(),
            Some(n),
            "SIG{sig}: {:?} {}",
            o.status,
            text(&o.stderr)
        );
        scratch_is_gone(d, &enc);
        assert!(
            text(&o.stderr).contains("the plaintext removed"),
            "{}",
            text(&o.stderr)
        );
    }
}

#[test]
fn edit_removes_the_plaintext_on_sigint_to_its_process_group() {
    // Ctrl-C in a terminal: the whole foreground group, editor included, gets SIGINT.
    let (dir, key_file, enc) = edit_fixture();
    let d = dir.path();
    let editor = editor_script(d, "kill -INT 0\nsleep 30");
    let o = edit(d, &editor, &key_file, true, &[]);
    assert_eq!(
        o.status.signal(),
        Some(2),
        "{:?} {}",
        o.status,
        text(&o.stderr)
    );
    scratch_is_gone(d, &enc);
}

#[test]
fn edit_removes_the_plaintext_when_the_editor_fails() {
    let (dir, key_file, enc) = edit_fixture();
    let d = dir.path();
    let editor = editor_script(d, "exit 3");
    let o = edit(d, &editor, &key_file, false, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("failed"), "{}", text(&o.stderr));
    scratch_is_gone(d, &enc);
    // And a normal edit still works: sops reads the result.
    let editor = editor_script(d, "sed -i s/hunter2/changed/ \"$1\"");
    let o = edit(d, &editor, &key_file, false, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let plain = peers::sops_decrypt(d, "s.yaml", &key_file, &[]);
    assert_eq!(text(&plain.stdout), "password: changed\n");
    assert!(runtime_is_empty(d), "the scratch directory was left behind");
}

#[test]
fn edit_stopped_while_decrypting_never_writes_the_plaintext() {
    let (dir, key_file, enc) = edit_fixture();
    let d = dir.path();
    let editor = editor_script(d, "exit 0");
    // The key command (run while the file is decrypted) sends SIGTERM to nix-sops.
    let o = edit(
        d,
        &editor,
        &key_file,
        false,
        &[("SOPS_AGE_KEY_CMD", "sh -c 'kill -TERM $PPID'")],
    );
    assert_eq!(
        o.status.signal(),
        Some(15),
        "{:?} {}",
        o.status,
        text(&o.stderr)
    );
    assert!(
        text(&o.stderr).contains("SIGTERM received: s.yaml was not changed"),
        "{}",
        text(&o.stderr)
    );
    assert!(!d.join("scratch-path").exists(), "the editor was started");
    assert!(runtime_is_empty(d));
    assert_eq!(std::fs::read(d.join("s.yaml")).unwrap(), enc);
}
