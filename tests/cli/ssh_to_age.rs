//! `nix-sops ssh-to-age` against the real ssh-keygen, age-keygen and sops.

use crate::common;

use std::process::Command;

fn nix_sops() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nix-sops"))
}

/// `nix-sops ssh-to-age -i <input>`: the age recipient of an SSH public key (or keyscan lines).
fn ssh_to_age(input: &std::path::Path) -> std::process::Output {
    nix_sops()
        .args(["ssh-to-age", "-i"])
        .arg(input)
        .output()
        .unwrap()
}

fn ssh_keygen(dir: &std::path::Path, name: &str, kind: &str) -> std::path::PathBuf {
    common::require("ssh-keygen");
    let p = dir.join(name);
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", "host@example", "-f"])
        .arg(&p)
        .status()
        .unwrap();
    assert!(st.success());
    p
}

fn stdout_ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn public_and_private_conversions_agree_with_age_keygen() {
    let dir = tempfile::tempdir().unwrap();
    let key = ssh_keygen(dir.path(), "host", "ed25519");
    let public = stdout_ok(ssh_to_age(&key.with_extension("pub")));
    assert!(public.starts_with("age1") && public.ends_with('\n'));

    let id_file = dir.path().join("age.txt");
    let out = nix_sops()
        .args(["ssh-to-age", "--private-key", "-i"])
        .arg(&key)
        .arg("-o")
        .arg(&id_file)
        .output()
        .unwrap();
    stdout_ok(out);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&id_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    // The real age-keygen derives the same recipient from our converted identity.
    common::require("age-keygen");
    let theirs = stdout_ok(
        Command::new("age-keygen")
            .arg("-y")
            .arg(&id_file)
            .output()
            .unwrap(),
    );
    assert_eq!(public, theirs);
}

#[test]
fn keyscan_lines_and_non_ed25519_keys() {
    let dir = tempfile::tempdir().unwrap();
    let ed = ssh_keygen(dir.path(), "ed", "ed25519");
    let rsa = ssh_keygen(dir.path(), "rsa", "rsa");
    let ed_pub = std::fs::read_to_string(ed.with_extension("pub")).unwrap();
    let rsa_pub = std::fs::read_to_string(rsa.with_extension("pub")).unwrap();
    // ssh-keyscan prints "host keytype key"; RSA lines are skipped.
    let scan = format!("server {rsa_pub}server {ed_pub}");
    let scan_file = dir.path().join("scan");
    std::fs::write(&scan_file, scan).unwrap();
    let from_scan = stdout_ok(ssh_to_age(&scan_file));
    let direct = stdout_ok(ssh_to_age(&ed.with_extension("pub")));
    assert_eq!(from_scan, direct);

    let only_rsa = ssh_to_age(&rsa.with_extension("pub"));
    assert_eq!(only_rsa.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&only_rsa.stderr).contains("no ssh-ed25519 public key"));
}

#[test]
fn host_key_decrypts_what_sops_encrypted_to_its_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let key = ssh_keygen(dir.path(), "ssh_host_ed25519_key", "ed25519");
    let recipient = stdout_ok(ssh_to_age(&key.with_extension("pub")));
    let enc = common::sops_encrypt(
        dir.path(),
        "s.json",
        br#"{"token": "t0ps3cret", "n": 3}"#,
        &["--age", recipient.trim()],
    );
    std::fs::write(dir.path().join("enc.json"), &enc).unwrap();
    let out = nix_sops()
        .env_clear()
        .env("HOME", dir.path())
        .args(["decrypt", "--extract", r#"["token"]"#, "--ssh-key"])
        .arg(&key)
        .arg(dir.path().join("enc.json"))
        .output()
        .unwrap();
    assert_eq!(stdout_ok(out), "t0ps3cret");
}
