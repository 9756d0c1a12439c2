//! Helpers of the apply tests: private mount namespaces (with a private /etc, so that users and
//! groups made by `useradd` never reach the machine), and a fake decryption source.

use nix_sops::install::Source;
use nix_sops::install::{CheckMode, Env, Options, RuntimeDir};
use nix_sops::sops::{Format, MapItem, PlainTree, Tree, Value};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Root is needed for mounts and chown. Under `unshare -rm` a normal user is root in its own
/// namespace; anywhere else the test fails loudly, never silently green.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the installer tests need root (CI runs them as root; a normal user can try `unshare -rm cargo test`)"
    );
}

/// Runs `f` on a fresh thread that has its own private mount namespace with a tmpfs on /run and
/// a private copy of /etc bound over /etc, so the real `/run/secrets`, `/run/secrets.d` and
/// `/run/nixos` paths can be used, and users created, without touching the host.
/// (unshare(CLONE_NEWNS) is per thread: only this thread, and the processes it starts, see the
/// new mounts.)
pub fn in_namespace<F: FnOnce() + Send + 'static>(f: F) {
    require_root();
    let r = std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).expect("unshare(CLONE_NEWNS)");
        use nix::mount::{mount, MsFlags};
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .expect("making / private");
        mount(
            Some("tmpfs"),
            "/run",
            Some("tmpfs"),
            MsFlags::empty(),
            Some("mode=0755"),
        )
        .expect("mounting a tmpfs on /run");
        // A private /etc, copied into the tmpfs: useradd/groupadd (children of this thread, so
        // in its namespace) and the installer's NSS lookups see the copy.
        let st = Command::new("cp")
            .args(["-a", "/etc", "/run/.etc"])
            .status()
            .expect("cp runs");
        assert!(st.success(), "copying /etc failed");
        mount(
            Some("/run/.etc"),
            "/etc",
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .expect("binding the private /etc");
        let dev = |p: &str| nix::sys::stat::stat(p).unwrap().st_dev;
        assert_eq!(dev("/etc"), dev("/run"), "/etc is not the private copy");
        f()
    })
    .join();
    if let Err(e) = r {
        std::panic::resume_unwind(e);
    }
}

/// Creates (idempotently) a system user `name` with its own group, and returns (uid, gid).
pub fn ensure_user(name: &str) -> (u32, u32) {
    assert!(name.starts_with("nixsops-"));
    if nix::unistd::User::from_name(name).unwrap().is_none() {
        let st = Command::new("useradd")
            .args([
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ])
            .status()
            .expect("useradd runs (scripts/install-peers installs passwd)");
        // A parallel test may have created it in the meantime.
        assert!(
            st.success() || nix::unistd::User::from_name(name).unwrap().is_some(),
            "useradd {name} failed"
        );
    }
    let u = nix::unistd::User::from_name(name).unwrap().unwrap();
    (u.uid.as_raw(), u.gid.as_raw())
}

pub fn ensure_group(name: &str) -> u32 {
    assert!(name.starts_with("nixsops-"));
    if nix::unistd::Group::from_name(name).unwrap().is_none() {
        let st = Command::new("groupadd")
            .args(["--system", name])
            .status()
            .expect("groupadd runs");
        assert!(
            st.success() || nix::unistd::Group::from_name(name).unwrap().is_some(),
            "groupadd {name} failed"
        );
    }
    nix::unistd::Group::from_name(name)
        .unwrap()
        .unwrap()
        .gid
        .as_raw()
}

/// The group the installer gives the mount point: `keys`, else `nogroup`.
pub fn keys_gid() -> u32 {
    nix::unistd::Group::from_name("keys")
        .unwrap()
        .or_else(|| nix::unistd::Group::from_name("nogroup").unwrap())
        .expect("keys or nogroup exists")
        .gid
        .as_raw()
}

/// Plaintext documents by sops file path, counting decryptions.
#[derive(Default)]
pub struct FakeSource {
    pub docs: HashMap<PathBuf, Vec<(String, Value)>>,
    pub calls: HashMap<PathBuf, usize>,
}

impl FakeSource {
    pub fn with(mut self, file: &str, entries: &[(&str, Value)]) -> Self {
        self.docs.insert(
            PathBuf::from(file),
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        );
        self
    }
}

impl Source for FakeSource {
    fn decrypt(
        &mut self,
        sops_file: &Path,
        format: Format,
    ) -> nix_sops::install::Result<PlainTree> {
        *self.calls.entry(sops_file.to_owned()).or_default() += 1;
        let doc = self.docs.get(sops_file).ok_or_else(|| {
            nix_sops::install::Error::new(
                nix_sops::install::ErrorKind::Decrypt,
                format!(
                    "failed to decrypt '{}': no such fake file",
                    sops_file.display()
                ),
            )
        })?;
        Ok(PlainTree {
            format,
            tree: Tree {
                branches: vec![doc
                    .iter()
                    .map(|(k, v)| MapItem::Entry(k.clone(), v.clone()))
                    .collect()],
            },
        })
    }
}

pub fn s(v: &str) -> Value {
    Value::str(v)
}

pub fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| MapItem::Entry(k.to_string(), v.clone()))
            .collect(),
    )
}

pub fn env() -> Env {
    Env {
        dry_activate: false,
        restart_via_systemctl: false,
        nixos_dir: PathBuf::from("/run/nixos"),
        runtime_dir: RuntimeDir {
            path: "/run/user/4242".into(),
            fallback_private: false,
        },
        prog: "sops-install-secrets".into(),
        systemctl: PathBuf::from("systemctl"),
    }
}

pub fn opts() -> Options {
    Options {
        check_mode: CheckMode::Off,
        ignore_passwd: false,
        dry_run: false,
    }
}

/// (uid, gid, mode & 07777)
pub fn meta(p: impl AsRef<Path>) -> (u32, u32, u32) {
    let m = std::fs::symlink_metadata(p.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()));
    (m.uid(), m.gid(), m.mode() & 0o7777)
}

pub fn read(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

pub fn link(p: impl AsRef<Path>) -> PathBuf {
    std::fs::read_link(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

pub fn fs_magic(p: &str) -> i64 {
    nix::sys::statfs::statfs(p).unwrap().filesystem_type().0 as i64
}

/// A manifest with sops-nix's defaults for the given secrets (JSON values).
pub fn manifest(secrets: serde_json::Value, extra: serde_json::Value) -> Vec<u8> {
    let mut m = serde_json::json!({
        "secrets": secrets,
        "templates": [],
        "placeholderBySecretName": {},
        "secretsMountPoint": "/run/secrets.d",
        "symlinkPath": "/run/secrets",
        "keepGenerations": 1,
        "gnupgHome": null,
        "sshKeyPaths": [],
        "ageKeyFile": null,
        "ageSshKeyPaths": [],
        "useTmpfs": false,
        "userMode": false,
        "logging": {"keyImport": true, "secretChanges": true}
    });
    for (k, v) in extra.as_object().unwrap() {
        m[k] = v.clone();
    }
    serde_json::to_vec(&m).unwrap()
}

/// A secret entry as the module writes it.
pub fn secret(name: &str, file: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut s = serde_json::json!({
        "name": name, "key": name, "path": format!("/run/secrets/{name}"), "format": "yaml",
        "mode": "0400", "owner": null, "uid": 0, "group": null, "gid": 0, "sopsFile": file,
        "sopsFileHash": "", "restartUnits": [], "reloadUnits": [], "neededForUsers": false
    });
    for (k, v) in extra.as_object().unwrap() {
        s[k] = v.clone();
    }
    s
}
