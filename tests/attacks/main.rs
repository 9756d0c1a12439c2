//! Attacks on the installer and the `nix-sops` commands, one test each (issue 8). Installer
//! tests run the real `sops-install-secrets` as root in a private mount namespace with a tmpfs on
//! /run, on files encrypted by the real sops 3.11.

#[path = "../common/mod.rs"]
mod peers;

mod input;

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_sops-install-secrets");

/// Runs `script` (sh) in a fresh private mount namespace with a tmpfs on /run. `$BIN` is the
/// installer.
pub fn ns(script: &str, env: &[(&str, &str)]) -> Output {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the installer attack tests need root (CI runs them as root)"
    );
    peers::require("unshare");
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-euc"])
        .arg(format!("mount -t tmpfs -o mode=0755 tmpfs /run\n{script}"))
        .env("BIN", BIN)
        .env_remove("NIXOS_ACTION")
        .env_remove("SOPS_AGE_KEY_FILE")
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_RESTART_UNITS_VIA_SYSTEMCTL")
        .env("HOME", "/var/empty");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("unshare runs")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// A directory with an age key (from the real age-keygen) and sops files encrypted to it.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub key: PathBuf,
    pub recipient: String,
}

impl Fixture {
    pub fn with_age_key() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let k = peers::AgeKey::generate();
        let key = k.write(dir.path(), "age.txt");
        Fixture {
            recipient: k.recipient.clone(),
            dir,
            key,
        }
    }

    pub fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Encrypts `plain` with the real sops (the store from `name`'s extension) to `recipients`.
    pub fn encrypt_to(&self, name: &str, plain: &str, recipients: &str) -> PathBuf {
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

    pub fn encrypt(&self, name: &str, plain: &str) -> PathBuf {
        self.encrypt_to(name, plain, &self.recipient.clone())
    }

    /// Writes a manifest with sops-nix's defaults, this fixture's key, and `extra` on top.
    pub fn manifest(
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

/// A secret entry as the module writes it.
pub fn secret(name: &str, file: &Path, extra: serde_json::Value) -> serde_json::Value {
    let mut s = json!({
        "name": name, "key": name, "path": format!("/run/secrets/{name}"), "format": "yaml",
        "mode": "0400", "owner": null, "uid": 0, "group": null, "gid": 0, "sopsFile": file,
        "sopsFileHash": "", "restartUnits": [], "reloadUnits": [], "neededForUsers": false
    });
    for (k, v) in extra.as_object().unwrap() {
        s[k] = v.clone();
    }
    s
}
