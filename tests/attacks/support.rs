//! The sandbox the attacks run in, and fixtures made by the real sops.

#[path = "../common/mod.rs"]
pub mod peers;

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_sops-install-secrets");

/// The mounts every sandbox makes, each checked before the script runs: a test must never
/// change the machine it runs on.
const SETUP: &str = r#"
mount -t tmpfs -o mode=0755 tmpfs /run
# The build ($KEEP: the installer and the fixtures) may live under /home or /tmp, which are
# hidden next: it stays reachable at its own path through a bind mount.
mkdir /run/.keep
mount --bind "$KEEP" /run/.keep
mount -t tmpfs -o mode=0755 tmpfs /home
mount -t tmpfs -o mode=1777 tmpfs /tmp
if [ ! -d "$KEEP" ]; then mkdir -p "$KEEP" && mount --bind /run/.keep "$KEEP"; fi
mkdir /run/.etc
cp -a /etc/. /run/.etc/
mount --bind /run/.etc /etc
for m in /run /home /tmp /etc; do
  mountpoint -q "$m" || { echo "sandbox: $m is not a private mount" >&2; exit 99; }
done
[ "$(stat -c %d /etc)" = "$(stat -c %d /run)" ] || { echo "sandbox: /etc is not the private copy" >&2; exit 99; }
mkdir -p /run/nixos
# as(USER, SCRIPT): run SCRIPT as an unprivileged user.
as() { u=$1; shift; setpriv --reuid="$u" --regid="$u" --init-groups -- sh -euc "$*"; }
user() { useradd --create-home --user-group --shell /bin/sh "$1"; }
"#;

pub struct Run {
    pub out: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    #[track_caller]
    pub fn ok(&self) -> String {
        assert!(
            self.out.status.success(),
            "sandbox script failed: {}\nstdout:\n{}\nstderr:\n{}",
            self.out.status,
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }
}

/// Runs `script` (sh -eu) as root in a fresh sandbox. `$BIN` is the installer.
pub fn sandbox(script: &str) -> Run {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the attack tests need root (CI runs them as root)"
    );
    for tool in ["unshare", "setpriv", "useradd", "mountpoint"] {
        peers::require(tool);
    }
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-euc"])
        .arg(format!("{SETUP}\n{script}"))
        // NIX_SOPS_ATTACK_BIN: try the attacks on another build (e.g. an older one).
        .env(
            "BIN",
            std::env::var("NIX_SOPS_ATTACK_BIN").unwrap_or_else(|_| BIN.to_owned()),
        )
        .env("KEEP", target_dir())
        .env_remove("NIXOS_ACTION")
        .env_remove("SOPS_AGE_KEY_FILE")
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_RESTART_UNITS_VIA_SYSTEMCTL")
        .env("HOME", "/var/empty")
        .output()
        .expect("unshare runs");
    assert_ne!(
        out.status.code(),
        Some(99),
        "the sandbox could not be set up: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Run { out }
}

/// The build directory: the installer ([`BIN`]) and the fixtures (`CARGO_TARGET_TMPDIR`) are in it.
fn target_dir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is target/tmp")
}

/// Runs `script` (sh) in a lighter sandbox: a private mount namespace with a tmpfs on /run only
/// (for attacks that need no other users). `$BIN` is the installer; `env` is added.
pub fn ns(script: &str, env: &[(&str, &str)]) -> Output {
    peers::installer_ns(BIN, script, env)
}

pub use peers::{ok, text};

/// An age key (from the real age-keygen) and sops files encrypted to it by the real sops, in a
/// directory the sandbox's tmpfs mounts do not hide.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub key: PathBuf,
    pub recipient: String,
}

impl Fixture {
    pub fn with_age_key() -> Fixture {
        Fixture::new()
    }

    pub fn new() -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("attacks-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
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

    /// `plain` encrypted by the real sops (the store from `name`'s extension) to the fixture's
    /// key, saved as `name`.
    pub fn encrypt(&self, name: &str, plain: &str) -> PathBuf {
        self.encrypt_to(name, plain, &self.recipient.clone())
    }

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

    /// A system-mode manifest (sops-nix's defaults) with `secrets` and `extra` top-level fields,
    /// saved as `name`.
    pub fn manifest(
        &self,
        name: &str,
        secrets: serde_json::Value,
        extra: serde_json::Value,
    ) -> PathBuf {
        let mut m = json!({
            "secrets": secrets, "templates": [], "placeholderBySecretName": {},
            "secretsMountPoint": "/run/secrets.d", "symlinkPath": "/run/secrets",
            "keepGenerations": 1, "gnupgHome": null, "sshKeyPaths": [], "ageKeyFile": self.key,
            "ageSshKeyPaths": [], "useTmpfs": false, "userMode": false,
            "logging": {"keyImport": true, "secretChanges": true}
        });
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        let p = self.p(name);
        std::fs::write(&p, serde_json::to_vec(&m).unwrap()).unwrap();
        p
    }
}

/// A secret entry as the NixOS module writes it; `extra` overrides fields.
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
