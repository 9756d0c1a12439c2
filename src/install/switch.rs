//! The atomic switch: `symlinkPath` → the new generation, by renaming a fresh symlink over it.
//! Done relative to the parent's descriptor, under a random temporary name (nothing to plant).

use super::fsutil;
use super::{Context, Error, ErrorKind, Result};
use nix::fcntl::renameat;
use nix::unistd::{unlinkat, UnlinkatFlags};
use std::path::Path;

/// Points `link` at `target` atomically. A real directory or file at `link` (not a symlink) is
/// replaced only when `replace_non_link` is set, and then with a message saying so.
pub(crate) fn atomic_symlink(target: &Path, link: &Path, replace_non_link: bool) -> Result<()> {
    let (dir, name) = fsutil::make_parent(link).map_err(|e| e.with_kind(ErrorKind::Switch))?;
    let parent = link.parent().expect("make_parent checked it");
    if let Some(st) = fsutil::lstat_at(&dir, name)? {
        if !fsutil::is_symlink(&st) {
            if !replace_non_link {
                return Err(Error::new(
                    ErrorKind::Switch,
                    format!(
                        "{} exists and is not a symlink; not replacing it",
                        link.display()
                    ),
                ));
            }
            eprintln!(
                "sops-install-secrets: replacing {} {} (not a symlink) with a link to {}",
                if fsutil::is_dir(&st) {
                    "directory"
                } else {
                    "file"
                },
                link.display(),
                target.display()
            );
            if fsutil::is_dir(&st) {
                fsutil::remove_tree_at(&dir, &name.to_string_lossy())
            } else {
                unlinkat(&dir, name, UnlinkatFlags::NoRemoveDir).map_err(Into::into)
            }
            .with_context(ErrorKind::Switch, || {
                format!("cannot remove {}", link.display())
            })?;
        }
    }
    let tmp = fsutil::temp_symlink(&dir, target, ".nix-sops-switch-")
        .with_context(ErrorKind::Switch, || {
            format!("cannot create a symlink in {}", parent.display())
        })?
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Switch,
                format!("no free temporary name in {}", parent.display()),
            )
        })?;
    if let Err(e) = renameat(&dir, tmp.as_os_str(), &dir, name) {
        let _ = unlinkat(&dir, tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
        return Err(e).with_context(ErrorKind::Switch, || {
            format!("cannot move the new link to {}", link.display())
        });
    }
    Ok(())
}
