//! `nix-sops updatekeys` on files made by the real sops, read back by the real sops.

mod common;

use common::AgeKey;
use std::path::Path;
use std::process::{Command, Output};

fn updatekeys(dir: &Path, key_file: &Path, file: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nix-sops"))
        .current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SOPS_AGE_KEY_FILE", key_file)
        .args(["updatekeys", "-y", file])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn rules(dir: &Path, recipients: &[&str]) {
    std::fs::write(
        dir.join(".sops.yaml"),
        format!(
            "creation_rules:\n  - path_regex: \\.yaml$\n    age: {}\n",
            recipients.join(",")
        ),
    )
    .unwrap();
}

#[test]
fn adds_and_removes_recipients_keeping_values_and_mac() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, b) = (AgeKey::generate(), AgeKey::generate());
    let (ka, kb) = (a.write(d, "a.txt"), b.write(d, "b.txt"));
    rules(d, &[&a.recipient]);
    let enc = common::sops_encrypt(d, "s.yaml", b"token: t0k\ncount: 1\n", &[]);
    std::fs::write(d.join("s.yaml"), &enc).unwrap();
    let mac_line = |t: &str| t.lines().find(|l| l.contains("mac:")).unwrap().to_owned();
    let before = String::from_utf8(enc).unwrap();
    assert_eq!(
        common::sops_decrypt(d, "s.yaml", &kb, &[]).status.code(),
        Some(128)
    );

    // Add b: both keys decrypt with the real sops; values and MAC untouched.
    rules(d, &[&a.recipient, &b.recipient]);
    let out = updatekeys(d, &ka, "s.yaml");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("+ group 0: age {}", b.recipient))
    );
    let after = std::fs::read_to_string(d.join("s.yaml")).unwrap();
    assert_eq!(mac_line(&before), mac_line(&after));
    for k in [&ka, &kb] {
        let plain = common::sops_decrypt(d, "s.yaml", k, &[]);
        assert!(
            plain.status.success(),
            "{}",
            String::from_utf8_lossy(&plain.stderr)
        );
        assert_eq!(plain.stdout, b"token: t0k\ncount: 1\n");
    }

    // Nothing to do: a message, and the file is not rewritten.
    let out = updatekeys(d, &ka, "s.yaml");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already up to date"));
    assert_eq!(std::fs::read_to_string(d.join("s.yaml")).unwrap(), after);

    // Remove a (using b to unwrap): a can no longer decrypt.
    rules(d, &[&b.recipient]);
    let out = updatekeys(d, &kb, "s.yaml");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        common::sops_decrypt(d, "s.yaml", &ka, &[]).status.code(),
        Some(128)
    );
    assert!(common::sops_decrypt(d, "s.yaml", &kb, &[]).status.success());
}

#[test]
fn needs_a_key_that_decrypts_and_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, b) = (AgeKey::generate(), AgeKey::generate());
    let kb = b.write(d, "b.txt");
    rules(d, &[&a.recipient]);
    let enc = common::sops_encrypt(d, "s.yaml", b"token: t0k\n", &[]);
    std::fs::write(d.join("s.yaml"), &enc).unwrap();
    rules(d, &[&a.recipient, &b.recipient]);
    // b is not yet a recipient: it cannot unwrap the data key (exit 128), nothing changes.
    let out = updatekeys(d, &kb, "s.yaml");
    assert_eq!(out.status.code(), Some(128));
    assert_eq!(std::fs::read(d.join("s.yaml")).unwrap(), enc);
    // Without -y and without a terminal it refuses.
    let out = Command::new(env!("CARGO_BIN_EXE_nix-sops"))
        .current_dir(d)
        .args(["updatekeys", "s.yaml"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-y"));
}
