//! Generations: numbered directories in the mount point; `symlinkPath` points at the live one.

use super::fsutil;
use super::{Context, Error, ErrorKind, Result};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The generation `symlinkPath` points at now.
pub(crate) struct Live {
    /// Whether `symlinkPath` is a symlink (a first boot has none; a plain directory another tool
    /// left there counts as none too, as in sops-nix: nothing ran with our secrets yet).
    pub link_exists: bool,
    pub number: Option<u64>,
    /// The live generation directory, opened without following symlinks.
    pub dir: Option<OwnedFd>,
}

impl Live {
    pub(crate) fn read(mount_point: &Path, symlink_path: &Path) -> Result<Live> {
        let link_exists = std::fs::symlink_metadata(symlink_path)
            .map(|md| md.file_type().is_symlink())
            .unwrap_or(false);
        let target = match std::fs::read_link(symlink_path) {
            Ok(t) => t,
            Err(_) => {
                return Ok(Live {
                    link_exists,
                    number: None,
                    dir: None,
                })
            }
        };
        let number = generation_of(mount_point, &target);
        let dir = match number {
            Some(n) => match fsutil::open_dir(&mount_point.join(n.to_string())) {
                Ok(fd) => Some(fd),
                Err(nix::errno::Errno::ENOENT) => None,
                Err(nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR) => {
                    return Err(Error::new(
                        ErrorKind::Io,
                        format!(
                    "generation directory {} is a symlink or not a directory; refusing to use it",
                    mount_point.join(n.to_string()).display()
                ),
                    ))
                }
                Err(e) => {
                    return Err(e).with_context(ErrorKind::Io, || {
                        format!("cannot open {}", target.display())
                    })
                }
            },
            None => None,
        };
        Ok(Live {
            link_exists,
            number,
            dir,
        })
    }
}

/// `/run/secrets.d/7` → 7, when the target is a direct numeric child of the mount point.
pub(crate) fn generation_of(mount_point: &Path, target: &Path) -> Option<u64> {
    if target.parent()? != mount_point {
        return None;
    }
    let name = target.file_name()?.to_str()?;
    name.parse::<u64>().ok().filter(|n| n.to_string() == name)
}

/// The number of the next generation: live + 1. Numeric directories above the live one are
/// leftovers of interrupted runs (never live, never linked) and are removed first. Without a live
/// generation, the next number is past every existing one and nothing is removed.
pub(crate) fn next_number<Fd: AsFd>(mount: Fd, live: Option<u64>) -> Result<u64> {
    let mut max = 0;
    for (name, _) in fsutil::list(&mount)? {
        let Ok(v) = name.parse::<u64>() else { continue };
        if v.to_string() != name {
            continue;
        }
        match live {
            Some(l) if v > l => fsutil::remove_tree_at(&mount, &name)
                .with_context(ErrorKind::Write, || {
                    format!("cannot remove leftover generation {name}")
                })?,
            _ => max = max.max(v),
        }
    }
    Ok(live.map(|l| l + 1).unwrap_or(max + 1))
}

/// Creates generation `number` (0751, root:keys, mode exact whatever the umask).
pub(crate) fn create<Fd: AsFd>(
    mount: Fd,
    mount_point: &Path,
    number: u64,
    owner: Option<(u32, u32)>,
) -> Result<(OwnedFd, PathBuf)> {
    let name = number.to_string();
    let path = mount_point.join(&name);
    let fd = fsutil::mkdir_owned(&mount, &name, owner, 0o751)
        .with_context(ErrorKind::Write, || {
            format!("cannot create generation {}", path.display())
        })?;
    Ok((fd, path))
}
