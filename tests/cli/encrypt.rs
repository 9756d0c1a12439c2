//! `nix-sops encrypt`: files we write must be read by the real sops 3.11 exactly as it reads its
//! own (we never check our encrypt only against our decrypt).

use crate::common;

use common::AgeKey;
use std::path::Path;
use std::process::{Command, Output};

fn nix_sops(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nix-sops"))
        .current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Encrypts `plain` as `name` with nix-sops and with sops (same key); the real sops must
/// decrypt both to the same bytes.
fn same_as_sops(name: &str, plain: &[u8], extra: &[&str]) {
    let (dir, key, key_file) = common::dir_with_key("key.txt");
    let d = dir.path();
    std::fs::write(d.join(name), plain).unwrap();

    let mut args = vec!["encrypt", "--age", &key.recipient];
    args.extend_from_slice(extra);
    args.push(name);
    let ours = ok(nix_sops(d, &args), "nix-sops encrypt");
    let ours_name = format!("ours.{name}");
    std::fs::write(d.join(&ours_name), &ours).unwrap();

    let mut sops_args = vec!["--age", key.recipient.as_str()];
    sops_args.extend_from_slice(extra);
    let theirs = common::sops_encrypt(d, name, plain, &sops_args);
    let theirs_name = format!("theirs.{name}");
    std::fs::write(d.join(&theirs_name), &theirs).unwrap();

    let a = ok(
        common::sops_decrypt(d, &ours_name, &key_file, &[]),
        "sops decrypt of ours",
    );
    let b = ok(
        common::sops_decrypt(d, &theirs_name, &key_file, &[]),
        "sops decrypt of theirs",
    );
    assert_eq!(
        String::from_utf8_lossy(&a),
        String::from_utf8_lossy(&b),
        "{name}: sops reads our file differently from its own"
    );
    // Values really are encrypted: no plaintext line of a secret survives in the output.
    assert!(!String::from_utf8_lossy(&ours).contains("s3cr3t"));
}

#[test]
fn yaml_with_types_comments_and_documents() {
    same_as_sops(
        "s.yaml",
        b"# top\npassword: s3cr3t\nn: 42\nf: 1.5\nb: true\nt: 2024-01-02T03:04:05Z\nnested:\n  list:\n    - s3cr3t-a\n    # in list\n    - 7\n  empty: {}\nplain_unencrypted: visible\n---\nsecond: s3cr3t-doc2\n",
        &[],
    );
}

#[test]
fn json_dotenv_ini_binary() {
    same_as_sops(
        "s.json",
        br#"{"password": "s3cr3t", "n": 42, "list": [1, "two", null, {"deep": true}], "html": "<&>"}"#,
        &[],
    );
    same_as_sops(
        "s.env",
        b"PASSWORD=s3cr3t\n# comment\nMULTI=a\\nb\nEMPTY=\n",
        &[],
    );
    same_as_sops(
        "s.ini",
        b"top = s3cr3t\n[db]\n; note\npassword = s3cr3t-db\nport = 5432\n",
        &[],
    );
    let mut binary = b"s3cr3t\n".to_vec();
    binary.extend((0u8..=255).collect::<Vec<_>>());
    same_as_sops("s.bin", &binary, &[]);
}

#[test]
fn crypt_rules_from_flags() {
    same_as_sops(
        "r.yaml",
        b"data:\n  password: s3cr3t\nkind: Secret\nmetadata:\n  name: x\n",
        &["--encrypted-regex", "^data$"],
    );
    same_as_sops(
        "u.yaml",
        b"password: s3cr3t\npublic_key: ssh-ed25519 AAAA\n",
        &["--unencrypted-regex", "^public"],
    );
}

#[test]
fn sops_yaml_rules_shamir_and_mac_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let keys: Vec<AgeKey> = (0..3).map(|_| AgeKey::generate()).collect();
    std::fs::create_dir_all(d.join("secrets")).unwrap();
    let config = format!(
        "creation_rules:\n  - path_regex: other/.*\n    age: {}\n  - path_regex: secrets/.*\\.yaml$\n    shamir_threshold: 2\n    mac_only_encrypted: true\n    key_groups:\n      - age:\n          - {}\n      - age:\n          - {}\n      - age:\n          - {}\n",
        keys[0].recipient, keys[0].recipient, keys[1].recipient, keys[2].recipient
    );
    std::fs::write(d.join(".sops.yaml"), config).unwrap();
    std::fs::write(d.join("secrets/app.yaml"), "token: s3cr3t\ncount: 3\n").unwrap();
    let out = ok(
        nix_sops(d, &["encrypt", "secrets/app.yaml"]),
        "encrypt via .sops.yaml",
    );
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.contains("shamir_threshold: 2"), "{text}");
    assert!(text.contains("mac_only_encrypted: true"), "{text}");
    std::fs::write(d.join("secrets/app.enc.yaml"), &out).unwrap();
    // Every pair of the three keys decrypts with the real sops; one key alone does not.
    for (i, j) in [(0, 1), (0, 2), (1, 2)] {
        let both = format!("{}{}", keys[i].file_text, keys[j].file_text);
        let kf = d.join(format!("pair{i}{j}.txt"));
        std::fs::write(&kf, both).unwrap();
        let plain = ok(
            common::sops_decrypt(d, "secrets/app.enc.yaml", &kf, &[]),
            "sops decrypt with two of three",
        );
        assert_eq!(
            String::from_utf8(plain).unwrap(),
            "token: s3cr3t\ncount: 3\n"
        );
    }
    let one = keys[1].write(d, "one.txt");
    let out = common::sops_decrypt(d, "secrets/app.enc.yaml", &one, &[]);
    assert_eq!(out.status.code(), Some(128));

    // A path no rule matches is an error naming the config and the path.
    std::fs::write(d.join("loose.yaml"), "a: b\n").unwrap();
    let out = nix_sops(d, &["encrypt", "loose.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(".sops.yaml") && err.contains("loose.yaml"),
        "{err}"
    );
}

#[test]
fn in_place_and_already_encrypted() {
    let (dir, key, key_file) = common::dir_with_key("key.txt");
    let d = dir.path();
    std::fs::write(d.join("s.yaml"), "password: s3cr3t\n").unwrap();
    ok(
        nix_sops(d, &["encrypt", "-i", "--age", &key.recipient, "s.yaml"]),
        "encrypt in place",
    );
    let plain = ok(
        common::sops_decrypt(d, "s.yaml", &key_file, &[]),
        "sops decrypt",
    );
    assert_eq!(plain, b"password: s3cr3t\n");
    // sops refuses to encrypt an encrypted file with exit 203; so do we.
    let again = nix_sops(d, &["encrypt", "--age", &key.recipient, "s.yaml"]);
    assert_eq!(again.status.code(), Some(203));
    let their = common::sops(d, &["encrypt", "--age", &key.recipient, "s.yaml"], &[]);
    assert_eq!(their.status.code(), Some(203));
}
