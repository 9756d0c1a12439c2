//! One installer at a time. Two can start together (the systemd unit and an activation at first
//! boot, two `switch`es); the lock is taken before anything is mounted, so the second run can
//! never stack a second ramfs on the mount point nor point `symlinkPath` at a generation the
//! visible mount does not hold.
//!
//! The lock is a `flock` on a root-only file next to the mount point (`/run/.secrets.d.lock`),
//! not on a directory: `flock` needs nothing but an open descriptor, and every user can open
//! `/run`, so a lock on the directory let any user block every activation. The file is created
//! `O_NOFOLLOW` relative to the parent's descriptor, mode 0600, and must be a regular file of the
//! installer's own user (in a directory others can write, someone else's file is refused, not
//! used). It is never removed (removing lock files races); `/run` is emptied at boot.

use super::fsutil;
use super::{Context, Error, ErrorKind, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, Flock, FlockArg, OFlag};
use nix::sys::stat::{fstat, Mode};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a second installer waits for the first before it gives up (cleanly, nothing touched).
pub(crate) const WAIT: Duration = Duration::from_secs(120);

/// Held for the rest of the install.
pub(crate) struct Held {
    _lock: Flock<OwnedFd>,
}

/// The lock file of `mount_point`: `.<name>.lock` in its parent.
pub(crate) fn lock_path(mount_point: &Path) -> Result<PathBuf> {
    let (Some(parent), Some(name)) = (mount_point.parent(), mount_point.file_name()) else {
        return Err(Error::new(
            ErrorKind::Lock,
            format!("secretsMountPoint {} has no parent", mount_point.display()),
        ));
    };
    let mut file = std::ffi::OsString::from(".");
    file.push(name);
    file.push(".lock");
    Ok(parent.join(file))
}

/// Opens (creating it if needed) the lock file, checked to be the installer's own.
fn open_lock_file(path: &Path) -> Result<OwnedFd> {
    let (dir, name) = fsutil::make_parent(path).map_err(|e| e.with_kind(ErrorKind::Lock))?;
    // O_NONBLOCK: a FIFO planted here must not hang the boot; it is refused below.
    let flags = OFlag::O_RDONLY
        | OFlag::O_CREAT
        | OFlag::O_NOFOLLOW
        | OFlag::O_CLOEXEC
        | OFlag::O_NONBLOCK
        | OFlag::O_NOCTTY;
    let fd = openat(&dir, name, flags, Mode::from_bits_truncate(0o600))
        .with_context(ErrorKind::Lock, || {
            format!("cannot open the lock file {}", path.display())
        })?;
    let st = fstat(&fd).with_context(ErrorKind::Lock, || {
        format!("cannot stat {}", path.display())
    })?;
    let me = nix::unistd::geteuid().as_raw();
    if !fsutil::is_file(&st) || st.st_uid != me || st.st_mode & 0o077 != 0 {
        return Err(Error::new(
            ErrorKind::Lock,
            format!(
            "the lock file {} is not a private (0600) regular file of uid {me}; someone else may \
             be able to hold it. Remove it, then run this again",
            path.display()
        ),
        ));
    }
    Ok(fd)
}

/// Locks the mount point's lock file exclusively, waiting up to `wait`.
pub(crate) fn acquire(mount_point: &Path, prog: &str, wait: Duration) -> Result<Held> {
    let path = lock_path(mount_point)?;
    let mut fd = open_lock_file(&path)?;
    let start = Instant::now();
    let mut told = false;
    loop {
        match Flock::lock(fd, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(Held { _lock: lock }),
            Err((back, Errno::EWOULDBLOCK)) => fd = back,
            Err((_, e)) => {
                return Err(Error::new(
                    ErrorKind::Lock,
                    format!("cannot lock {}: {e}", path.display()),
                ));
            }
        }
        if start.elapsed() >= wait {
            return Err(Error::new(
                ErrorKind::Lock,
                format!(
                "another sops-install-secrets has been installing into {} for {} s (it holds {}); \
                 nothing was changed by this run. Wait for it to finish (or stop it), then run \
                 this again",
                mount_point.display(),
                wait.as_secs(),
                path.display()
            ),
            ));
        }
        if !told {
            eprintln!(
                "{prog}: waiting for another sops-install-secrets to finish with {}",
                mount_point.display()
            );
            told = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
