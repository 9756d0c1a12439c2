//! Unwrapping SOPS data keys with every identity kind, against files made by the real sops 3.11,
//! keys made by the real age-keygen / ssh-keygen / gpg, and the real age CLI.
//!
//! Files are encrypted as JSON by the real sops; the test turns the JSON into the crate's tree
//! (a tiny serde_json → Value conversion, independent of the stores), unwraps the data key with
//! our key ring, then decrypts every value and checks the MAC, so a wrong key cannot pass.
// The whole file needs the default features (age-ssh and rPGP).
#![cfg(all(feature = "ssh", feature = "pgp"))]

mod common;

use nix_sops::keys::Env;
use nix_sops::keys::{
    convert_private_key, public_key_to_age, shamir_combine, shamir_split, Keyring, NoDataKey,
};
use nix_sops::secret::{SecretBytes, SecretString};
use nix_sops::sops::{
    DecryptOptions, EncryptedFile, Format, ListItem, MapItem, Metadata, Tree, Value,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const PLAINTEXT: &str = r#"{"secret": "s3cret value", "nested": {"n": 42, "s": "inner"}}"#;

// ---------------------------------------------------------------------------------------------
// helpers

fn to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap()),
        },
        serde_json::Value::String(s) => Value::Str(SecretString::new(s.clone())),
        serde_json::Value::Array(a) => {
            Value::List(a.iter().map(|x| ListItem::Value(to_value(x))).collect())
        }
        serde_json::Value::Object(o) => Value::Map(
            o.iter()
                .map(|(k, x)| MapItem::Entry(k.clone(), to_value(x)))
                .collect(),
        ),
    }
}

/// A file encrypted by the real sops, parsed.
struct Encrypted {
    json: serde_json::Value,
}

impl Encrypted {
    fn parse(bytes: &[u8]) -> Encrypted {
        Encrypted {
            json: serde_json::from_slice(bytes).expect("sops wrote JSON"),
        }
    }

    /// Writes the file as sops wrote it, for the real sops or a child process to read.
    fn write(&self, path: &Path) {
        std::fs::write(path, serde_json::to_vec(&self.json).unwrap()).unwrap();
    }

    fn metadata(&self) -> Metadata {
        Metadata::from_value(&to_value(&self.json["sops"])).expect("valid sops metadata")
    }

    /// Unwraps with `ring` and decrypts the whole file (values and MAC).
    fn decrypt_with(&self, ring: &Keyring) -> Result<(), NoDataKey> {
        let metadata = self.metadata();
        let key = ring.unwrap_data_key(&metadata)?;
        let Value::Map(map) = to_value(&self.json) else {
            unreachable!()
        };
        let data: Vec<MapItem> = map
            .into_iter()
            .filter(|i| !matches!(i, MapItem::Entry(k, _) if k == "sops"))
            .collect();
        let file = EncryptedFile {
            format: Format::Json,
            tree: Tree {
                branches: vec![data],
            },
            metadata,
        };
        let plain = file
            .decrypt(&key, DecryptOptions::default())
            .expect("the unwrapped data key decrypts every value and the MAC matches");
        let secret = plain.tree.branches[0].iter().find_map(|i| match i {
            MapItem::Entry(k, Value::Str(s)) if k == "secret" => Some(s.expose().to_owned()),
            _ => None,
        });
        assert_eq!(secret.as_deref(), Some("s3cret value"));
        Ok(())
    }

    fn assert_decrypts(&self, ring: &Keyring) {
        if let Err(e) = self.decrypt_with(ring) {
            panic!("expected the key ring to decrypt the file:\n{e}");
        }
    }

    fn assert_no_key(&self, ring: &Keyring) -> NoDataKey {
        match self.decrypt_with(ring) {
            Ok(()) => panic!("expected no data key"),
            Err(e) => e,
        }
    }
}

/// Runs the real sops `encrypt <args> s.json` in `dir` with `env`.
fn sops_encrypt(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Encrypted {
    std::fs::write(dir.join("s.json"), PLAINTEXT).unwrap();
    let mut full = vec!["encrypt"];
    full.extend_from_slice(args);
    full.push("s.json");
    let out = common::sops(dir, &full, env);
    assert!(
        out.status.success(),
        "sops encrypt failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Encrypted::parse(&out.stdout)
}

fn age_encrypt(dir: &Path, recipients: &str) -> Encrypted {
    sops_encrypt(dir, &["--age", recipients], &[])
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn ring_with_text(source: &str, text: &str) -> Keyring {
    let mut ring = Keyring::new();
    ring.add_identity_text(source, text.as_bytes()).unwrap();
    ring
}

/// An SSH key made by the real ssh-keygen (no passphrase).
struct SshKey {
    private: PathBuf,
    public_line: String,
}

fn ssh_keygen(dir: &Path, kind: &str, name: &str) -> SshKey {
    ssh_keygen_with(dir, &["-t", kind], name)
}

fn ssh_keygen_with(dir: &Path, args: &[&str], name: &str) -> SshKey {
    common::require("ssh-keygen");
    let private = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-C", "test@nix-sops"])
        .args(args)
        .arg("-f")
        .arg(&private)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "ssh-keygen failed: {out:?}");
    let public_line = std::fs::read_to_string(private.with_extension("pub"))
        .or_else(|_| std::fs::read_to_string(format!("{}.pub", private.display())))
        .unwrap();
    SshKey {
        private,
        public_line: public_line.trim().to_owned(),
    }
}

/// `ssh-ed25519 AAAA…` without the comment: the recipient form sops takes.
fn recipient_of_ssh(line: &str) -> String {
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A throw-away GnuPG home; the agent it starts is stopped on drop.
struct GnuPgHome {
    dir: tempfile::TempDir,
}

impl GnuPgHome {
    fn new() -> GnuPgHome {
        common::require("gpg");
        let dir = tempfile::Builder::new()
            .prefix("g")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        GnuPgHome { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn gpg(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = Command::new("gpg");
        cmd.arg("--homedir")
            .arg(self.path())
            .args(["--batch", "--no-tty"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = cmd.spawn().unwrap();
        if let Some(data) = stdin {
            use std::io::Write;
            let mut s = child.stdin.take().unwrap();
            s.write_all(data).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// `gpg --quick-gen-key` without a passphrase; returns the primary fingerprint.
    fn generate(&self, uid: &str, algo: &str) -> String {
        let out = self.gpg(
            &[
                "--passphrase",
                "",
                "--pinentry-mode",
                "loopback",
                "--quick-gen-key",
                uid,
                algo,
                "default",
                "never",
            ],
            None,
        );
        assert!(out.status.success(), "gpg key generation failed: {out:?}");
        self.fingerprint_of(uid)
    }

    fn fingerprint_of(&self, uid: &str) -> String {
        let out = self.gpg(&["--with-colons", "--list-keys", uid], None);
        assert!(out.status.success(), "gpg --list-keys failed: {out:?}");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .map(|l| l.trim_matches(':').to_owned())
            .expect("gpg lists a fingerprint")
    }

    fn export_secret(&self, fp: &str, to: &Path) {
        let out = self.gpg(
            &[
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
                "--export-secret-keys",
                "-a",
                fp,
            ],
            None,
        );
        assert!(
            out.status.success() && !out.stdout.is_empty(),
            "export failed: {out:?}"
        );
        std::fs::write(to, out.stdout).unwrap();
    }

    fn env(&self) -> (&'static str, String) {
        ("GNUPGHOME", self.path().display().to_string())
    }
}

impl Drop for GnuPgHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.path())
            .args(["--kill", "gpg-agent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn pgp_encrypt(dir: &Path, home: &GnuPgHome, extra: &[&str]) -> Encrypted {
    let (k, v) = home.env();
    sops_encrypt(dir, extra, &[(k, &v)])
}

/// A file sops encrypted to a new pgp key (user id `uid`) and a new age key, in one key group:
/// the GnuPG home, the pgp fingerprint, the age key, the file.
fn pgp_and_age_file(dir: &Path, uid: &str) -> (GnuPgHome, String, common::AgeKey, Encrypted) {
    let home = GnuPgHome::new();
    let fp = home.generate(uid, "default");
    let age_key = common::AgeKey::generate();
    let file = pgp_encrypt(dir, &home, &["--pgp", &fp, "--age", &age_key.recipient]);
    (home, fp, age_key, file)
}

// ---------------------------------------------------------------------------------------------
// age X25519

#[test]
fn two_age_recipients_either_key_decrypts() {
    let dir = tempdir();
    let (a, b, other) = (
        common::AgeKey::generate(),
        common::AgeKey::generate(),
        common::AgeKey::generate(),
    );
    let file = age_encrypt(dir.path(), &format!("{},{}", a.recipient, b.recipient));
    file.assert_decrypts(&ring_with_text("a.txt", &a.file_text));
    file.assert_decrypts(&ring_with_text("b.txt", &b.file_text));

    let err = file.assert_no_key(&ring_with_text("other.txt", &other.file_text));
    let msg = err.to_string();
    assert!(
        msg.contains(&a.recipient) && msg.contains(&b.recipient),
        "{msg}"
    );
    assert!(msg.contains("no identity matches"), "{msg}");
    assert!(
        msg.contains(&format!("other.txt: {}", other.recipient)),
        "{msg}"
    );
    assert!(!msg.contains("AGE-SECRET-KEY"), "secret material in: {msg}");
}

#[test]
fn identity_file_with_crlf_and_comments() {
    let dir = tempdir();
    let a = common::AgeKey::generate();
    let file = age_encrypt(dir.path(), &a.recipient);
    let crlf = format!("\r\n# comment\r\n{}", a.file_text.replace('\n', "\r\n"));
    file.assert_decrypts(&ring_with_text("crlf.txt", &crlf));
}

// ---------------------------------------------------------------------------------------------
// SSH keys as age recipients (sops >= 3.10) and ssh-to-age

#[test]
fn ssh_ed25519_age_recipient_with_native_identity() {
    let dir = tempdir();
    let key = ssh_keygen(dir.path(), "ed25519", "id_ed25519");
    let file = age_encrypt(dir.path(), &recipient_of_ssh(&key.public_line));
    assert!(file.json["sops"]["age"][0]["recipient"]
        .as_str()
        .unwrap()
        .starts_with("ssh-ed25519 "));

    let mut ring = Keyring::new();
    ring.add_ssh_key(&key.private).unwrap();
    assert!(ring.load_errors.is_empty(), "{:?}", ring.load_errors);
    file.assert_decrypts(&ring);

    // The ssh-to-age identity alone cannot open an ssh-ed25519 stanza: the native one did it.
    let mut converted = Keyring::new();
    converted.add_ssh_host_key_as_age(&key.private).unwrap();
    file.assert_no_key(&converted);
}

#[test]
fn ssh_rsa_age_recipient_with_native_identity() {
    let dir = tempdir();
    let key = ssh_keygen(dir.path(), "rsa", "id_rsa");
    let file = age_encrypt(dir.path(), &recipient_of_ssh(&key.public_line));
    let mut ring = Keyring::new();
    ring.add_ssh_key(&key.private).unwrap();
    assert!(ring.load_errors.is_empty(), "{:?}", ring.load_errors);
    file.assert_decrypts(&ring);
    let desc = ring.descriptions().join("\n");
    assert!(desc.contains("ssh-rsa AAAA"), "{desc}");
}

#[test]
fn ssh_to_age_conversion_agrees_with_sops_and_age() {
    common::require("age");
    let dir = tempdir();
    let key = ssh_keygen(dir.path(), "ed25519", "host_ed25519");
    let bytes = std::fs::read(&key.private).unwrap();

    // (a) private-key conversion and public-key conversion give the same recipient.
    let converted = convert_private_key(&bytes).unwrap();
    let from_public = public_key_to_age(&key.public_line).unwrap();
    assert_eq!(converted.recipient, from_public);
    assert!(converted.recipient.starts_with("age1"));

    // The real age-keygen derives the same recipient from our identity line.
    let id_file = dir.path().join("converted.txt");
    std::fs::write(&id_file, format!("{}\n", converted.identity_line.expose())).unwrap();
    let out = Command::new("age-keygen")
        .arg("-y")
        .arg(&id_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        converted.recipient
    );

    // (b) a file the real sops encrypts to that recipient decrypts with the host key.
    let file = age_encrypt(dir.path(), &converted.recipient);
    let mut ring = Keyring::new();
    let logged = ring.add_ssh_host_key_as_age(&key.private).unwrap();
    assert_eq!(logged, converted.recipient);
    file.assert_decrypts(&ring);
    // …and through add_ssh_key, which adds both the native and the converted identity.
    let mut both = Keyring::new();
    both.add_ssh_key(&key.private).unwrap();
    file.assert_decrypts(&both);

    // (c) the real age CLI: encrypt to the recipient, decrypt with our identity file.
    let plain = dir.path().join("msg.txt");
    std::fs::write(&plain, b"hello from age").unwrap();
    let enc = dir.path().join("msg.age");
    let out = Command::new("age")
        .args(["-r", &converted.recipient, "-o"])
        .arg(&enc)
        .arg(&plain)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&id_file)
        .arg(&enc)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"hello from age");
    // Our identity object opens what the real age wrote, too.
    let ciphertext = std::fs::read(&enc).unwrap();
    let dec = age::Decryptor::new(&ciphertext[..]).unwrap();
    let mut r = dec
        .decrypt(std::iter::once(&converted.identity as &dyn age::Identity))
        .unwrap();
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut got).unwrap();
    assert_eq!(got, b"hello from age");
}

#[test]
fn ssh_to_age_rejects_rsa_keys() {
    let dir = tempdir();
    let key = ssh_keygen(dir.path(), "rsa", "id_rsa");
    let mut ring = Keyring::new();
    let err = ring
        .add_ssh_host_key_as_age(&key.private)
        .unwrap_err()
        .to_string();
    assert!(err.contains("only ed25519"), "{err}");
    assert!(ring
        .load_errors
        .iter()
        .any(|e| e.to_string().contains("only ed25519")));
    assert!(public_key_to_age(&key.public_line).is_err());
}

// ---------------------------------------------------------------------------------------------
// Shamir

fn shamir_file(dir: &Path, keys: &[common::AgeKey; 3]) -> Encrypted {
    let config = format!(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: ['{}']\n      - age: ['{}']\n      - age: ['{}']\n",
        keys[0].recipient, keys[1].recipient, keys[2].recipient
    );
    std::fs::write(dir.join(".sops.yaml"), config).unwrap();
    sops_encrypt(dir, &[], &[])
}

#[test]
fn shamir_two_of_three_every_pair_decrypts_one_does_not() {
    let dir = tempdir();
    let keys = [
        common::AgeKey::generate(),
        common::AgeKey::generate(),
        common::AgeKey::generate(),
    ];
    let file = shamir_file(dir.path(), &keys);
    let md = file.metadata();
    assert_eq!(md.key_groups.len(), 3);
    assert_eq!(md.shamir_threshold, 2);

    for (i, j) in [(0, 1), (0, 2), (1, 2)] {
        let text = format!("{}{}", keys[i].file_text, keys[j].file_text);
        file.assert_decrypts(&ring_with_text(&format!("keys {i}+{j}"), &text));
    }
    // All three work too (SOPS combines every share it got).
    let all: String = keys.iter().map(|k| k.file_text.as_str()).collect();
    file.assert_decrypts(&ring_with_text("all", &all));

    file.write(&dir.path().join("enc.json"));
    for (i, key) in keys.iter().enumerate() {
        let err = file.assert_no_key(&ring_with_text(&format!("key {i}"), &key.file_text));
        assert!(err.summary.contains("2 of 3"), "{}", err.summary);
        assert!(err.summary.contains("threshold"), "{}", err.summary);
        assert!(err.summary.contains("1 decrypted"), "{}", err.summary);
        // The two groups it could not open are listed with their recipients.
        let msg = err.to_string();
        for (g, other) in keys.iter().enumerate().filter(|(g, _)| *g != i) {
            assert!(
                msg.contains(&format!("group {g}: age recipient {}", other.recipient)),
                "{msg}"
            );
        }
        // The real sops also refuses with one key: exit 128.
        let kf = key.write(dir.path(), &format!("k{i}.txt"));
        let out = common::sops_decrypt(dir.path(), "enc.json", &kf, &[]);
        assert_eq!(out.status.code(), Some(128), "{out:?}");
    }
}

#[test]
fn shamir_across_key_types() {
    // Group 0 is PGP, groups 1 and 2 age; any two groups open it, whatever their types.
    let dir = tempdir();
    let home = GnuPgHome::new();
    let fp = home.generate("shamir <shamir@nix-sops.test>", "default");
    let (a, b) = (common::AgeKey::generate(), common::AgeKey::generate());
    std::fs::write(
        dir.path().join(".sops.yaml"),
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - pgp: ['{fp}']\n      - age: ['{}']\n      - age: ['{}']\n",
            a.recipient, b.recipient
        ),
    )
    .unwrap();
    let file = pgp_encrypt(dir.path(), &home, &[]);
    assert_eq!(file.metadata().key_groups.len(), 3);

    let mut pgp_and_b = ring_with_text("b.txt", &b.file_text);
    pgp_and_b.set_gnupg_home(home.path());
    file.assert_decrypts(&pgp_and_b);
    file.assert_decrypts(&ring_with_text(
        "a+b",
        &format!("{}{}", a.file_text, b.file_text),
    ));

    let mut pgp_only = Keyring::new();
    pgp_only.set_gnupg_home(home.path());
    let err = file.assert_no_key(&pgp_only);
    assert!(err.summary.contains("2 of 3"), "{}", err.summary);
}

// ---------------------------------------------------------------------------------------------
// PGP

#[test]
fn pgp_armored_secret_keys_rsa_and_curve25519() {
    let dir = tempdir();
    let home = GnuPgHome::new();
    for (uid, algo) in [
        ("rsa <rsa@nix-sops.test>", "default"),
        ("cv <cv@nix-sops.test>", "future-default"),
    ] {
        let fp = home.generate(uid, algo);
        let file = pgp_encrypt(dir.path(), &home, &["--pgp", &fp]);
        assert_eq!(file.json["sops"]["pgp"][0]["fp"], fp.as_str());
        let asc = dir.path().join(format!("{fp}.asc"));
        home.export_secret(&fp, &asc);

        let mut ring = Keyring::new();
        assert_eq!(ring.add_pgp_armored(&asc).unwrap(), 1);
        assert_eq!(ring.pgp[0].fingerprint, fp);
        file.assert_decrypts(&ring);
    }
}

#[test]
fn pgp_through_the_gnupg_home_and_gpg_binary() {
    let dir = tempdir();
    let home = GnuPgHome::new();
    let fp = home.generate("home <home@nix-sops.test>", "default");
    let file = pgp_encrypt(dir.path(), &home, &["--pgp", &fp]);

    let mut ring = Keyring::new();
    ring.set_gnupg_home(home.path());
    file.assert_decrypts(&ring);

    // A home without the key: gpg's own reason, and no hang (stdin is closed).
    let empty = GnuPgHome::new();
    let mut ring = Keyring::new();
    ring.set_gnupg_home(empty.path());
    let err = file.assert_no_key(&ring);
    let msg = err.to_string();
    assert!(msg.contains(&format!("pgp fingerprint {fp}")), "{msg}");
    assert!(msg.contains("No secret key"), "{msg}");
    assert!(msg.contains(&empty.path().display().to_string()), "{msg}");

    // A home holding only a legacy binary secring.gpg: read in memory, as SOPS reads it with
    // go-crypto (gpg itself would find no key there).
    let legacy = GnuPgHome::new();
    let out = home.gpg(&["--export-secret-keys", &fp], None);
    assert!(out.status.success() && !out.stdout.is_empty(), "{out:?}");
    std::fs::write(legacy.path().join("secring.gpg"), &out.stdout).unwrap();
    let mut ring = Keyring::new();
    ring.set_gnupg_home(legacy.path());
    assert!(ring.load_errors.is_empty(), "{:?}", ring.load_errors);
    assert_eq!(ring.pgp.len(), 1);
    ring.gpg = None; // gpg 2.2 would migrate secring.gpg itself; test the in-memory path alone
    file.assert_decrypts(&ring);
    // The real sops decrypts with that home too.
    file.write(&dir.path().join("p.json"));
    let gnupghome = legacy.path().display().to_string();
    let out = common::sops(
        dir.path(),
        &["decrypt", "p.json"],
        &[("GNUPGHOME", gnupghome.as_str())],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn pgp_and_age_in_one_file() {
    let dir = tempdir();
    let (home, fp, age_key, file) = pgp_and_age_file(dir.path(), "mixed <mixed@nix-sops.test>");
    assert_eq!(file.metadata().key_groups[0].len(), 2);

    file.assert_decrypts(&ring_with_text("age.txt", &age_key.file_text));
    let asc = dir.path().join("k.asc");
    home.export_secret(&fp, &asc);
    let mut pgp_only = Keyring::new();
    pgp_only.add_pgp_armored(&asc).unwrap();
    file.assert_decrypts(&pgp_only);

    let err = file.assert_no_key(&Keyring::new());
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("age recipient {}", age_key.recipient)),
        "{msg}"
    );
    assert!(msg.contains(&format!("pgp fingerprint {fp}")), "{msg}");
    assert!(msg.contains("no identities were available"), "{msg}");
}

/// SOPS tries age before pgp within a group; `decryption_order` changes that. A gpg stand-in that
/// leaves a mark shows whether pgp was tried.
#[test]
fn decryption_order_age_first_then_configurable() {
    let dir = tempdir();
    let (_home, _fp, age_key, file) = pgp_and_age_file(dir.path(), "order <order@nix-sops.test>");

    let mark = dir.path().join("gpg-was-run");
    let fake = dir.path().join("fake-gpg");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\ntouch '{}'\necho 'gpg: decryption failed: No secret key' >&2\nexit 2\n",
            mark.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let mut ring = ring_with_text("age.txt", &age_key.file_text);
    ring.gpg = Some(nix_sops::keys::Gpg {
        binary: fake.display().to_string(),
        home: None,
    });
    file.assert_decrypts(&ring);
    assert!(!mark.exists(), "pgp was tried before age");

    ring.decryption_order = vec!["pgp".into(), "age".into()];
    file.assert_decrypts(&ring);
    assert!(mark.exists(), "pgp was not tried first");

    // The sops library's load order (sops-nix's installer): pgp before age.
    std::fs::remove_file(&mark).unwrap();
    ring.use_load_order();
    file.assert_decrypts(&ring);
    assert!(mark.exists(), "load order did not try pgp first");

    // SOPS_DECRYPTION_ORDER as the sops CLI reads it.
    std::fs::remove_file(&mark).unwrap();
    let key_file = age_key.write(dir.path(), "age.txt");
    let env = env_map(&[
        ("SOPS_AGE_KEY_FILE", key_file.to_str().unwrap()),
        ("SOPS_DECRYPTION_ORDER", "pgp,age"),
        ("SOPS_GPG_EXEC", fake.to_str().unwrap()),
    ]);
    let from_env = Keyring::from_env_with(&env);
    assert_eq!(from_env.decryption_order, ["pgp", "age"]);
    file.assert_decrypts(&from_env);
    assert!(mark.exists(), "SOPS_DECRYPTION_ORDER was ignored");
    assert!(nix_sops::keys::parse_decryption_order("age,age").is_err());
}

#[test]
fn rsa_ssh_key_as_pgp_like_sops_nix() {
    for (format, args) in [
        ("openssh", &["-t", "rsa"][..]),
        ("PEM", &["-t", "rsa", "-m", "PEM"][..]),
        ("PKCS8", &["-t", "rsa", "-m", "PKCS8"][..]),
    ] {
        rsa_ssh_key_as_pgp(format, args);
    }
}

fn rsa_ssh_key_as_pgp(format: &str, args: &[&str]) {
    let dir = tempdir();
    let key = ssh_keygen_with(dir.path(), args, "ssh_host_rsa_key");
    let head = std::fs::read_to_string(&key.private).unwrap();
    assert!(
        head.starts_with(match format {
            "openssh" => "-----BEGIN OPENSSH PRIVATE KEY-----",
            "PEM" => "-----BEGIN RSA PRIVATE KEY-----",
            _ => "-----BEGIN PRIVATE KEY-----",
        }),
        "{format}"
    );
    let mut ring = Keyring::new();
    let fp = ring.add_rsa_ssh_key_as_pgp(&key.private).unwrap();
    assert_eq!(fp.len(), 40);

    // Deterministic: creation time 0, so the same key gives the same fingerprint again.
    let mut again = Keyring::new();
    assert_eq!(again.add_rsa_ssh_key_as_pgp(&key.private).unwrap(), fp);

    // The real gpg imports the public half and computes the same fingerprint and uid, and the
    // real sops encrypts to it.
    let home = GnuPgHome::new();
    let armored = ring.pgp[0].public_key_armored().unwrap();
    let out = home.gpg(&["--import"], Some(armored.as_bytes()));
    assert!(out.status.success(), "gpg --import failed: {out:?}");
    assert_eq!(home.fingerprint_of("root@localhost"), fp);
    let listing = home.gpg(&["--with-colons", "--list-keys", &fp], None);
    let listing = String::from_utf8(listing.stdout).unwrap();
    // The uid sops-nix gives the key: pkgs/sops-install-secrets/sshkeys/convert.go:44
    // (Mic92/sops-nix 56b24064).
    assert!(
        listing.contains("root (Imported from SSH) <root@localhost>"),
        "{listing}"
    );
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("pub:") && l.split(':').nth(5) == Some("0")),
        "creation time is not 0: {listing}"
    );
    let file = pgp_encrypt(dir.path(), &home, &["--pgp", &fp]);
    file.assert_decrypts(&ring);

    // An ed25519 key cannot become a PGP key this way (sops-nix only warns).
    let ed = ssh_keygen(dir.path(), "ed25519", "ssh_host_ed25519_key");
    let err = Keyring::new()
        .add_rsa_ssh_key_as_pgp(&ed.private)
        .unwrap_err()
        .to_string();
    assert!(err.contains("only RSA"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// plugins, malformed sources, unsupported keys

#[test]
fn missing_plugin_binary_is_a_clear_error() {
    let dir = tempdir();
    let good = common::AgeKey::generate();
    let file = age_encrypt(dir.path(), &good.recipient);
    let plugin_line = age::plugin::Identity::default_for_plugin("nixsopsmissing")
        .unwrap()
        .to_string();
    let text = format!("{plugin_line}\n{}", good.file_text);

    let err = nix_sops::keys::parse_identity_file("keys.txt", &text)
        .unwrap_err()
        .to_string();
    assert!(err.contains("age-plugin-nixsopsmissing"), "{err}");
    assert!(err.contains("PATH"), "{err}");

    // In a key ring the plugin line is reported and the other identities still work.
    let mut ring = Keyring::new();
    ring.add_identity_text("keys.txt", text.as_bytes()).unwrap();
    assert!(
        ring.load_errors
            .iter()
            .any(|e| e.to_string().contains("keys.txt: line 1")
                && e.to_string().contains("age-plugin-nixsopsmissing")),
        "{:?}",
        ring.load_errors
    );
    file.assert_decrypts(&ring);

    let other = common::AgeKey::generate();
    let file2 = age_encrypt(dir.path(), &other.recipient);
    let msg = file2.assert_no_key(&ring).to_string();
    assert!(msg.contains("age-plugin-nixsopsmissing"), "{msg}");
}

#[test]
fn malformed_line_fails_that_source_only_like_sops() {
    let dir = tempdir();
    let in_bad = common::AgeKey::generate();
    let in_good = common::AgeKey::generate();
    let bad_file = dir.path().join("bad.txt");
    std::fs::write(&bad_file, format!("{}not-a-key\n", in_bad.file_text)).unwrap();
    let xdg = dir.path().join("xdg");
    std::fs::create_dir_all(xdg.join("sops/age")).unwrap();
    std::fs::write(xdg.join("sops/age/keys.txt"), &in_good.file_text).unwrap();

    let env = env_map(&[
        ("SOPS_AGE_KEY_FILE", bad_file.to_str().unwrap()),
        ("XDG_CONFIG_HOME", xdg.to_str().unwrap()),
    ]);
    let ring = Keyring::from_env_with(&env);
    assert!(
        ring.load_errors
            .iter()
            .any(|e| e.to_string().contains("bad.txt") && e.to_string().contains("line 4")),
        "{:?}",
        ring.load_errors
    );
    assert!(!ring
        .load_errors
        .iter()
        .any(|e| e.to_string().contains("not-a-key")));

    let to_good = age_encrypt(dir.path(), &in_good.recipient);
    to_good.assert_decrypts(&ring);
    // The valid key before the bad line is not loaded: the whole source failed.
    let to_bad = age_encrypt(dir.path(), &in_bad.recipient);
    let msg = to_bad.assert_no_key(&ring).to_string();
    assert!(
        msg.contains("sources that could not be loaded:\n  SOPS_AGE_KEY_FILE")
            && msg.contains("bad.txt: line 4 is not an age identity"),
        "{msg}"
    );

    // The real sops agrees: the file encrypted to the key in the broken source does not decrypt.
    to_bad.write(&dir.path().join("to_bad.json"));
    let out = common::sops_decrypt(dir.path(), "to_bad.json", &bad_file, &[]);
    assert_eq!(out.status.code(), Some(128), "{out:?}");
}

#[test]
fn cloud_keys_are_listed_as_unsupported() {
    let dir = tempdir();
    let a = common::AgeKey::generate();
    let mut file = age_encrypt(dir.path(), &a.recipient);
    file.json["sops"]["kms"] = serde_json::json!([{
        "arn": "arn:aws:kms:us-east-1:000000000000:key/nix-sops-test",
        "created_at": "2026-01-01T00:00:00Z",
        "enc": "AQICAHh=",
        "aws_profile": ""
    }]);
    let msg = file.assert_no_key(&Keyring::new()).to_string();
    assert!(msg.contains("kms keys are not supported"), "{msg}");
    assert!(msg.contains("nix-sops-test"), "{msg}");
    assert!(msg.contains(&a.recipient), "{msg}");
    // The age key still opens it.
    file.assert_decrypts(&ring_with_text("a.txt", &a.file_text));
}

// ---------------------------------------------------------------------------------------------
// identity sources from the environment

fn env_map(pairs: &[(&str, &str)]) -> impl Env {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

#[test]
fn env_sources_each_load() {
    let dir = tempdir();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let [k_env, k_file, k_cmd, k_xdg] = [(); 4].map(|_| common::AgeKey::generate());
    let key_file = k_file.write(dir.path(), "file.txt");
    let cmd_file = k_cmd.write(dir.path(), "cmd key.txt");
    let xdg = dir.path().join("xdg");
    std::fs::create_dir_all(xdg.join("sops/age")).unwrap();
    std::fs::write(xdg.join("sops/age/keys.txt"), &k_xdg.file_text).unwrap();
    let cmd = format!("cat '{}'", cmd_file.display());

    let env = env_map(&[
        ("HOME", home.to_str().unwrap()),
        ("XDG_CONFIG_HOME", xdg.to_str().unwrap()),
        ("SOPS_AGE_KEY", &k_env.file_text),
        ("SOPS_AGE_KEY_FILE", key_file.to_str().unwrap()),
        ("SOPS_AGE_KEY_CMD", &cmd),
    ]);
    let ring = Keyring::from_env_with(&env);
    assert!(ring.load_errors.is_empty(), "{:?}", ring.load_errors);
    for k in [&k_env, &k_file, &k_cmd, &k_xdg] {
        age_encrypt(dir.path(), &k.recipient).assert_decrypts(&ring);
    }
    let desc = ring.descriptions().join("\n");
    assert!(
        desc.contains(&format!("SOPS_AGE_KEY: {}", k_env.recipient)),
        "{desc}"
    );
    assert!(desc.contains("SOPS_AGE_KEY_CMD"), "{desc}");
    assert!(desc.contains("sops/age/keys.txt"), "{desc}");

    // Each source alone: a ring without it cannot open its file.
    let without_cmd = Keyring::from_env_with(&env_map(&[("HOME", home.to_str().unwrap())]));
    age_encrypt(dir.path(), &k_cmd.recipient).assert_no_key(&without_cmd);
}

#[test]
fn keys_txt_falls_back_to_home_config_and_ssh_defaults_load() {
    let dir = tempdir();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".config/sops/age")).unwrap();
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    let k = common::AgeKey::generate();
    std::fs::write(home.join(".config/sops/age/keys.txt"), &k.file_text).unwrap();
    let ssh = ssh_keygen(&home.join(".ssh"), "ed25519", "id_ed25519");

    let env = env_map(&[("HOME", home.to_str().unwrap())]);
    let ring = Keyring::from_env_with(&env);
    assert!(ring.load_errors.is_empty(), "{:?}", ring.load_errors);
    age_encrypt(dir.path(), &k.recipient).assert_decrypts(&ring);
    // ~/.ssh/id_ed25519 gives both the native age-ssh identity and the ssh-to-age one.
    age_encrypt(dir.path(), &recipient_of_ssh(&ssh.public_line)).assert_decrypts(&ring);
    let converted = public_key_to_age(&ssh.public_line).unwrap();
    age_encrypt(dir.path(), &converted).assert_decrypts(&ring);

    // SOPS_AGE_SSH_PRIVATE_KEY_FILE points elsewhere.
    let other = ssh_keygen(dir.path(), "ed25519", "elsewhere");
    let env = env_map(&[(
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
        other.private.to_str().unwrap(),
    )]);
    let ring = Keyring::from_env_with(&env);
    age_encrypt(dir.path(), &recipient_of_ssh(&other.public_line)).assert_decrypts(&ring);
}

#[test]
fn failing_sources_are_recorded_not_fatal() {
    let dir = tempdir();
    let k = common::AgeKey::generate();
    let env = env_map(&[
        ("SOPS_AGE_KEY", &k.file_text),
        ("SOPS_AGE_KEY_FILE", "/nonexistent/nix-sops/keys.txt"),
        ("SOPS_AGE_KEY_CMD", "false"),
        ("SOPS_AGE_SSH_PRIVATE_KEY_FILE", "/nonexistent/id_ed25519"),
        ("XDG_CONFIG_HOME", "relative/dir"),
    ]);
    let ring = Keyring::from_env_with(&env);
    let errs = ring
        .load_errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        errs.contains("SOPS_AGE_KEY_FILE /nonexistent/nix-sops/keys.txt"),
        "{errs}"
    );
    assert!(errs.contains("SOPS_AGE_KEY_CMD `false`: failed"), "{errs}");
    assert!(errs.contains("/nonexistent/id_ed25519"), "{errs}");
    age_encrypt(dir.path(), &k.recipient).assert_decrypts(&ring);
}

/// `Keyring::from_env` reads the real process environment. It runs in a child process so no test
/// here mutates this process's environment.
#[test]
fn from_env_reads_the_process_environment() {
    let dir = tempdir();
    let k_env = common::AgeKey::generate();
    let k_xdg = common::AgeKey::generate();
    let xdg = dir.path().join("xdg");
    std::fs::create_dir_all(xdg.join("sops/age")).unwrap();
    std::fs::write(xdg.join("sops/age/keys.txt"), &k_xdg.file_text).unwrap();
    for (name, k) in [("env.json", &k_env), ("xdg.json", &k_xdg)] {
        let f = age_encrypt(dir.path(), &k.recipient);
        f.write(&dir.path().join(name));
    }
    run_child("child_from_env", dir.path(), |c| {
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.path().join("nohome"))
            .env("XDG_CONFIG_HOME", &xdg)
            .env("SOPS_AGE_KEY", &k_env.file_text)
    });
}

/// Runs the ignored test `child` alone in a child process of this test binary, with `dir` in
/// `NIX_SOPS_KEYS_CHILD_DIR` and the environment `env` sets; the child must pass.
fn run_child(child: &str, dir: &Path, env: impl FnOnce(&mut Command) -> &mut Command) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", child, "--ignored", "--nocapture"]);
    let out = env(&mut cmd)
        .env("NIX_SOPS_KEYS_CHILD_DIR", dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// In a child process: the directory its parent test prepared.
fn child_dir() -> PathBuf {
    PathBuf::from(std::env::var("NIX_SOPS_KEYS_CHILD_DIR").expect("only run from its parent test"))
}

#[test]
#[ignore = "run by from_env_reads_the_process_environment in a child process"]
fn child_from_env() {
    let dir = child_dir();
    let ring = Keyring::from_env();
    for name in ["env.json", "xdg.json"] {
        Encrypted::parse(&std::fs::read(dir.join(name)).unwrap()).assert_decrypts(&ring);
    }
}

// ---------------------------------------------------------------------------------------------
// Shamir split/combine properties

mod shamir_props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_threshold_subset_recombines(
            secret in proptest::collection::vec(any::<u8>(), 1..48),
            parts in 2usize..8,
            threshold_seed in any::<usize>(),
            subset_seed in any::<u64>(),
        ) {
            let threshold = 2 + threshold_seed % (parts - 1);
            let shares = shamir_split(&secret, parts, threshold).unwrap();
            prop_assert_eq!(shares.len(), parts);
            for s in &shares {
                prop_assert_eq!(s.len(), secret.len() + 1);
            }
            // A pseudo-random subset of at least `threshold` shares, in a shuffled order.
            let mut idx: Vec<usize> = (0..parts).collect();
            let mut seed = subset_seed;
            for i in (1..idx.len()).rev() {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                idx.swap(i, (seed >> 33) as usize % (i + 1));
            }
            let take = threshold + (subset_seed as usize % (parts - threshold + 1));
            let chosen: Vec<SecretBytes> = idx[..take].iter().map(|&i| shares[i].clone()).collect();
            let got = shamir_combine(&chosen).unwrap();
            prop_assert_eq!(got.expose(), &secret[..]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// passphrases: nothing can prompt during activation, so only a callback supplies them

/// `age -p` reads the passphrase from a terminal; `script` gives it one fed from stdin.
fn age_passphrase_encrypt(input: &Path, output: &Path, armor: bool, passphrase: &str) {
    common::require("age");
    common::require("script");
    let cmd = format!(
        "age -p {}-o '{}' '{}'",
        if armor { "-a " } else { "" },
        output.display(),
        input.display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        write!(stdin, "{passphrase}\n{passphrase}\n").unwrap();
    }
    assert!(child.wait().unwrap().success(), "age -p failed");
    assert!(output.exists());
}

#[test]
fn passphrase_encrypted_identity_file() {
    let dir = tempdir();
    let k = common::AgeKey::generate();
    let plain = k.write(dir.path(), "keys.txt");
    let file = age_encrypt(dir.path(), &k.recipient);
    for armor in [false, true] {
        let enc = dir.path().join(format!("keys-{armor}.age"));
        age_passphrase_encrypt(&plain, &enc, armor, "correct horse");

        let mut ring = Keyring::new();
        let err = ring.add_identity_file(&enc).unwrap_err().to_string();
        assert!(err.contains("passphrase-encrypted"), "{err}");
        assert_eq!(ring.load_errors.len(), 1);
        file.assert_no_key(&ring);

        let mut ring = Keyring::new();
        ring.set_passphrase_callback(|_| Some(SecretString::from("correct horse")));
        assert_eq!(ring.add_identity_file(&enc).unwrap(), 1);
        file.assert_decrypts(&ring);

        let mut ring = Keyring::new();
        ring.set_passphrase_callback(|_| Some(SecretString::from("wrong")));
        let err = ring.add_identity_file(&enc).unwrap_err().to_string();
        assert!(err.contains("wrong or missing passphrase"), "{err}");
    }
}

#[test]
fn passphrase_protected_ssh_key() {
    let dir = tempdir();
    let key = ssh_keygen_with(dir.path(), &["-t", "ed25519", "-N", "sekrit"], "id_locked");
    let file = age_encrypt(dir.path(), &recipient_of_ssh(&key.public_line));

    let mut ring = Keyring::new();
    let err = ring.add_ssh_key(&key.private).unwrap_err().to_string();
    assert!(err.contains("passphrase-protected"), "{err}");
    file.assert_no_key(&ring);
    let err = Keyring::new()
        .add_ssh_host_key_as_age(&key.private)
        .unwrap_err()
        .to_string();
    assert!(err.contains("passphrase-protected"), "{err}");

    let mut ring = Keyring::new();
    ring.set_passphrase_callback(|_| Some(SecretString::from("sekrit")));
    ring.add_ssh_key(&key.private).unwrap();
    file.assert_decrypts(&ring);
}

// ---------------------------------------------------------------------------------------------
// end to end: `nix-sops decrypt` and the real `sops decrypt` agree, key source by key source
// (JSON: the store that has landed; the key handling is the same for every store)

/// Runs `bin decrypt <args> file` in `dir` with a clean environment plus `env`.
fn run_decrypt(bin: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = dir.join(".home");
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .arg("decrypt")
        .args(args)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Both tools decrypt `file` alike: same exit code, and same stdout on success.
fn agree(dir: &Path, file: &str, env: &[(&str, &str)], ours_extra: &[&str]) -> Output {
    let theirs = run_decrypt(common::sops_bin(), dir, &[file], env);
    let mut args = ours_extra.to_vec();
    args.push(file);
    let ours = run_decrypt(Path::new(env!("CARGO_BIN_EXE_nix-sops")), dir, &args, env);
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "exit codes differ for {file}:\nours: {}\nsops: {}",
        String::from_utf8_lossy(&ours.stderr),
        String::from_utf8_lossy(&theirs.stderr)
    );
    if theirs.status.success() {
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout)
        );
    }
    ours
}

#[test]
fn nix_sops_decrypt_agrees_with_sops_per_key_source() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(
        d.join("plain.json"),
        r#"{"db": {"password": "hunter2"}, "port": 5432}"#,
    )
    .unwrap();
    let encrypt = |args: &[&str], out: &str, env: &[(&str, &str)]| {
        let mut full = vec!["encrypt"];
        full.extend_from_slice(args);
        full.push("plain.json");
        let o = common::sops(d, &full, env);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::write(d.join(out), o.stdout).unwrap();
    };

    // Shamir 2 of 3 through SOPS_AGE_KEY (newline-separated keys).
    let keys = [(); 3].map(|_| common::AgeKey::generate());
    std::fs::write(
        d.join(".sops.yaml"),
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: ['{}']\n      - age: ['{}']\n      - age: ['{}']\n",
            keys[0].recipient, keys[1].recipient, keys[2].recipient
        ),
    )
    .unwrap();
    encrypt(&[], "shamir.json", &[]);
    std::fs::remove_file(d.join(".sops.yaml")).unwrap();
    let pair = format!("{}{}", keys[0].file_text, keys[2].file_text);
    agree(d, "shamir.json", &[("SOPS_AGE_KEY", &pair)], &[]);
    let one = agree(
        d,
        "shamir.json",
        &[("SOPS_AGE_KEY", &keys[1].file_text)],
        &[],
    );
    assert_eq!(one.status.code(), Some(128));
    assert!(String::from_utf8_lossy(&one.stderr).contains("threshold"));

    // SOPS_AGE_KEY_CMD and the XDG keys.txt.
    let k = common::AgeKey::generate();
    let kf = k.write(d, "cmd-key.txt");
    encrypt(&["--age", &k.recipient], "cmd.json", &[]);
    let cmd = format!("cat {}", kf.display());
    agree(d, "cmd.json", &[("SOPS_AGE_KEY_CMD", &cmd)], &[]);
    let xdg = d.join("xdg");
    std::fs::create_dir_all(xdg.join("sops/age")).unwrap();
    std::fs::write(xdg.join("sops/age/keys.txt"), &k.file_text).unwrap();
    agree(
        d,
        "cmd.json",
        &[("XDG_CONFIG_HOME", xdg.to_str().unwrap())],
        &[],
    );
    let none = agree(d, "cmd.json", &[], &[]);
    assert_eq!(none.status.code(), Some(128));
    // sops 3.11 splits SOPS_AGE_KEY on newlines only: two keys on one line fail the source.
    let k2 = common::AgeKey::generate();
    let secret_line = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .unwrap()
            .to_owned()
    };
    let spaced = format!(
        "{} {}",
        secret_line(&k2.file_text),
        secret_line(&k.file_text)
    );
    let spaced = agree(d, "cmd.json", &[("SOPS_AGE_KEY", &spaced)], &[]);
    assert_eq!(spaced.status.code(), Some(128));

    // An ssh-ed25519 recipient and SOPS_AGE_SSH_PRIVATE_KEY_FILE.
    let ssh = ssh_keygen(d, "ed25519", "id_test");
    encrypt(
        &["--age", &recipient_of_ssh(&ssh.public_line)],
        "ssh.json",
        &[],
    );
    let p = ssh.private.to_str().unwrap();
    agree(d, "ssh.json", &[("SOPS_AGE_SSH_PRIVATE_KEY_FILE", p)], &[]);

    // PGP through GNUPGHOME.
    let home = GnuPgHome::new();
    let fp = home.generate("e2e <e2e@nix-sops.test>", "default");
    let (gk, gv) = home.env();
    encrypt(&["--pgp", &fp], "pgp.json", &[(gk, &gv)]);
    agree(d, "pgp.json", &[(gk, &gv)], &[]);
}

// ---------------------------------------------------------------------------------------------
// age plugins: a test plugin (tests/assets/age-plugin-fake, identity-v1 in Python) that opens
// X25519 stanzas with a key next to it, and can ask for a PIN. The real age CLI checks it first.

/// The raw 32-byte X25519 scalar of an `AGE-SECRET-KEY-1…` line, in hex (the plugin's key.hex).
fn raw_x25519_hex(file_text: &str) -> String {
    let line = file_text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap();
    let (_, data) = bech32::decode(line).unwrap();
    data.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn age_plugin_identity_through_a_plugin_binary() {
    common::require("age");
    common::require("python3");
    let dir = tempdir();
    let d = dir.path();
    let bin = d.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let plugin = bin.join("age-plugin-fake");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/assets/age-plugin-fake"),
        &plugin,
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let k = common::AgeKey::generate();
    std::fs::write(bin.join("key.hex"), raw_x25519_hex(&k.file_text)).unwrap();
    let identity = age::plugin::Identity::default_for_plugin("fake")
        .unwrap()
        .to_string();
    let id_file = d.join("plugin.txt");
    std::fs::write(&id_file, format!("# plugin\n{identity}\n")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    // The real age CLI decrypts through the test plugin: it speaks the protocol.
    let msg = d.join("m.age");
    let out = Command::new("age")
        .args(["-r", &k.recipient, "-o"])
        .arg(&msg)
        .arg(k.write(d, "unused.txt"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = Command::new("age")
        .env("PATH", &path)
        .arg("-d")
        .arg("-i")
        .arg(&id_file)
        .arg(&msg)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "real age with the test plugin: {out:?}"
    );
    assert_eq!(out.stdout, k.file_text.as_bytes());

    let file = age_encrypt(d, &k.recipient);
    file.write(&d.join("f.json"));
    // PATH is process-wide (age finds plugins through it): run the checks in a child process.
    run_child("child_plugin", d, |c| c.env("PATH", &path));
}

#[test]
#[ignore = "run by age_plugin_identity_through_a_plugin_binary in a child process"]
fn child_plugin() {
    let dir = child_dir();
    let file = Encrypted::parse(&std::fs::read(dir.join("f.json")).unwrap());
    let id_file = dir.join("plugin.txt");

    let mut ring = Keyring::new();
    assert_eq!(ring.add_identity_file(&id_file).unwrap(), 1);
    assert!(ring.descriptions()[0].contains("age-plugin-fake"));
    file.assert_decrypts(&ring);

    // The plugin asks for a PIN: without a callback it cannot get one, and says so.
    std::fs::write(dir.join("bin/pin.txt"), "4711\n").unwrap();
    let msg = file.assert_no_key(&ring).to_string();
    assert!(msg.contains("wrong or missing PIN"), "{msg}");
    assert!(!msg.contains("4711"), "{msg}");

    let mut ring = Keyring::new();
    ring.set_passphrase_callback(|prompt| {
        assert!(prompt.contains("fake PIN"), "{prompt}");
        Some(SecretString::from("4711"))
    });
    ring.add_identity_file(&id_file).unwrap();
    file.assert_decrypts(&ring);

    let mut ring = Keyring::new();
    ring.set_passphrase_callback(|_| Some(SecretString::from("0000")));
    ring.add_identity_file(&id_file).unwrap();
    file.assert_no_key(&ring);
}
