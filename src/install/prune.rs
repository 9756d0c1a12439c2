//! Pruning old generations: numeric directories `n <= current - keep` go; anything else stays.

use super::fsutil;
use super::{Context, ErrorKind, Result};
use std::os::fd::AsFd;

/// Returns the generations removed.
pub(crate) fn prune<Fd: AsFd>(mount: Fd, current: u64, keep: u64) -> Result<Vec<u64>> {
    if keep == 0 {
        return Ok(Vec::new());
    }
    let mut removed = Vec::new();
    for (name, _) in fsutil::list(&mount).map_err(|e| e.with_kind(ErrorKind::Prune))? {
        // Only plain decimal numbers, as written by us (no signs, no leading zeros).
        let Ok(n) = name.parse::<u64>() else { continue };
        if n.to_string() != name || n == current {
            continue;
        }
        // `n <= current - keep`, written so that no `keep` can wrap around.
        if current.checked_sub(keep).is_some_and(|last| n <= last) {
            fsutil::remove_tree_at(&mount, &name).with_context(ErrorKind::Prune, || {
                format!("cannot remove old generation {name}")
            })?;
            removed.push(n);
        }
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prune_in(gens: &[&str], current: u64, keep: u64) -> (Vec<u64>, Vec<String>) {
        let d = tempfile::tempdir().unwrap();
        for g in gens {
            std::fs::create_dir(d.path().join(g)).unwrap();
        }
        let fd = fsutil::open_dir(d.path()).unwrap();
        let removed = prune(&fd, current, keep).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        (removed, left)
    }

    #[test]
    fn keeps_the_last_keep_generations() {
        let (removed, left) = prune_in(&["1", "2", "3", "4", "x", "02"], 4, 2);
        assert_eq!(removed, [1, 2]);
        assert_eq!(left, ["02", "3", "4", "x"]);
        assert_eq!(prune_in(&["1", "2"], 2, 0).0, Vec::<u64>::new());
        assert_eq!(prune_in(&["1", "2"], 2, 5).0, Vec::<u64>::new());
    }

    #[test]
    fn a_huge_keep_never_wraps_around() {
        // `n + keep` wrapped for keep near u64::MAX and removed generations that must stay.
        for keep in [u64::MAX, u64::MAX - 1, i64::MAX as u64] {
            let (removed, left) = prune_in(&["1", "2", "3"], 3, keep);
            assert_eq!(removed, Vec::<u64>::new(), "keep {keep}");
            assert_eq!(left, ["1", "2", "3"]);
        }
        let big = u64::MAX.to_string();
        let (removed, _) = prune_in(&["1", &big], u64::MAX, 1);
        assert_eq!(removed, [1]);
    }
}
