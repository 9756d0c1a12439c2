//! `sops.hostPubKeys`: the build-time check (`sops-install-secrets -check-mode=sopsfile`) that the
//! machine can recover each sops file's data key, on files made by the real sops 3.11 (every
//! store, age and `ssh-ed25519` recipients, PGP-only files, Shamir key groups), and the
//! activation-time error when it cannot.

use crate::common;
use common::AgeKey;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// sops-nix's ssh-to-age test vector: its test host key's public half and the age recipient the
/// Go ssh-to-age made of it (age1a8pk4… in sops-nix's own secrets.yaml; tests/nix_module.rs pins
/// the same pair).
const VECTOR_SSH: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBI1+Q+ntzANebtnicCiAY29uqLGWOaOGLEa8bUqOVmS";
const VECTOR_AGE: &str = "age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs";

/// A fresh ed25519 key made by the real ssh-keygen: (private key path, public key line).
fn ssh_keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    common::require("ssh-keygen");
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "host@test", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "ssh-keygen failed: {out:?}");
    let line = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    (path, line.trim().to_owned())
}

const PLAIN: [(&str, &str); 5] = [
    ("s.yaml", "token: t0k\n"),
    ("s.json", "{\"token\": \"t0k\"}\n"),
    ("s.env", "token=t0k\n"),
    ("s.ini", "[main]\ntoken=t0k\n"),
    ("s.bin", "raw secret bytes\n"),
];

fn format_of(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap() {
        "yaml" => "yaml",
        "json" => "json",
        "env" => "dotenv",
        "ini" => "ini",
        _ => "binary",
    }
}

/// Encrypts the sample of every store with the real sops and `args` (e.g. `--age R`).
fn every_store(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Vec<PathBuf> {
    PLAIN
        .iter()
        .map(|(name, plain)| {
            std::fs::write(dir.join(name), plain).unwrap();
            let mut full = vec!["encrypt"];
            full.extend_from_slice(args);
            full.push(name);
            let out = common::sops(dir, &full, env);
            assert!(
                out.status.success(),
                "sops encrypt {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let path = dir.join(name);
            std::fs::write(&path, out.stdout).unwrap();
            path
        })
        .collect()
}

/// A manifest with one secret per file (the whole file, or `token` for YAML/JSON) and
/// `hostPubKeys` (omitted when `None`).
fn manifest(
    dir: &Path,
    files: &[PathBuf],
    host: Option<&[&str]>,
    extra: serde_json::Value,
) -> PathBuf {
    let secrets: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let format = format_of(f.to_str().unwrap());
            let key = if matches!(format, "yaml" | "json") {
                "token"
            } else {
                ""
            };
            json!({
                "name": format!("secret{i}"),
                "key": key,
                "format": format,
                "sopsFile": f,
            })
        })
        .collect();
    let mut m = json!({
        "secrets": secrets,
        "secretsMountPoint": dir.join("run/secrets.d"),
        "symlinkPath": dir.join("secrets"),
    });
    if let Some(keys) = host {
        m["hostPubKeys"] = json!(keys);
    }
    for (k, v) in extra.as_object().unwrap() {
        m[k] = v.clone();
    }
    let path = dir.join("manifest.json");
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    path
}

fn check(manifest: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sops-install-secrets"))
        .arg("-check-mode=sopsfile")
        .arg(manifest)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_passes(out: &Output) -> String {
    let err = text(&out.stderr);
    assert!(out.status.success(), "the check failed:\n{err}");
    err
}

fn assert_fails(out: &Output) -> String {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "the check passed:\n{err}");
    err
}

#[test]
fn age_recipients_in_every_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (host, admin, other) = (AgeKey::generate(), AgeKey::generate(), AgeKey::generate());
    let files = every_store(
        d,
        &["--age", &format!("{},{}", admin.recipient, host.recipient)],
        &[],
    );

    // Unset: no host check (the manifest is sops-nix's).
    assert_passes(&check(&manifest(d, &files, None, json!({}))));
    assert_passes(&check(&manifest(
        d,
        &files,
        Some(&[&host.recipient]),
        json!({}),
    )));
    // Upper-case bech32 is the same key.
    let upper = host.recipient.to_uppercase();
    assert_passes(&check(&manifest(d, &files, Some(&[&upper]), json!({}))));

    let err = assert_fails(&check(&manifest(
        d,
        &files,
        Some(&[&other.recipient]),
        json!({}),
    )));
    for f in &files {
        assert!(
            err.contains(&f.display().to_string()),
            "{} not named:\n{err}",
            f.display()
        );
    }
    assert!(
        err.contains(&format!("group 0: age recipient {}", host.recipient)),
        "{err}"
    );
    assert!(
        err.contains(&format!("group 0: age recipient {}", admin.recipient)),
        "{err}"
    );
    assert!(
        err.contains(&other.recipient),
        "the host's key is not shown:\n{err}"
    );
    assert!(
        err.contains("secret0") && err.contains("updatekeys"),
        "{err}"
    );
    assert!(
        !err.contains("t0k") && !err.contains("raw secret"),
        "a value leaked:\n{err}"
    );
}

#[test]
fn ssh_host_key_opens_its_age_conversion_and_itself() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (example_line, example_age) = (VECTOR_SSH, VECTOR_AGE);
    let admin = AgeKey::generate();
    let (_, fresh_line) = ssh_keygen(d, "host_key");

    // Encrypted to the Go ssh-to-age conversion of the example key.
    let files = every_store(
        d,
        &["--age", &format!("{},{example_age}", admin.recipient)],
        &[],
    );
    assert_passes(&check(&manifest(
        d,
        &files,
        Some(&[example_line]),
        json!({}),
    )));
    let err = assert_fails(&check(&manifest(
        d,
        &files,
        Some(&[&fresh_line]),
        json!({}),
    )));
    assert!(
        err.contains(&fresh_line.split(' ').take(2).collect::<Vec<_>>().join(" ")),
        "{err}"
    );

    // Encrypted to the ssh-ed25519 key itself (sops >= 3.10 age-ssh recipients).
    let sub = d.join("ssh");
    std::fs::create_dir(&sub).unwrap();
    let files = every_store(
        &sub,
        &["--age", &format!("{},{fresh_line}", admin.recipient)],
        &[],
    );
    assert_passes(&check(&manifest(
        &sub,
        &files,
        Some(&[&fresh_line]),
        json!({}),
    )));
    // Without the comment, as ssh-keyscan prints it.
    let bare = fresh_line.rsplit_once(' ').unwrap().0;
    assert_passes(&check(&manifest(&sub, &files, Some(&[bare]), json!({}))));
    // The age conversion of that key cannot open an ssh-ed25519 stanza.
    let as_age = Command::new(env!("CARGO_BIN_EXE_nix-sops"))
        .arg("ssh-to-age")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(fresh_line.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let as_age = text(&as_age.stdout).trim().to_owned();
    assert!(as_age.starts_with("age1"), "{as_age}");
    let err = assert_fails(&check(&manifest(&sub, &files, Some(&[&as_age]), json!({}))));
    assert!(err.contains(&format!("age recipient {bare}")), "{err}");
    assert!(err.contains("none of its recipients"), "{err}");
}

#[test]
fn pgp_only_files_warn_and_pass() {
    common::require("gpg");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let home = tempfile::Builder::new()
        .prefix("g")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let gnupghome = home.path().to_str().unwrap();
    let gpg = |args: &[&str]| {
        Command::new("gpg")
            .args(["--homedir", gnupghome, "--batch", "--no-tty"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = gpg(&[
        "--passphrase",
        "",
        "--pinentry-mode",
        "loopback",
        "--quick-gen-key",
        "host@test",
        "future-default",
        "default",
        "never",
    ]);
    assert!(out.status.success(), "gpg key generation: {out:?}");
    let out = gpg(&["--with-colons", "--list-keys", "host@test"]);
    let fp = text(&out.stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix("fpr:")
                .map(|l| l.trim_matches(':').to_owned())
        })
        .unwrap();
    let host = AgeKey::generate();
    let files = every_store(d, &["--pgp", &fp], &[("GNUPGHOME", gnupghome)]);
    let err = assert_passes(&check(&manifest(
        d,
        &files,
        Some(&[&host.recipient]),
        json!({}),
    )));
    assert!(err.contains("warning") && err.contains("PGP"), "{err}");
    for f in &files {
        assert!(err.contains(&f.display().to_string()), "{err}");
    }
    let _ = Command::new("gpgconf")
        .args(["--homedir", gnupghome, "--kill", "gpg-agent"])
        .status();
}

/// `.sops.yaml` with three key groups of one age key each and a threshold of 2.
#[test]
fn shamir_two_of_three_needs_the_host_in_two_groups() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, b, c) = (AgeKey::generate(), AgeKey::generate(), AgeKey::generate());
    std::fs::write(
        d.join(".sops.yaml"),
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{}]\n      - age: [{}]\n      - age: [{}]\n",
            a.recipient, b.recipient, c.recipient
        ),
    )
    .unwrap();
    let files = every_store(d, &[], &[]);
    let yaml = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        yaml.contains("shamir_threshold: 2"),
        "sops did not write 2-of-3:\n{yaml}"
    );

    let err = assert_fails(&check(&manifest(
        d,
        &files,
        Some(&[&a.recipient]),
        json!({}),
    )));
    assert!(err.contains("2 of its 3 key groups are needed"), "{err}");
    assert!(
        err.contains(&format!("group 2: age recipient {}", c.recipient)),
        "{err}"
    );
    assert_passes(&check(&manifest(
        d,
        &files,
        Some(&[&a.recipient, &c.recipient]),
        json!({}),
    )));
    // The real installer agrees: with a key file holding a and c, every store decrypts.
    let keys = d.join("keys.txt");
    std::fs::write(&keys, format!("{}{}", a.file_text, c.file_text)).unwrap();
    let run = d.join("run");
    std::fs::create_dir(&run).unwrap();
    let m = manifest(
        d,
        &files,
        Some(&[&a.recipient, &c.recipient]),
        json!({"userMode": true, "ageKeyFile": keys, "secretsMountPoint": "%r/secrets.d"}),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_sops-install-secrets"))
        .arg(&m)
        .env("XDG_RUNTIME_DIR", &run)
        .output()
        .unwrap();
    assert!(out.status.success(), "install: {}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(d.join("secrets/secret0")).unwrap(),
        "t0k"
    );

    // With a alone the installer fails as the check said, and says a is a recipient of one
    // group (so the fix is another group, not this key).
    std::fs::write(&keys, &a.file_text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sops-install-secrets"))
        .arg(&m)
        .env("XDG_RUNTIME_DIR", &run)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("2 of 3 key groups are needed"), "{err}");
    assert!(
        err.contains(&format!("{}: a recipient in group 0", a.recipient)),
        "{err}"
    );
}

/// A bad entry fails the check, naming it.
#[test]
fn malformed_host_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = AgeKey::generate();
    let files = every_store(d, &["--age", &a.recipient], &[]);
    let err = assert_fails(&check(&manifest(
        d,
        &files[..1],
        Some(&["ssh-rsa AAAAB3Nza"]),
        json!({}),
    )));
    assert!(
        err.contains("hostPubKeys") && err.contains("ssh-rsa AAAAB3Nza"),
        "{err}"
    );
}

/// At activation: a file for another key fails naming the file, its recipients and, for the
/// host's identity, "not a recipient"; a file naming the host's ssh-ed25519 key directly
/// decrypts with `ageSshKeyPaths` (the key is also used natively, not only converted).
#[test]
fn activation_errors_name_the_file_and_the_host_identity() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (priv_key, line) = ssh_keygen(d, "ssh_host_ed25519_key");
    let line = line.rsplit_once(' ').unwrap().0.to_owned();
    let other = AgeKey::generate();
    let run = d.join("run");
    std::fs::create_dir(&run).unwrap();
    let install = |files: &[PathBuf]| {
        let m = manifest(
            d,
            files,
            None,
            json!({"userMode": true, "ageSshKeyPaths": [priv_key], "secretsMountPoint": "%r/secrets.d"}),
        );
        Command::new(env!("CARGO_BIN_EXE_sops-install-secrets"))
            .arg(&m)
            .env_clear()
            .env("HOME", d)
            .env("XDG_RUNTIME_DIR", &run)
            .output()
            .unwrap()
    };

    let sub = d.join("other");
    std::fs::create_dir(&sub).unwrap();
    let files = every_store(&sub, &["--age", &other.recipient], &[]);
    let out = install(&files[..1]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&files[0].display().to_string()), "{err}");
    assert!(
        err.contains(&format!("age recipient {}", other.recipient)),
        "{err}"
    );
    assert!(
        err.contains("(ssh-to-age): not a recipient of this file"),
        "{err}"
    );
    assert!(
        err.contains(&format!("{line} (age-ssh): not a recipient of this file")),
        "{err}"
    );
    assert!(err.contains("updatekeys"), "{err}");

    let sub = d.join("ssh");
    std::fs::create_dir(&sub).unwrap();
    let files = every_store(&sub, &["--age", &line], &[]);
    let out = install(&files);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(d.join("secrets/secret0")).unwrap(),
        "t0k"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("secrets/secret4")).unwrap(),
        "raw secret bytes\n"
    );
}
