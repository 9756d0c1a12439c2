//! `nix-sops keygen` against the real age tools.

use crate::common;

use std::io::Write;
use std::process::{Command, Stdio};

fn nix_sops() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nix-sops"))
}

/// `nix-sops keygen -o <key>`.
fn keygen_to(key: &std::path::Path) -> std::process::Output {
    nix_sops().args(["keygen", "-o"]).arg(key).output().unwrap()
}

#[test]
fn generated_key_works_with_real_age() {
    common::require("age");
    common::require("age-keygen");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("keys.txt");
    let out = keygen_to(&key);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    // Our recipient equals the real age-keygen's reading of the same file.
    let ours = nix_sops()
        .args(["keygen", "-y"])
        .arg(&key)
        .output()
        .unwrap();
    let theirs = Command::new("age-keygen")
        .arg("-y")
        .arg(&key)
        .output()
        .unwrap();
    assert!(theirs.status.success());
    let recipient = String::from_utf8(ours.stdout).unwrap();
    assert_eq!(recipient, String::from_utf8(theirs.stdout).unwrap());
    assert!(recipient.starts_with("age1"));

    // The real age encrypts to it and decrypts with the file.
    let mut enc = Command::new("age")
        .args(["-r", recipient.trim()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    enc.stdin.take().unwrap().write_all(b"round trip").unwrap();
    let ciphertext = enc.wait_with_output().unwrap().stdout;
    let ct = dir.path().join("msg.age");
    std::fs::write(&ct, ciphertext).unwrap();
    let dec = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&key)
        .arg(&ct)
        .output()
        .unwrap();
    assert!(
        dec.status.success(),
        "{}",
        String::from_utf8_lossy(&dec.stderr)
    );
    assert_eq!(dec.stdout, b"round trip");

    // An existing key file is never overwritten.
    let again = keygen_to(&key);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("keys.txt"));
}
