//! The atomic switch: `symlinkPath` → the new generation, by renaming a fresh symlink over it.

use anyhow::{bail, Context, Result};
use std::path::Path;

/// Points `link` at `target` atomically. A real directory or file at `link` (not a symlink) is
/// replaced only when `replace_non_link` is set, and then with a message saying so.
pub fn atomic_symlink(target: &Path, link: &Path, replace_non_link: bool) -> Result<()> {
    let parent = link
        .parent()
        .with_context(|| format!("{} has no parent directory", link.display()))?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create directory {}", parent.display()))?;
    let base = link.file_name().expect("absolute path").to_string_lossy();
    match std::fs::symlink_metadata(link) {
        Ok(md) if !md.file_type().is_symlink() => {
            if !replace_non_link {
                bail!(
                    "{} exists and is not a symlink; not replacing it",
                    link.display()
                );
            }
            eprintln!(
                "sops-install-secrets: replacing {} {} (not a symlink) with a link to {}",
                if md.is_dir() { "directory" } else { "file" },
                link.display(),
                target.display()
            );
            if md.is_dir() {
                std::fs::remove_dir_all(link)
            } else {
                std::fs::remove_file(link)
            }
            .with_context(|| format!("cannot remove {}", link.display()))?;
        }
        _ => {}
    }
    let tmp = parent.join(format!(".{base}.nix-sops-new"));
    // A leftover from an interrupted run; it is ours only if it is a symlink.
    if let Ok(md) = std::fs::symlink_metadata(&tmp) {
        if md.file_type().is_symlink() {
            std::fs::remove_file(&tmp).ok();
        } else {
            bail!("{} exists and is not a symlink; remove it", tmp.display());
        }
    }
    std::os::unix::fs::symlink(target, &tmp)
        .with_context(|| format!("cannot create symlink {}", tmp.display()))?;
    if let Err(e) = std::fs::rename(&tmp, link) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), link.display()));
    }
    Ok(())
}
