//! One installer at a time. Two can start together (the systemd unit and an activation at first
//! boot, two `switch`es); the lock is taken on the mount point's *parent* directory, which exists
//! before anything is mounted, so the second run can never stack a second ramfs on the mount
//! point nor point `symlinkPath` at a generation the visible mount does not hold. Nothing is
//! created for the lock (no file a user could plant); the kernel drops it when the process exits.

use super::fsutil;
use anyhow::{anyhow, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a second installer waits for the first before it gives up (cleanly, nothing touched).
pub const WAIT: Duration = Duration::from_secs(120);

/// Held for the rest of the install.
pub struct Held {
    _lock: Flock<OwnedFd>,
}

/// Creates the mount point's parent if needed and locks it exclusively, waiting up to `wait`.
pub fn acquire(mount_point: &Path, prog: &str, wait: Duration) -> Result<Held> {
    let parent = mount_point
        .parent()
        .ok_or_else(|| anyhow!("secretsMountPoint {} has no parent", mount_point.display()))?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create directory {}", parent.display()))?;
    let start = Instant::now();
    let mut told = false;
    loop {
        let fd = fsutil::open_dir(parent).with_context(|| {
            format!(
                "cannot open {} (the parent of secretsMountPoint) to lock it",
                parent.display()
            )
        })?;
        match Flock::lock(fd, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(Held { _lock: lock }),
            Err((_, Errno::EWOULDBLOCK)) => {}
            Err((_, e)) => {
                return Err(anyhow!("cannot lock {}: {e}", parent.display()));
            }
        }
        if start.elapsed() >= wait {
            return Err(anyhow!(
                "another sops-install-secrets has been installing into {} for {} s; nothing was \
                 changed by this run. Wait for it to finish (or stop it), then run this again",
                mount_point.display(),
                wait.as_secs()
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
