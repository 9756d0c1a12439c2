//! Pruning old generations: numeric directories `n <= current - keep` go; anything else stays.

use super::fsutil;
use anyhow::{Context, Result};
use std::os::fd::AsFd;

/// Returns the generations removed.
pub fn prune<Fd: AsFd>(mount: Fd, current: u64, keep: u64) -> Result<Vec<u64>> {
    if keep == 0 {
        return Ok(Vec::new());
    }
    let mut removed = Vec::new();
    for (name, _) in fsutil::list(&mount)? {
        // Only plain decimal numbers, as written by us (no signs, no leading zeros).
        let Ok(n) = name.parse::<u64>() else { continue };
        if n.to_string() != name || n == current {
            continue;
        }
        if n + keep <= current {
            fsutil::remove_tree_at(&mount, &name)
                .with_context(|| format!("cannot remove old generation {name}"))?;
            removed.push(n);
        }
    }
    removed.sort();
    Ok(removed)
}
