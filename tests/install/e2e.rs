//! End to end: the real `sops-install-secrets` binary on files encrypted by the real sops 3.11,
//! each run in a private mount namespace (`unshare -m --propagation private`) with a tmpfs on
//! /run, so the real /run/secrets, /run/secrets.d and /run/nixos paths are used without touching
//! the host.
//!
//! Where an expected line stands for sops-nix's output it cites its source: `main.go:N` is line
//! N of Mic92/sops-nix's `pkgs/sops-install-secrets/main.go` at commit 56b24064,
//! `nixos-test.nix:N` of its `checks/nixos-test.nix` (the VM test's assertions) there.

use crate::common as peers;

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_sops-install-secrets");

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the installer tests need root (CI runs them as root; a normal user can try `unshare -rm cargo test`)"
    );
    peers::require("unshare");
}

/// Runs `script` (sh) in a fresh private mount namespace with a tmpfs on /run. `$BIN` is the
/// installer.
fn ns(script: &str, env: &[(&str, &str)]) -> Output {
    require_root();
    peers::installer_ns(BIN, script, env)
}

use peers::{ok, text};

struct Fixture {
    dir: tempfile::TempDir,
    key: PathBuf,
    recipient: String,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let k = peers::AgeKey::generate();
        let key = k.write(dir.path(), "age.txt");
        Fixture {
            recipient: k.recipient.clone(),
            dir,
            key,
        }
    }
    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// Encrypts `plain` (named `name`, so sops picks the store by extension) to the fixture key.
    fn encrypt(&self, name: &str, plain: &str) -> PathBuf {
        self.encrypt_to(name, plain, &self.recipient.clone())
    }
    fn encrypt_to(&self, name: &str, plain: &str, recipients: &str) -> PathBuf {
        let enc = peers::sops_encrypt(
            self.dir.path(),
            &format!("plain-{name}"),
            plain.as_bytes(),
            &["--age", recipients, "--filename-override", name],
        );
        let p = self.p(name);
        std::fs::write(&p, enc).unwrap();
        p
    }
    /// What the real sops prints for `--extract`.
    fn sops_extract(&self, file: &Path, extract: &str) -> Vec<u8> {
        let name = file.file_name().unwrap().to_str().unwrap();
        let mut args = vec![];
        if !extract.is_empty() {
            args.extend(["--extract", extract]);
        }
        let o = peers::sops_decrypt(self.dir.path(), name, &self.key, &args);
        assert!(o.status.success(), "{}", text(&o.stderr));
        o.stdout
    }
    fn manifest(
        &self,
        name: &str,
        secrets: serde_json::Value,
        extra: serde_json::Value,
    ) -> PathBuf {
        let mut m = json!({
            "secrets": secrets, "templates": [], "placeholderBySecretName": {},
            "secretsMountPoint": "/run/secrets.d", "symlinkPath": "/run/secrets", "keepGenerations": 1,
            "gnupgHome": null, "sshKeyPaths": [], "ageKeyFile": self.key, "ageSshKeyPaths": [],
            "useTmpfs": false, "userMode": false, "logging": {"keyImport": true, "secretChanges": true}
        });
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        let p = self.p(name);
        std::fs::write(&p, serde_json::to_vec(&m).unwrap()).unwrap();
        p
    }
}

fn secret(name: &str, file: &Path, format: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut s = json!({
        "name": name, "key": name, "path": format!("/run/secrets/{name}"), "format": format, "mode": "0400",
        "owner": null, "uid": 0, "group": null, "gid": 0, "sopsFile": file, "sopsFileHash": "",
        "restartUnits": [], "reloadUnits": [], "neededForUsers": false
    });
    for (k, v) in extra.as_object().unwrap() {
        s[k] = v.clone();
    }
    s
}

const JSON_PLAIN: &str = r#"{"token": "t0k3n", "db": {"password": "hunter2", "port": 5432}, "flag": true, "ratio": 1.5, "list": [1, "a"], "nested": {"deep": {"x": "y"}}}"#;

#[test]
fn json_keys_nested_scalars_subtrees_and_whole_files_match_sops_extract() {
    let f = Fixture::new();
    let j = f.encrypt("secrets.json", JSON_PLAIN);
    let env_file = f.encrypt("app.env", "A=1\nB=two\n");
    let ini = f.encrypt("conf.ini", "[s]\nk = v\n");
    let bin = f.encrypt("blob.bin", "\x00\x01binary\n");
    let m = f.manifest(
        "m.json",
        json!([
            secret("token", &j, "json", json!({})),
            secret("db/password", &j, "json", json!({})),
            secret("port", &j, "json", json!({"key": "db/port"})),
            secret("flag", &j, "json", json!({})),
            secret("ratio", &j, "json", json!({})),
            secret("list", &j, "json", json!({})),
            secret("deep", &j, "json", json!({"key": "nested/deep"})),
            secret("whole.json", &j, "json", json!({"key": ""})),
            secret("env", &env_file, "dotenv", json!({"key": "ignored"})),
            secret("ini", &ini, "ini", json!({})),
            secret("bin", &bin, "binary", json!({})),
        ]),
        json!({}),
    );
    let out = ns(&format!("$BIN {}\ncd /run/secrets && for f in token db/password port flag ratio list deep whole.json env ini bin; do printf '%s:' $f; base64 -w0 $f; echo; done", m.display()), &[]);
    let stdout = ok(&out);
    let got: std::collections::HashMap<String, Vec<u8>> = stdout
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| !k.contains(' '))
        .map(|(k, v)| (k.to_owned(), base64_decode(v)))
        .collect();
    for (name, file, extract) in [
        ("token", &j, r#"["token"]"#),
        ("db/password", &j, r#"["db"]["password"]"#),
        ("port", &j, r#"["db"]["port"]"#),
        ("flag", &j, r#"["flag"]"#),
        ("ratio", &j, r#"["ratio"]"#),
        ("list", &j, r#"["list"]"#),
        ("deep", &j, r#"["nested"]["deep"]"#),
        ("whole.json", &j, ""),
        ("env", &env_file, ""),
        ("ini", &ini, ""),
        ("bin", &bin, ""),
    ] {
        assert_eq!(
            got.get(name),
            Some(&f.sops_extract(file, extract)),
            "{name}: installed value differs from `sops decrypt --extract`"
        );
    }
    // Worded as main.go:1160-1182 (names sorted); on a first activation sops-nix itself prints
    // nothing (main.go:958), nix-sops does (README).
    assert!(stdout.contains("adding secrets: bin, db/password, deep, env, flag, ini, list, port, ratio, token, whole.json\n"), "{stdout}");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap()
}

#[test]
fn each_sops_file_is_decrypted_once() {
    // A key command that counts its runs: sops-nix ran it once per secret (#792).
    let f = Fixture::new();
    let j = f.encrypt("s.json", r#"{"a": "1", "b": "2", "c": "3"}"#);
    let counter = f.p("count");
    let cmd = f.p("keycmd.sh");
    std::fs::write(
        &cmd,
        format!(
            "#!/bin/sh\necho x >> {}\ncat {}\n",
            counter.display(),
            f.key.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cmd, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let m = f.manifest(
        "m.json",
        json!([
            secret("a", &j, "json", json!({})),
            secret("b", &j, "json", json!({})),
            secret("c", &j, "json", json!({}))
        ]),
        json!({"ageKeyFile": null}),
    );
    ok(&ns(
        &format!("$BIN {}", m.display()),
        &[("SOPS_AGE_KEY_CMD", cmd.to_str().unwrap())],
    ));
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap().lines().count(),
        1
    );
}

#[test]
fn missing_key_names_secret_key_and_file() {
    let f = Fixture::new();
    let j = f.encrypt("s.json", r#"{"a": {"b": "1"}}"#);
    let m = f.manifest(
        "m.json",
        json!([secret("x", &j, "json", json!({"key": "a/nope"}))]),
        json!({}),
    );
    let o = ns(&format!("$BIN {}; echo unreachable", m.display()), &[]);
    assert_eq!(o.status.code(), Some(1));
    let e = text(&o.stderr);
    assert!(
        e.starts_with("sops-install-secrets: ")
            && e.contains("secret x")
            && e.contains("'a/nope'")
            && e.contains("s.json"),
        "{e}"
    );
}

#[test]
fn ssh_host_key_is_imported_as_age_key() {
    peers::require("ssh-keygen");
    let f = Fixture::new();
    let key = f.p("ssh_host_ed25519_key");
    assert!(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap()
        .success());
    let pubkey = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let recipient = nix_sops::keys::public_key_to_age(pubkey.trim()).unwrap();
    let j = f.encrypt_to("s.json", r#"{"a": "from-ssh"}"#, &recipient);
    let missing = f.p("no-such-key");
    let m = f.manifest(
        "m.json",
        json!([secret("a", &j, "json", json!({}))]),
        json!({"ageKeyFile": null, "ageSshKeyPaths": [missing, key]}),
    );
    let o = ns(&format!("$BIN {}\ncat /run/secrets/a", m.display()), &[]);
    let stdout = ok(&o);
    assert!(stdout.ends_with("from-ssh"), "{stdout}");
    let stderr = text(&o.stderr);
    // main.go:908, on stderr. An unreadable key: sops-nix prints "Cannot read ssh key" and goes
    // on (main.go:891); nix-sops words it as a warning.
    assert!(
        stderr.contains(&format!(
            "sops-install-secrets: Imported {} as age key with fingerprint {recipient}",
            key.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning") && stderr.contains("no-such-key"),
        "an unreadable key is a warning: {stderr}"
    );
    // With no readable key at all, it is an error.
    let m = f.manifest(
        "m2.json",
        json!([secret("a", &j, "json", json!({}))]),
        json!({"ageKeyFile": missing}),
    );
    let o = ns(&format!("$BIN {}", m.display()), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
}

#[test]
fn tampered_sops_file_leaves_the_old_generation_live() {
    let f = Fixture::new();
    let j = f.encrypt("s.json", r#"{"a": "good"}"#);
    let m = f.manifest(
        "m.json",
        json!([secret("a", &j, "json", json!({}))]),
        json!({}),
    );
    let tampered = f.p("tampered.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&j).unwrap()).unwrap();
    // Swap the value for another valid ENC[] blob: decrypts with the right key but fails the MAC
    // (or the value's own tag) — never installed.
    let enc = v["a"].as_str().unwrap().to_owned();
    let at = "ENC[AES256_GCM,data:".len() + 2;
    let c = if &enc[at..at + 1] == "A" { "B" } else { "A" };
    let flipped = format!("{}{c}{}", &enc[..at], &enc[at + 1..]);
    v["a"] = json!(flipped);
    std::fs::write(&tampered, serde_json::to_vec(&v).unwrap()).unwrap();
    let m2 = f.manifest(
        "m2.json",
        json!([secret("a", &tampered, "json", json!({}))]),
        json!({}),
    );
    let o = ns(&format!("$BIN {} >/dev/null\nif $BIN {}; then echo SECOND-SUCCEEDED; fi\nreadlink /run/secrets; cat /run/secrets/a; echo; ls /run/secrets.d", m.display(), m2.display()), &[]);
    let out = ok(&o);
    assert!(!out.contains("SECOND-SUCCEEDED"), "{out}");
    assert_eq!(
        out,
        "/run/secrets.d/1\ngood\n1\n",
        "stderr: {}",
        text(&o.stderr)
    );
    assert!(
        text(&o.stderr).contains("sops-install-secrets: failed to decrypt"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn umask_077_with_mode_0440_gives_0440() {
    let f = Fixture::new();
    let j = f.encrypt("s.json", r#"{"a": "x"}"#);
    let m = f.manifest(
        "m.json",
        json!([secret("a", &j, "json", json!({"mode": "0440"}))]),
        json!({}),
    );
    let out = ok(&ns(&format!("umask 077\n$BIN {} >/dev/null\nstat -c %a /run/secrets.d/1/a /run/secrets.d/1 /run/secrets.d", m.display()), &[]));
    assert_eq!(out, "440\n751\n751\n");
}

#[test]
fn users_password_file_via_for_users_manifest_and_ignore_passwd() {
    let f = Fixture::new();
    let j = f.encrypt("s.json", r#"{"alice-pw": "$6$salt$hash", "api": "k"}"#);
    let fu = f.manifest(
        "fu.json",
        json!([secret("alice-pw", &j, "json", json!({"path": "/run/secrets-for-users/alice-pw", "owner": "nixsops-not-yet-created", "neededForUsers": true}))]),
        json!({"secretsMountPoint": "/run/secrets-for-users.d", "symlinkPath": "/run/secrets-for-users"}),
    );
    let m = f.manifest(
        "m.json",
        json!([secret("api", &j, "json", json!({}))]),
        json!({"templates": [{"name": "cfg", "content": "pw=<pw>\napi=<api>\n", "file": "", "path": "/run/secrets/rendered/cfg", "mode": "0400", "owner": null, "uid": 0, "group": null, "gid": 0, "restartUnits": [], "reloadUnits": []}],
               "placeholderBySecretName": {"alice-pw": "<pw>", "api": "<api>"}}),
    );
    let out = ok(&ns(&format!("$BIN -ignore-passwd {}\n$BIN {}\nstat -c '%U %a' /run/secrets-for-users/alice-pw\ncat /run/secrets-for-users/alice-pw; echo\ncat /run/secrets/rendered/cfg", fu.display(), m.display()), &[]));
    assert!(
        out.ends_with("root 400\n$6$salt$hash\npw=$6$salt$hash\napi=k\n"),
        "{out}"
    );
}

#[test]
fn kill_9_at_random_moments_never_leaves_a_broken_generation() {
    let f = Fixture::new();
    let n = 300;
    let plain: serde_json::Map<String, serde_json::Value> = (0..n)
        .map(|i| (format!("s{i}"), json!(format!("value-{i}"))))
        .collect();
    let j = f.encrypt("s.json", &serde_json::Value::Object(plain).to_string());
    let secrets: Vec<_> = (0..n)
        .map(|i| secret(&format!("s{i}"), &j, "json", json!({})))
        .collect();
    let m = f.manifest("m.json", json!(secrets), json!({"keepGenerations": 3}));
    let script = format!(
        r#"
checked=0; killed=0
for i in $(seq 1 200); do
  r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
  d=$(awk -v r="$r" 'BEGIN {{ printf "%.4f", 0.001 + (r % 60) / 1000 }}')
  if timeout -s KILL "$d" $BIN {m} >/dev/null 2>&1; then :; else killed=$((killed+1)); fi
  if [ -e /run/secrets ]; then
    g=$(readlink /run/secrets)
    [ -f "$g/.nix-sops/changes.json" ] || {{ echo "BROKEN $i: $g has no record"; exit 1; }}
    c=$(ls "$g" | wc -l)
    [ "$c" = {n} ] || {{ echo "BROKEN $i: $g has $c files"; exit 1; }}
    [ "$(cat "$g/s{last}")" = "value-{last}" ] || {{ echo "BROKEN $i: wrong content"; exit 1; }}
    checked=$((checked+1))
  fi
done
$BIN {m} >/dev/null
[ "$(cat /run/secrets/s7)" = value-7 ]
echo "checked=$checked killed=$killed"
"#,
        m = m.display(),
        n = n,
        last = n - 1
    );
    let out = ok(&ns(&script, &[]));
    let killed: u32 = out
        .trim()
        .rsplit("killed=")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        killed > 10,
        "too few runs were interrupted to prove anything: {out}"
    );
}

#[test]
fn check_modes_and_flags() {
    let f = Fixture::new();
    let j = f.encrypt("s.json", r#"{"a": {"b": "1"}}"#);
    let good = f.manifest(
        "good.json",
        json!([secret(
            "x",
            &j,
            "json",
            json!({"key": "a/b", "owner": "nixsops-unknown"})
        )]),
        json!({}),
    );
    let bad = f.manifest(
        "bad.json",
        json!([secret("x", &j, "json", json!({"key": "a/c"}))]),
        json!({}),
    );
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("HOME", "/var/empty")
            .output()
            .unwrap()
    };
    let g = good.to_str().unwrap();
    let b = bad.to_str().unwrap();
    for args in [
        vec!["-check-mode=manifest", g],
        vec!["--check-mode=manifest", g],
        vec!["-check-mode", "sopsfile", g],
        vec!["--check-mode", "sopsfile", "-ignore-passwd=true", g],
        vec!["-ignore-passwd", "-check-mode=sopsfile", g],
        vec!["-check-mode=manifest", b],
    ] {
        let o = run(&args);
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
    }
    let o = run(&["-check-mode=sopsfile", b]);
    assert_eq!(o.status.code(), Some(1));
    let e = text(&o.stderr);
    assert!(
        e.starts_with("sops-install-secrets: manifest is not valid:")
            && e.contains("secret x")
            && e.contains("a/c"),
        "{e}"
    );
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("Usage:"), "{}", text(&o.stderr));
    let o = run(&["-check-mode=bogus", g]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("bogus"));
    let o = run(&["-check-mode=off", "/nonexistent/manifest.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).starts_with("sops-install-secrets: failed to open manifest"));
    // Unknown format: an error, not yaml.
    let fmt = f.manifest(
        "fmt.json",
        json!([secret("x", &j, "toml", json!({}))]),
        json!({}),
    );
    let o = run(&["-check-mode=manifest", fmt.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("unsupported format \"toml\""));
}

/// sops-nix's protocol: no output and no restart on a first activation (main.go:958), nothing
/// when nothing changed; `would add/modify/remove` lines under `NIXOS_ACTION=dry-activate`
/// (main.go:1379, 1182-1184; nixos-test.nix:528-534) and units in
/// /run/nixos/dry-activation-restart-list (main.go:1101); then the real run's lines
/// (nixos-test.nix:498-520) and a's unit in /run/nixos/activation-restart-list (main.go:1103,
/// 1105); a removed secret restarts nothing (units come only from the manifest's secrets,
/// main.go:962-991). nix-sops's own (README): the first activation logs `adding secrets: a, b`,
/// and the dry run leaves no generation behind (`ls` shows 2 alone; sops-nix would leave 3,
/// main.go:1448, 1466).
#[test]
fn restart_lines_and_dry_activate_output() {
    let f = Fixture::new();
    let j1 = f.encrypt("s1.json", r#"{"a": "1", "b": "2"}"#);
    let j2 = f.encrypt("s2.json", r#"{"a": "changed", "c": "3"}"#);
    let m1 = f.manifest(
        "m1.json",
        json!([
            secret("a", &j1, "json", json!({"restartUnits": ["a.service"]})),
            secret("b", &j1, "json", json!({"reloadUnits": ["b.service"]}))
        ]),
        json!({}),
    );
    let m2 = f.manifest(
        "m2.json",
        json!([
            secret("a", &j2, "json", json!({"restartUnits": ["a.service"]})),
            secret("c", &j2, "json", json!({}))
        ]),
        json!({}),
    );
    let out = ok(&ns(&format!(
        "mkdir /run/nixos\n$BIN {m1}\necho ---\n$BIN {m1}\necho ---\nNIXOS_ACTION=dry-activate $BIN {m2}\necho ---\nls /run/secrets.d; cat /run/nixos/dry-activation-restart-list\necho ---\n$BIN {m2}\ncat /run/nixos/activation-restart-list",
        m1 = m1.display(), m2 = m2.display()), &[]));
    assert_eq!(
        out,
        "adding secrets: a, b\n---\n---\nwould add secret: c\nwould modify secret: a\nwould remove secret: b\n---\n2\na.service\n---\nadding secret: c\nmodifying secret: a\nremoving secret: b\na.service\n"
    );
}

/// sops-nix's VM test `restart-and-reload` (checks/nixos-test.nix:374-560), replayed with the
/// real installer: the same secret and template with the same units, the same edits of
/// /run/secrets between activations. The lines printed are compared with the test's own
/// `assertOutput` expectations, which tests/nix/cases/regenerate.sh copies from sops-nix into
/// tests/nix/sops-nix-vm-output.json. The unit lists stand for what the VM checks through
/// /restarted and /reloaded (nixos-test.nix:457-490): main.go:986-989, 1105-1108, compared
/// sorted: sops-nix appends units in manifest order, repeats included (main.go:972-973,
/// 987-988), nix-sops writes them sorted and once each; switch-to-configuration reads a set. The
/// boot activation's output is not compared: sops-nix prints nothing there (main.go:958),
/// nix-sops logs what it added (README).
#[test]
fn sops_nix_vm_restart_and_reload_scenario_prints_its_lines() {
    let vm: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nix/sops-nix-vm-output.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let expected: Vec<String> = vm["restart-and-reload"]
        .as_array()
        .unwrap()
        .iter()
        .map(|call| {
            call.as_array()
                .unwrap()
                .iter()
                .map(|l| format!("{}\n", l.as_str().unwrap()))
                .collect()
        })
        .collect();
    assert_eq!(expected.len(), 5, "{expected:?}");

    let f = Fixture::new();
    let y = f.encrypt("secrets.yaml", "test_key: test_value\n");
    let units = json!({
        "restartUnits": ["restart-unit.service", "reload-unit.service"],
        "reloadUnits": ["reload-trigger.service"]
    });
    let placeholder = "<SOPS:test_key:PLACEHOLDER>";
    let mut template = json!({
        "name": "test_template", "path": "/run/secrets/rendered/test_template",
        "content": format!("this is a template with\na secret: {placeholder}\n"), "file": "",
        "mode": "0400", "owner": null, "uid": 0, "group": null, "gid": 0
    });
    for (k, v) in units.as_object().unwrap() {
        template[k] = v.clone();
    }
    let m = f.manifest(
        "m.json",
        json!([secret("test_key", &y, "yaml", units.clone())]),
        json!({"templates": [template], "placeholderBySecretName": {"test_key": placeholder}}),
    );
    let script = r#"mkdir /run/nixos
lists() {
  for l in restart reload; do echo "$l: $(sort /run/nixos/activation-$l-list 2>/dev/null | tr '\n' ' ')"; done
  rm -f /run/nixos/activation-restart-list /run/nixos/activation-reload-list
}
$BIN $M >/dev/null
ls /run/nixos; echo ---
$BIN $M; lists; echo ---
: > /run/secrets/test_key
$BIN $M >/dev/null; lists; echo ---
: > /run/secrets/rendered/test_template
$BIN $M >/dev/null; lists; echo ---
rm /run/secrets/test_key /run/secrets/rendered/test_template
$BIN $M; lists >/dev/null; echo ---
: > /run/secrets/test_key; : > /run/secrets/rendered/test_template
$BIN $M; lists >/dev/null; echo ---
: > /run/secrets/another_key; : > /run/secrets/rendered/another_template
$BIN $M; lists >/dev/null; echo ---
rm /run/secrets/test_key /run/secrets/rendered/test_template
: > /run/secrets/another_key; : > /run/secrets/rendered/another_template
NIXOS_ACTION=dry-activate $BIN $M; echo ---
test ! -e /run/secrets/test_key; test ! -e /run/secrets/rendered/test_template
test -f /run/secrets/another_key; test -f /run/secrets/rendered/another_template
$BIN $M >/dev/null
test -f /run/secrets/test_key; test -f /run/secrets/rendered/test_template
test ! -e /run/secrets/another_key; test ! -e /run/secrets/rendered/another_template
: > /run/secrets/test_key
NIXOS_ACTION=dry-activate $BIN $M; echo ---
wc -c < /run/secrets/test_key
"#;
    let out = ok(&ns(script, &[("M", m.to_str().unwrap())]));
    let steps: Vec<&str> = out.split("---\n").collect();
    let restarted =
        "restart: reload-unit.service restart-unit.service \nreload: reload-trigger.service \n";
    assert_eq!(
        &steps[..4],
        ["", "restart: \nreload: \n", restarted, restarted],
        "after boot nothing to restart; no change, nothing; a changed secret or template, its units\n{out}"
    );
    assert_eq!(&steps[4..9], &expected[..], "{out}");
    assert_eq!(
        steps[9], "0\n",
        "dry-activate left the edited secret as it was\n{out}"
    );
}

/// A throwaway GnuPG home with one passphrase-less key; returns (home, fingerprint).
fn gpg_home(dir: &Path) -> (PathBuf, String) {
    peers::require("gpg");
    let home = dir.join("gnupg");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let st = Command::new("gpg")
        .arg("--homedir")
        .arg(&home)
        .args([
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "nix-sops test <test@example.invalid>",
            "rsa2048",
            "encr",
            "never",
        ])
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", text(&st.stderr));
    let out = Command::new("gpg")
        .arg("--homedir")
        .arg(&home)
        .args(["--batch", "--with-colons", "--list-keys"])
        .output()
        .unwrap();
    let fp = text(&out.stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix("fpr:")
                .map(|r| r.trim_matches(':').to_owned())
        })
        .unwrap();
    (home, fp)
}

fn sops_encrypt_pgp(f: &Fixture, home: &Path, name: &str, plain: &str, fp: &str) -> PathBuf {
    let src = f.p(&format!("plain-{name}"));
    std::fs::write(&src, plain).unwrap();
    let o = peers::sops(
        f.dir.path(),
        &[
            "encrypt",
            "--pgp",
            fp,
            "--filename-override",
            name,
            src.file_name().unwrap().to_str().unwrap(),
        ],
        &[("GNUPGHOME", home.to_str().unwrap())],
    );
    assert!(
        o.status.success(),
        "sops encrypt --pgp: {}",
        text(&o.stderr)
    );
    let p = f.p(name);
    std::fs::write(&p, o.stdout).unwrap();
    p
}

#[test]
fn gnupg_home_decrypts_pgp_files() {
    let f = Fixture::new();
    let (home, fp) = gpg_home(f.dir.path());
    let j = sops_encrypt_pgp(&f, &home, "s.json", r#"{"a": {"b": "via-gpg"}}"#, &fp);
    let m = f.manifest(
        "m.json",
        json!([secret("nested", &j, "json", json!({"key": "a/b"}))]),
        json!({"ageKeyFile": null, "gnupgHome": home}),
    );
    let out = ok(&ns(
        &format!("$BIN {} >/dev/null\ncat /run/secrets/nested", m.display()),
        &[],
    ));
    assert_eq!(out, "via-gpg");
    // gnupgHome and ageKeyFile are mutually exclusive, as in sops-nix (main.go:721-729).
    let m = f.manifest(
        "m2.json",
        json!([secret("nested", &j, "json", json!({"key": "a/b"}))]),
        json!({"gnupgHome": home}),
    );
    let o = Command::new(BIN)
        .arg("-check-mode=manifest")
        .arg(&m)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("gnupgHome and ageKeyFile were specified in the manifest. Both options are mutually exclusive."));
}

#[test]
fn rsa_ssh_host_key_is_imported_as_pgp_key() {
    peers::require("ssh-keygen");
    let f = Fixture::new();
    let key = f.p("ssh_host_rsa_key");
    assert!(Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap()
        .success());
    // The public half of the derived OpenPGP key goes into a keyring only so that the real sops
    // can encrypt to it.
    let mut ring = nix_sops::keys::Keyring::new();
    let fp = ring.add_rsa_ssh_key_as_pgp(&key).unwrap();
    let armored = ring.pgp[0].public_key_armored().unwrap();
    let home = f.p("gnupg-pub");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let mut imp = Command::new("gpg")
        .arg("--homedir")
        .arg(&home)
        .args(["--batch", "--import"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(imp.stdin.as_mut().unwrap(), armored.as_bytes()).unwrap();
    drop(imp.stdin.take());
    assert!(imp.wait_with_output().unwrap().status.success());
    let j = sops_encrypt_pgp(&f, &home, "s.json", r#"{"a": "via-rsa"}"#, &fp);
    let m = f.manifest(
        "m.json",
        json!([secret("a", &j, "json", json!({}))]),
        json!({"ageKeyFile": null, "sshKeyPaths": [key]}),
    );
    let out = ok(&ns(
        &format!("$BIN {}\ncat /run/secrets/a", m.display()),
        &[],
    ));
    // main.go:879: on stdout, the fingerprint in lower-case hex. The first activation's
    // `adding secret: a` is nix-sops's own (sops-nix prints nothing then, main.go:958).
    assert!(
        out.starts_with(&format!(
            "sops-install-secrets: Imported {} as GPG key with fingerprint {}\n",
            key.display(),
            fp.to_lowercase()
        )),
        "{out}"
    );
    assert!(out.ends_with("adding secret: a\nvia-rsa"), "{out}");
}

const YAML_PLAIN: &str = "token: t0k3n\ndb:\n  password: hunter2\n  port: 5432\nflag: true\nratio: 1.5\nlist:\n  - 1\n  - a\nmulti: |\n  line one\n  line two\nnested:\n  deep:\n    x: y\n";

#[test]
fn yaml_keys_nested_scalars_subtrees_and_whole_file_match_sops_extract() {
    let f = Fixture::new();
    let y = f.encrypt("secrets.yaml", YAML_PLAIN);
    let cases = [
        ("token", "token", r#"["token"]"#),
        ("db/password", "db/password", r#"["db"]["password"]"#),
        ("port", "db/port", r#"["db"]["port"]"#),
        ("flag", "flag", r#"["flag"]"#),
        ("ratio", "ratio", r#"["ratio"]"#),
        ("list", "list", r#"["list"]"#),
        ("multi", "multi", r#"["multi"]"#),
        ("deep", "nested/deep", r#"["nested"]["deep"]"#),
        ("whole", "", ""),
    ];
    let secrets: Vec<_> = cases
        .iter()
        .map(|(n, k, _)| secret(n, &y, "yaml", json!({"key": k})))
        .collect();
    let m = f.manifest("m.json", json!(secrets), json!({}));
    let names: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let out = ok(&ns(&format!("$BIN {} >/dev/null\ncd /run/secrets && for f in {}; do printf '%s:' $f; base64 -w0 $f; echo; done", m.display(), names.join(" ")), &[]));
    let got: std::collections::HashMap<String, Vec<u8>> = out
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_owned(), base64_decode(v)))
        .collect();
    for (name, _, extract) in cases {
        assert_eq!(
            got.get(name),
            Some(&f.sops_extract(&y, extract)),
            "{name}: installed value differs from `sops decrypt --extract`"
        );
    }
}

#[test]
fn nix_sops_install_is_the_same_code_path() {
    let nix_sops = env!("CARGO_BIN_EXE_nix-sops");
    let f = Fixture::new();
    let j = f.encrypt("s.json", r#"{"a": "1"}"#);
    let m = f.manifest(
        "m.json",
        json!([secret("a", &j, "json", json!({}))]),
        json!({}),
    );
    let out = ok(&ns(
        &format!("{nix_sops} install --dry-run {m}\ntest ! -e /run/secrets.d\n{nix_sops} install --check-mode sopsfile {m}\n{nix_sops} install --ignore-passwd {m}\nstat -c '%U:%G %a' /run/secrets/a", m = m.display()),
        &[],
    ));
    // Worded as main.go:1182; before and on the first activation sops-nix prints nothing
    // (main.go:958), nix-sops does (README).
    assert_eq!(
        out,
        "would add secret: a\nadding secret: a\nroot:root 400\n"
    );
}

#[test]
fn invalid_manifests_are_rejected_before_touching_anything() {
    let f = Fixture::new();
    let j = f.encrypt("s.json", r#"{"a": "1"}"#);
    for (bad, needle) in [
        (secret("../escape", &j, "json", json!({})), "`..`"),
        (
            secret("a", &j, "json", json!({"path": "/run/x/../y"})),
            "`..`",
        ),
        (secret("/abs", &j, "json", json!({})), "relative"),
        (
            secret("a//b", &j, "json", json!({})),
            "empty path component",
        ),
        (secret("a", &j, "json", json!({"mode": "01000000"})), "mode"),
        (secret("a", &j, "json", json!({"mode": "rw"})), "mode"),
        (
            secret("a", &j, "json", json!({"owner": "nixsops-no-such-user"})),
            "nixsops-no-such-user",
        ),
    ] {
        let m = f.manifest("bad.json", json!([bad]), json!({}));
        let o = ns(
            &format!(
                "if $BIN {}; then echo INSTALLED; fi\nls -A /run",
                m.display()
            ),
            &[],
        );
        let out = ok(&o);
        assert_eq!(out, "", "{needle}: nothing may be created: {out}");
        let e = text(&o.stderr);
        assert!(
            e.starts_with("sops-install-secrets: ") && e.contains(needle),
            "{needle}: {e}"
        );
    }
}

#[test]
fn concurrent_installs_serialize_or_refuse() {
    let f = Fixture::new();
    let plain: serde_json::Map<String, serde_json::Value> = (0..200)
        .map(|i| (format!("s{i}"), json!(format!("v{i}"))))
        .collect();
    let j = f.encrypt("s.json", &serde_json::Value::Object(plain).to_string());
    let secrets: Vec<_> = (0..200)
        .map(|i| secret(&format!("s{i}"), &j, "json", json!({})))
        .collect();
    let m = f.manifest("m.json", json!(secrets), json!({"keepGenerations": 2}));
    let out = ok(&ns(
        &format!(
            r#"$BIN {m} >/dev/null
for i in $(seq 1 20); do
  $BIN {m} >/dev/null 2>/run/e1 & a=$!
  $BIN {m} >/dev/null 2>/run/e2 & b=$!
  wait $a || grep -q "another install switched" /run/e1 || {{ cat /run/e1; exit 1; }}
  wait $b || grep -q "another install switched" /run/e2 || {{ cat /run/e2; exit 1; }}
  g=$(readlink /run/secrets)
  [ "$(ls $g | wc -l)" = 200 ] && [ -f $g/.nix-sops/changes.json ] || {{ echo "BROKEN $g"; exit 1; }}
done
echo fine"#,
            m = m.display()
        ),
        &[],
    ));
    assert_eq!(out, "fine\n");
}
