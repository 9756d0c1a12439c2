//! `nix-sops updatekeys` on files made by the real sops, read back by the real sops.

use crate::common;

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

fn nix_sops(dir: &Path, key_file: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nix-sops"))
        .current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SOPS_AGE_KEY_FILE", key_file)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn fleet_rules(dir: &Path, recipients: &[&str]) {
    std::fs::write(
        dir.join(".sops.yaml"),
        format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    age: {}\n",
            recipients.join(",")
        ),
    )
    .unwrap();
}

/// `--check -r DIR` over files made by the real sops: after `.sops.yaml` gains a key, it lists
/// every file and the recipient to add, changes nothing and exits 1; `-y FILE…` updates them
/// all; a file the real `sops updatekeys` updated is up to date for `--check` too.
#[test]
fn check_lists_stale_files_and_many_files_update_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, b) = (AgeKey::generate(), AgeKey::generate());
    let (ka, kb) = (a.write(d, "a.txt"), b.write(d, "b.txt"));
    fleet_rules(d, &[&a.recipient]);
    std::fs::create_dir_all(d.join("secrets/sub")).unwrap();
    let files = [
        ("secrets/a.yaml", "token: t0k\n"),
        ("secrets/b.json", "{\"token\": \"t0k\"}\n"),
        ("secrets/sub/c.env", "token=t0k\n"),
        ("secrets/sub/d.ini", "[main]\ntoken=t0k\n"),
    ];
    for (name, plain) in files {
        let enc = common::sops_encrypt(d, name, plain.as_bytes(), &[]);
        std::fs::write(d.join(name), enc).unwrap();
    }
    // Not sops files, or matched by no rule: skipped by -r.
    std::fs::write(d.join("secrets/README.md"), "plain\n").unwrap();
    std::fs::write(d.join("secrets/.hidden.yaml"), "x: 1\n").unwrap();
    let snapshot = || -> Vec<Vec<u8>> {
        files
            .iter()
            .map(|(n, _)| std::fs::read(d.join(n)).unwrap())
            .collect()
    };

    let out = nix_sops(d, &ka, &["updatekeys", "--check", "-r", "secrets"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err.matches("already up to date").count(),
        files.len(),
        "{err}"
    );

    fleet_rules(d, &[&a.recipient, &b.recipient]);
    let before = snapshot();
    let out = nix_sops(d, &ka, &["updatekeys", "--check", "-r", "secrets"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for (name, _) in files {
        assert!(err.contains(&format!("{name}: needs updatekeys")), "{err}");
    }
    assert_eq!(
        err.matches(&format!("+ group 0: age {}", b.recipient))
            .count(),
        files.len(),
        "{err}"
    );
    assert!(!err.contains("README") && !err.contains("hidden"), "{err}");
    assert_eq!(snapshot(), before, "--check changed a file");

    // The real sops updates one file; --check then agrees that it is up to date.
    let out = common::sops(
        d,
        &["updatekeys", "-y", "secrets/a.yaml"],
        &[("SOPS_AGE_KEY_FILE", ka.to_str().unwrap())],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = nix_sops(d, &ka, &["updatekeys", "--check", "secrets/a.yaml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // -y with many files: all updated; b now decrypts each with the real sops.
    let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
    let mut args = vec!["updatekeys", "-y"];
    args.extend(&names);
    let out = nix_sops(d, &ka, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (name, _) in files {
        let out = common::sops_decrypt(d, name, &kb, &[]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // sops prints JSON its own way: compare with what the old key decrypts.
        let with_a = common::sops_decrypt(d, name, &ka, &[]);
        assert_eq!(out.stdout, with_a.stdout, "{name}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("t0k"),
            "{name}"
        );
    }
    let out = nix_sops(d, &ka, &["updatekeys", "--check", "-r", "secrets"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Removing a key is reported as `-`.
    fleet_rules(d, &[&b.recipient]);
    let out = nix_sops(d, &kb, &["updatekeys", "--check", "secrets/b.json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("- group 0: age {}", a.recipient)),
        "{err}"
    );
    assert!(err.contains("secrets/b.json"), "{err}");
}
