//! The README's example: `sops-install-secrets examples/manifest.json` as a normal user (user
//! mode, `%r`), compared value by value with what the real sops decrypts.

use crate::common as peers;

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_sops-install-secrets");
const NAMES: [&str; 6] = [
    "github_token",
    "openai_api_key",
    "database_password",
    "ssh_private_key",
    "wireguard_private_key",
    "tailscale_auth_key",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn sops_extract(name: &str) -> Vec<u8> {
    let o = peers::sops(
        root(),
        &[
            "decrypt",
            "--extract",
            &format!("[\"{name}\"]"),
            "examples/secrets.yaml",
        ],
        &[("SOPS_AGE_KEY_FILE", "examples/keys/age.txt")],
    );
    assert!(
        o.status.success(),
        "sops: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

fn install(manifest: &Path, env: &[(&str, &Path)], unset_xdg: bool) -> std::process::Output {
    let mut c = Command::new(BIN);
    c.arg(manifest)
        .current_dir(root())
        .env("HOME", "/var/empty")
        .env_remove("SOPS_AGE_KEY_FILE");
    if unset_xdg {
        c.env_remove("XDG_RUNTIME_DIR");
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn example_installs_all_six_secrets_in_user_mode() {
    let rt = tempfile::tempdir().unwrap();
    let o = install(
        Path::new("examples/manifest.json"),
        &[("XDG_RUNTIME_DIR", rt.path())],
        false,
    );
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{out}\n{err}");
    // Worded as sops-nix's pkgs/sops-install-secrets/main.go:1160-1187 (Mic92/sops-nix
    // 56b24064). nix-sops's own: sops-nix prints no change lines in user mode
    // (`handleModifications` only runs `if !manifest.UserMode`, main.go:1460) nor on a first
    // activation (main.go:958). The import line below is main.go:908's, on stderr.
    assert_eq!(
        out,
        "adding secrets: database_password, github_token, openai_api_key, ssh_private_key, tailscale_auth_key, wireguard_private_key\nadding rendered secret: app.env\n"
    );
    assert!(
        err.contains(
            "Imported examples/keys/ssh_host_ed25519_key as age key with fingerprint age1"
        ),
        "{err}"
    );
    let base = rt.path().join("nix-sops-example");
    assert_eq!(
        std::fs::read_link(base.join("secrets")).unwrap(),
        base.join("secrets.d/1")
    );
    for n in NAMES {
        let got = std::fs::read(base.join("secrets").join(n)).unwrap();
        assert_eq!(got, sops_extract(n), "{n}");
    }
    let key = std::fs::read_to_string(base.join("ssh/id_deploy")).unwrap();
    assert!(key.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n") && key.lines().count() > 3);
    let env = std::fs::read_to_string(base.join("secrets/rendered/app.env")).unwrap();
    let gh = String::from_utf8(sops_extract("github_token")).unwrap();
    assert!(
        env.starts_with(&format!("GITHUB_TOKEN={gh}\n")),
        "template rendered"
    );
    assert!(!env.contains("<SOPS:"));
    // Again: nothing changes.
    let o = install(
        Path::new("examples/manifest.json"),
        &[("XDG_RUNTIME_DIR", rt.path())],
        false,
    );
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "");
    assert_eq!(
        std::fs::read_link(base.join("secrets")).unwrap(),
        base.join("secrets.d/2")
    );
}

#[test]
fn example_decrypts_with_the_ssh_host_key_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root().join("examples/manifest.json")).unwrap())
            .unwrap();
    m["ageKeyFile"] = serde_json::Value::Null;
    let mp: PathBuf = dir.path().join("m.json");
    std::fs::write(&mp, serde_json::to_vec(&m).unwrap()).unwrap();
    let rt = dir.path().join("rt");
    std::fs::create_dir(&rt).unwrap();
    let o = install(&mp, &[("XDG_RUNTIME_DIR", &rt)], false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = std::fs::read(rt.join("nix-sops-example/secrets/wireguard_private_key")).unwrap();
    assert_eq!(got, sops_extract("wireguard_private_key"));
}

#[test]
fn without_xdg_runtime_dir_a_private_fallback_is_used() {
    // Only meaningful where /run/user/<uid> does not exist (root in CI has none).
    let uid = nix::unistd::getuid().as_raw();
    if Path::new(&format!("/run/user/{uid}")).is_dir() {
        eprintln!("NOT RUN: /run/user/{uid} exists, so it is the fallback; the TMPDIR fallback cannot be exercised here");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let o = install(
        Path::new("examples/manifest.json"),
        &[("TMPDIR", tmp.path())],
        true,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fallback = tmp.path().join(format!("nix-sops-{uid}"));
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&fallback).unwrap().mode() & 0o777, 0o700);
    assert!(fallback
        .join("nix-sops-example/secrets/github_token")
        .is_file());
}
