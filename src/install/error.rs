//! The installer's one error type: which step failed ([`ErrorKind`]) and a chain of messages,
//! each naming its culprit (secret, file, path, user), innermost cause last.
//!
//! `{}` shows the outermost message; `{:#}` the whole chain joined with `": "`, which is what
//! [`super::main`] prints after `sops-install-secrets: `.

use std::error::Error as StdError;
use std::fmt;

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The step of an install that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The manifest: unreadable, not sops-nix's JSON, or an invalid option (also `-check-mode`).
    Manifest,
    /// A user or group that does not exist or cannot be looked up.
    Owner,
    /// No usable decryption key.
    Keys,
    /// A sops file: unreadable, unparsable, not decryptable, or a secret's key missing from it.
    Decrypt,
    /// A template: an unreadable source, or a placeholder that cannot be filled.
    Template,
    /// A path the manifest names that is unsafe or conflicts (mount point, `symlinkPath`,
    /// a custom `path`).
    Path,
    /// The secrets file system (ramfs/tmpfs) or the user-mode directory.
    Mount,
    /// The lock that keeps two installers apart.
    Lock,
    /// Writing the new generation.
    Write,
    /// Pointing `symlinkPath` at the new generation.
    Switch,
    /// The restart/reload lists or `systemctl`.
    Units,
    /// Out-of-tree symlinks (custom `path`s) and stale ones.
    Links,
    /// Removing old generations.
    Prune,
    /// A system call outside the steps above (reading the live generation, the runtime dir).
    Io,
}

/// An install error: a kind and a message chain (see the module docs).
pub struct Error {
    kind: ErrorKind,
    /// `None`: `source` is itself the outermost message (an error converted as it is).
    message: Option<String>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl Error {
    /// An error with a message and no cause.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: Some(message.into()),
            source: None,
        }
    }

    /// `source` as it is (its message is the outermost one), filed under `kind`.
    pub fn from_source(
        kind: ErrorKind,
        source: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Error {
        Error {
            kind,
            message: None,
            source: Some(source.into()),
        }
    }

    /// `message` in front of `source`.
    pub fn wrap(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Error {
        Error {
            kind,
            message: Some(message.into()),
            source: Some(source.into()),
        }
    }

    /// This error under a new outer message and kind.
    pub fn context(self, kind: ErrorKind, message: impl Into<String>) -> Error {
        Error::wrap(kind, message, self)
    }

    /// Refiles an error of a shared helper (e.g. [`super::fsutil`]) under the step that called it.
    pub(crate) fn with_kind(mut self, kind: ErrorKind) -> Error {
        self.kind = kind;
        self
    }

    /// The step that failed.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.message, &self.source) {
            (Some(m), _) => f.write_str(m)?,
            (None, Some(s)) => write!(f, "{s}")?,
            (None, None) => f.write_str("unknown error")?,
        }
        if f.alternate() {
            let mut cause = StdError::source(self);
            while let Some(c) = cause {
                write!(f, ": {c}")?;
                cause = c.source();
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {:#}", self.kind, self)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        let s = self.source.as_deref()?;
        if self.message.is_some() {
            Some(s)
        } else {
            // The source is shown as this error's own message: the chain goes on below it.
            s.source()
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::from_source(ErrorKind::Io, e)
    }
}

impl From<nix::errno::Errno> for Error {
    fn from(e: nix::errno::Errno) -> Error {
        Error::from_source(ErrorKind::Io, e)
    }
}

/// Files a foreign error under a kind, with the culprit in front of it.
pub trait Context<T> {
    /// The error as it is, filed under `kind`.
    fn kind(self, kind: ErrorKind) -> Result<T>;
    /// `message: error`.
    fn context(self, kind: ErrorKind, message: impl Into<String>) -> Result<T>;
    /// `message: error`, the message made only on failure.
    fn with_context<M: Into<String>>(
        self,
        kind: ErrorKind,
        message: impl FnOnce() -> M,
    ) -> Result<T>;
}

impl<T, E: StdError + Send + Sync + 'static> Context<T> for std::result::Result<T, E> {
    fn kind(self, kind: ErrorKind) -> Result<T> {
        self.map_err(|e| Error::from_source(kind, e))
    }
    fn context(self, kind: ErrorKind, message: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::wrap(kind, message, e))
    }
    fn with_context<M: Into<String>>(
        self,
        kind: ErrorKind,
        message: impl FnOnce() -> M,
    ) -> Result<T> {
        self.map_err(|e| Error::wrap(kind, message(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer cause")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn chain_is_shown_with_alternate_only() {
        let io = std::io::Error::from_raw_os_error(libc::EACCES);
        let e: Result<()> = Err(io).context(ErrorKind::Write, "cannot write secret a");
        let e = e.unwrap_err().context(ErrorKind::Write, "secret a");
        assert_eq!(e.to_string(), "secret a");
        assert_eq!(
            format!("{e:#}"),
            "secret a: cannot write secret a: Permission denied (os error 13)"
        );
        assert_eq!(e.kind(), ErrorKind::Write);
    }

    #[test]
    fn converted_error_keeps_its_own_chain() {
        let e: Result<()> =
            Err(Outer(std::io::Error::from_raw_os_error(libc::ENOENT))).kind(ErrorKind::Decrypt);
        let e = e.unwrap_err();
        assert_eq!(e.to_string(), "outer cause");
        assert_eq!(
            format!("{e:#}"),
            "outer cause: No such file or directory (os error 2)"
        );
        // The source is the next layer, not the converted error again.
        assert_eq!(
            StdError::source(&e).unwrap().to_string(),
            "No such file or directory (os error 2)"
        );
        assert_eq!(e.kind(), ErrorKind::Decrypt);
    }

    #[test]
    fn plain_conversions_are_io() {
        let e: Error = nix::errno::Errno::EPERM.into();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(format!("{e:#}"), "EPERM: Operation not permitted");
    }
}

/// Each step files its failures under its own kind (the messages are pinned by the integration
/// tests; these pin the kinds).
#[cfg(test)]
mod kinds {
    use super::super::*;
    use std::os::unix::fs::PermissionsExt;

    fn env(dir: &Path) -> Env {
        Env {
            dry_activate: false,
            restart_via_systemctl: false,
            nixos_dir: dir.join("nixos"),
            runtime_dir: RuntimeDir {
                path: dir.join("run").display().to_string(),
                fallback_private: false,
            },
            prog: PROG.into(),
            systemctl: dir.join("no-systemctl"),
        }
    }

    fn opts(check_mode: CheckMode) -> Options {
        Options {
            check_mode,
            ignore_passwd: true,
            dry_run: false,
        }
    }

    fn manifest(dir: &Path, extra: &str) -> String {
        format!(
            r#"{{"secrets":[],"templates":[],"placeholderBySecretName":{{}},
               "secretsMountPoint":"{d}/secrets.d","symlinkPath":"{d}/secrets",
               "sshKeyPaths":[],"ageSshKeyPaths":[],"userMode":true,
               "logging":{{"keyImport":false,"secretChanges":false}}{extra}}}"#,
            d = dir.display()
        )
    }

    #[test]
    fn manifest_kind() {
        let dir = tempfile::tempdir().unwrap();
        let e = install_bytes(b"{not json", &opts(CheckMode::Off), &env(dir.path())).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Manifest, "{e:#}");
        let e = install(
            &dir.path().join("missing.json"),
            &opts(CheckMode::Off),
            &env(dir.path()),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Manifest, "{e:#}");
    }

    #[test]
    fn decrypt_kind_for_a_missing_sops_file() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path(), "").replace(
            r#""secrets":[]"#,
            &format!(
                r#""secrets":[{{"name":"a","key":"a","sopsFile":"{}/nope.yaml","format":"yaml"}}]"#,
                dir.path().display()
            ),
        );
        let e =
            install_bytes(m.as_bytes(), &opts(CheckMode::Sopsfile), &env(dir.path())).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decrypt, "{e:#}");
    }

    #[test]
    fn template_kind_for_a_missing_source() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path(), "").replace(
            r#""templates":[]"#,
            &format!(
                r#""templates":[{{"name":"t","file":"{}/nope.tpl"}}]"#,
                dir.path().display()
            ),
        );
        let e =
            install_bytes(m.as_bytes(), &opts(CheckMode::Manifest), &env(dir.path())).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Template, "{e:#}");
    }

    #[test]
    fn path_kind_for_a_symlinked_mount_point() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/tmp", dir.path().join("secrets.d")).unwrap();
        let e = mount::preflight(&dir.path().join("secrets.d")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Path, "{e:#}");
    }

    #[test]
    fn owner_kind_for_an_unknown_user() {
        let e = owners::resolve(
            "secret a",
            Some("no-such-user-nix-sops"),
            0,
            None,
            0,
            owners::Policy::Lookup,
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Owner, "{e:#}");
    }

    #[test]
    fn keys_kind_when_nothing_loads() {
        let imported = keys::Imported {
            keyring: crate::keys::Keyring::new(),
            warnings: vec!["cannot use ageKeyFile: /k: cannot read".into()],
            any: false,
        };
        let e = imported.require_some().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Keys, "{e:#}");
    }

    #[test]
    fn lock_kind_for_a_lock_file_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(".secrets.d.lock");
        std::fs::write(&lock, b"").unwrap();
        std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o644)).unwrap();
        let Err(e) = lock::acquire(&dir.path().join("secrets.d"), PROG, lock::WAIT) else {
            panic!("a lock file others can read was used");
        };
        assert_eq!(e.kind(), ErrorKind::Lock, "{e:#}");
    }

    #[test]
    fn mount_kind_in_user_mode_under_a_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), b"").unwrap();
        let e = mount::ensure(&dir.path().join("file/secrets.d"), 0, false, true).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Mount, "{e:#}");
    }

    #[test]
    fn write_kind_for_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"old").unwrap();
        let fd = fsutil::open_dir(dir.path()).unwrap();
        let mut w = write::Writer::new(&fd, None);
        let e = w.write_bytes("a", b"new", 0, 0, 0o400).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Write, "{e:#}");
    }

    #[test]
    fn switch_kind_for_a_directory_in_the_way() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        std::fs::write(dir.path().join("secrets/keep"), b"").unwrap();
        let e = switch::atomic_symlink(&dir.path().join("1"), &dir.path().join("secrets"), false)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Switch, "{e:#}");
    }

    #[test]
    fn units_kind_when_systemctl_cannot_run() {
        let dir = tempfile::tempdir().unwrap();
        let n = units::Notify {
            dry: false,
            via_systemctl: true,
            nixos_dir: dir.path(),
            systemctl: &dir.path().join("no-systemctl"),
        };
        let e = n.send(&["a.service".into()], &[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Units, "{e:#}");
    }
}
