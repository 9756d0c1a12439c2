//! Out-of-tree `path`s: symlinks to `symlinkPath/<name>`, created atomically (a temp name, then
//! rename), owned by the secret's owner; links a previous generation made for entries that are
//! gone (or moved) are removed.

use super::changes::Link;
use super::plan::Entry;
use anyhow::{bail, Context, Result};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Refuses, before anything is touched, a `path` that is a real directory (it could only be
/// replaced by deleting a tree nix-sops did not create).
pub fn preflight(entries: &[Entry]) -> Result<()> {
    for e in entries {
        let Some(p) = &e.link else { continue };
        if let Ok(md) = std::fs::symlink_metadata(p) {
            if md.is_dir() {
                bail!(
                    "path {} of {} is an existing directory; refusing to replace it with a symlink",
                    p.display(),
                    e.name
                );
            }
        }
    }
    Ok(())
}

/// Creates or updates each link. Returns the links made, for the generation's record.
pub fn apply(entries: &[Entry], chown: bool) -> Result<Vec<Link>> {
    let mut made = Vec::new();
    for e in entries {
        let Some(path) = &e.link else { continue };
        link_one(
            path,
            &e.link_target,
            chown.then_some((e.owner.uid, e.owner.gid)),
            &e.name,
        )
        .with_context(|| format!("failed to symlink {} '{}'", e.name, path.display()))?;
        made.push(Link {
            path: path.clone(),
            target: e.link_target.clone(),
        });
    }
    made.sort();
    Ok(made)
}

fn link_one(path: &Path, target: &Path, owner: Option<(u32, u32)>, name: &str) -> Result<()> {
    let parent = path.parent().context("no parent directory")?;
    if !parent.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .create(parent)
            .with_context(|| format!("cannot create parent directory {}", parent.display()))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_symlink() => {
            let same_target = std::fs::read_link(path).ok().as_deref() == Some(target);
            let same_owner = owner.map(|(u, g)| (md.uid(), md.gid()) == (u, g)).unwrap_or(true);
            if same_target && same_owner {
                return Ok(());
            }
        }
        Ok(md) if md.is_dir() => bail!("{} is a directory", path.display()),
        Ok(_) => eprintln!(
            "sops-install-secrets: replacing the existing file {} (not created by nix-sops) with a symlink for {name}",
            path.display()
        ),
        Err(_) => {}
    }
    let base = path.file_name().context("no file name")?.to_string_lossy();
    let tmp = parent.join(format!(".{base}.nix-sops-new"));
    if let Ok(md) = std::fs::symlink_metadata(&tmp) {
        if md.file_type().is_symlink() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
    std::os::unix::fs::symlink(target, &tmp)
        .with_context(|| format!("cannot create symlink {}", tmp.display()))?;
    if let Some((u, g)) = owner {
        if let Err(e) = std::os::unix::fs::lchown(&tmp, Some(u), Some(g)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e).with_context(|| {
                format!(
                    "cannot change owner of symlink {} to {u}:{g}",
                    path.display()
                )
            });
        }
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e)
            .with_context(|| format!("cannot move symlink into place at {}", path.display()));
    }
    Ok(())
}

/// Removes the previous generation's links that this generation no longer makes, if they are
/// still the symlinks nix-sops made. Returns the removed paths.
pub fn remove_stale(previous: &[Link], current: &[Link]) -> Vec<String> {
    let mut removed = Vec::new();
    for old in previous {
        if current.iter().any(|c| c.path == old.path) {
            continue;
        }
        match std::fs::symlink_metadata(&old.path) {
            Ok(md) if md.file_type().is_symlink() => {
                if std::fs::read_link(&old.path).ok().as_deref() == Some(old.target.as_path()) {
                    match std::fs::remove_file(&old.path) {
                        Ok(()) => removed.push(old.path.display().to_string()),
                        Err(e) => eprintln!(
                            "sops-install-secrets: cannot remove stale symlink {}: {e}",
                            old.path.display()
                        ),
                    }
                } else {
                    eprintln!(
                        "sops-install-secrets: not removing {}: it no longer points to {}",
                        old.path.display(),
                        old.target.display()
                    );
                }
            }
            Ok(_) => eprintln!(
                "sops-install-secrets: not removing {}: it is no longer a symlink made by nix-sops",
                old.path.display()
            ),
            Err(_) => {}
        }
    }
    removed
}
