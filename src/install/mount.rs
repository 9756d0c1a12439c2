//! The secrets file system: ramfs (or tmpfs with `noswap`) at `secretsMountPoint`.
//!
//! Mounting is Linux-only (`mount(2)`, `/proc/self/mountinfo`, `statfs` magic numbers) and lives
//! in [`linux`]; elsewhere only user mode works (a plain 0700 directory), and a system install
//! says so.

use super::fsutil;
use super::{Context, Error, ErrorKind, Result};
use nix::sys::stat::{fchmod, Mode};
use nix::unistd::{fchown, Gid, Uid};
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// Refuses a mount point that is a symlink (before anything is touched).
pub(crate) fn preflight(mount_point: &Path) -> Result<()> {
    match std::fs::symlink_metadata(mount_point) {
        Ok(md) if md.file_type().is_symlink() => Err(Error::new(
            ErrorKind::Path,
            format!(
                "secretsMountPoint {} is a symlink; refusing to write secrets through it",
                mount_point.display()
            ),
        )),
        Ok(md) if !md.is_dir() => Err(Error::new(
            ErrorKind::Path,
            format!(
                "secretsMountPoint {} exists and is not a directory",
                mount_point.display()
            ),
        )),
        _ => Ok(()),
    }
}

/// Creates the mount point and mounts the secrets file system unless a correct one is there
/// already; returns it opened (`O_NOFOLLOW`), owned root:keys, mode 0751. In user mode only the
/// directory is created (0700, the user's own).
pub(crate) fn ensure(
    mount_point: &Path,
    keys_gid: u32,
    use_tmpfs: bool,
    user_mode: bool,
) -> Result<OwnedFd> {
    preflight(mount_point)?;
    if user_mode {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(mount_point)
            .with_context(ErrorKind::Mount, || {
                format!("cannot create directory '{}'", mount_point.display())
            })?;
        return fsutil::open_dir(mount_point).with_context(ErrorKind::Mount, || {
            format!("cannot open {}", mount_point.display())
        });
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o751)
        .create(mount_point)
        .with_context(ErrorKind::Mount, || {
            format!("cannot create directory '{}'", mount_point.display())
        })?;
    preflight(mount_point)?;
    #[cfg(target_os = "linux")]
    linux::mount_secret_fs(mount_point, use_tmpfs)?;
    #[cfg(not(target_os = "linux"))]
    {
        let _ = use_tmpfs;
        return Err(Error::new(ErrorKind::Mount, format!(
            "cannot mount a RAM file system on {}: system installs need Linux; on this platform only user mode (home-manager) is supported",
            mount_point.display()
        )));
    }
    let fd = fsutil::open_dir(mount_point).with_context(ErrorKind::Mount, || {
        format!("cannot open {}", mount_point.display())
    })?;
    fchown(&fd, Some(Uid::from_raw(0)), Some(Gid::from_raw(keys_gid))).with_context(
        ErrorKind::Mount,
        || {
            format!(
                "cannot change owner/group of '{}' to 0/{keys_gid}",
                mount_point.display()
            )
        },
    )?;
    fchmod(&fd, Mode::from_bits_truncate(0o751))?;
    Ok(fd)
}

#[cfg(target_os = "linux")]
pub(crate) mod linux {
    use super::{Context, Error, ErrorKind, Result};
    use nix::mount::{mount, MsFlags};
    use std::path::Path;

    pub(crate) const RAMFS_MAGIC: i64 = 0x858458f6;
    pub(crate) const TMPFS_MAGIC: i64 = 0x01021994;

    /// Mounts ramfs (tmpfs + noswap) on `mount_point` unless a correct one is there already.
    pub(crate) fn mount_secret_fs(mount_point: &Path, use_tmpfs: bool) -> Result<()> {
        let (fstype, magic) = if use_tmpfs {
            ("tmpfs", TMPFS_MAGIC)
        } else {
            ("ramfs", RAMFS_MAGIC)
        };
        if is_mountpoint(mount_point)? && fs_magic(mount_point)? == magic {
            return Ok(());
        }
        let flags = MsFlags::MS_NODEV | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
        let opts = if use_tmpfs {
            "mode=0751,noswap"
        } else {
            "mode=0751"
        };
        match mount(Some("none"), mount_point, Some(fstype), flags, Some(opts)) {
            Ok(()) => Ok(()),
            // Kernels before 6.4 do not know `noswap`.
            Err(nix::errno::Errno::EINVAL) if use_tmpfs => mount(
                Some("none"),
                mount_point,
                Some(fstype),
                flags,
                Some("mode=0751"),
            )
            .map_err(|e| {
                Error::new(
                    ErrorKind::Mount,
                    format!(
                        "cannot mount {fstype} on {} (also without noswap): {e}",
                        mount_point.display()
                    ),
                )
            }),
            Err(e) => Err(Error::new(
                ErrorKind::Mount,
                format!("cannot mount {fstype} on {}: {e}", mount_point.display()),
            )),
        }
    }

    /// Whether `path` (absolute, symlink-free) is itself a mount point, per /proc/self/mountinfo.
    pub(crate) fn is_mountpoint(path: &Path) -> Result<bool> {
        // thread-self: the mount namespace is per thread (tests unshare one thread).
        let info = std::fs::read_to_string("/proc/thread-self/mountinfo")
            .or_else(|_| std::fs::read_to_string("/proc/self/mountinfo"))
            .context(ErrorKind::Mount, "cannot read /proc/self/mountinfo")?;
        let want = path.to_string_lossy();
        Ok(info.lines().any(|l| {
            l.split(' ')
                .nth(4)
                .map(|m| unescape(m) == want)
                .unwrap_or(false)
        }))
    }

    fn unescape(s: &str) -> String {
        let mut out = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\'
                && i + 3 < b.len()
                && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
            {
                out.push(
                    u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 4]).unwrap(), 8)
                        .unwrap_or(b'?'),
                );
                i += 4;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn fs_magic(path: &Path) -> Result<i64> {
        let st = nix::sys::statfs::statfs(path).with_context(ErrorKind::Mount, || {
            format!("cannot statfs {}", path.display())
        })?;
        Ok(st.filesystem_type().0 as i64)
    }
}
