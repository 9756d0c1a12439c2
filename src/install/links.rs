//! Out-of-tree `path`s: symlinks to `symlinkPath/<name>` in directories that other users may
//! control (a home directory, `/etc/…`).
//!
//! A custom `path` is where a local user can attack a root process, so nothing here takes a full
//! path to a system call:
//! - the parent directory is reached by a walk from `/`, one `openat(O_NOFOLLOW|O_DIRECTORY)` per
//!   component; a symlink on the way is followed only when only root could have made it (owned by
//!   root, in a directory only root can write, like `/var/run` → `/run`); missing parents are
//!   created root-owned, `0755` under the umask (sops-nix's `MkdirAll(os.ModePerm)` without the
//!   group and other write bits, which a umask of 000 or 002 would leave: a writable directory in
//!   `/etc` that the link check then refuses);
//! - a parent writable by anyone but root and the secret's owner is refused (another user could
//!   swap the link the owner's program reads);
//! - the link is made under a random name (`symlinkat`, retried on `EEXIST`), given its owner
//!   (`fchownat(AT_SYMLINK_NOFOLLOW)`) and `renameat`ed into place, all relative to the parent's
//!   descriptor, so renaming a parent between two steps redirects nothing.
//!
//! Each link stands alone: a refused link is reported and the others (and the generation) still
//! go live. Links a previous generation made for entries that are gone or moved are removed.

use super::changes::Link;
use super::fsutil;
use super::plan::Entry;
use super::{Error, ErrorKind};
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, renameat, AtFlags, OFlag};
use nix::sys::stat::{fstat, mkdirat, FileStat, Mode};
use nix::unistd::{fchownat, unlinkat, Gid, Uid, UnlinkatFlags};
use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

/// More symlinks than this on one path is a loop (the kernel's own limit is 40).
const MAX_SYMLINKS: usize = 40;

/// Why one link was not made (or not removed). The message names the path and what to do.
#[derive(Debug)]
pub(crate) struct LinkError {
    pub path: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

fn refuse(path: &Path, reason: impl Into<String>) -> LinkError {
    LinkError {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// A directory reached by [`walk`]: its descriptor and the symlink-free path it has now.
pub(crate) struct Walked {
    pub dir: OwnedFd,
    pub resolved: PathBuf,
}

/// The outcome of a read-only walk: the directory, or how far it got before a missing component.
pub(crate) enum Lookup {
    Found(Walked),
    /// `resolved` is the symlink-free path the directory would have once created.
    Missing {
        resolved: PathBuf,
    },
}

/// Only root (or `me`, when the installer runs as that user) can change the entries of this
/// directory that root (or `me`) owns: nobody else can write to it, or only a group can and it
/// is sticky (`/nix/store` is `1775 root:nixbld`), where an entry can be renamed or removed only
/// by its owner, the directory's owner and root. A world-writable sticky directory (`/tmp`) is
/// not trusted: where hard links are not protected, anyone could link a root-owned symlink
/// there and have it look like root's.
fn is_trusted_dir(st: &FileStat, me: u32) -> bool {
    let sticky_group_only = st.st_mode & libc::S_ISVTX != 0 && st.st_mode & 0o002 == 0;
    (st.st_uid == 0 || st.st_uid == me) && (st.st_mode & 0o022 == 0 || sticky_group_only)
}

fn describe(st: &FileStat) -> String {
    match st.st_mode & libc::S_IFMT {
        libc::S_IFLNK => "a symlink".to_owned(),
        libc::S_IFREG => "a file".to_owned(),
        mode => super::input::FileKind::of(mode)
            .map(|k| k.to_string())
            .unwrap_or_default(),
    }
}

/// Walks to directory `dir_path` (absolute) from `/` without following any symlink that a user
/// other than root could have made. With `create`, missing components are made (owned by the
/// installer, `0755` under the umask); without, the walk stops at the first missing one.
///
/// `me` is the uid the installer runs as: root for system installs; in user mode the user's own
/// symlinks are followed too (the writes are the user's own then). `for_path` is the link the
/// walk is for, named in errors.
pub(crate) fn walk(dir_path: &Path, create: bool, for_path: &Path) -> Result<Lookup, LinkError> {
    walk_guarded(dir_path, create, for_path, None)
}

/// [`walk`], and with `guard` (the secret's owner) also refuses to go into a directory whose
/// parent someone other than root or the owner controls: they could rename it away and put
/// their own in its place, with their own file under the link's name. A sticky parent (`/tmp`)
/// protects a child of root's or the owner's, which only they can rename.
fn walk_guarded(
    dir_path: &Path,
    create: bool,
    for_path: &Path,
    guard: Option<u32>,
) -> Result<Lookup, LinkError> {
    let me = nix::unistd::geteuid().as_raw();
    let mut todo: Vec<OsString> = Vec::new();
    push_components(&mut todo, dir_path);
    let mut cur = fsutil::open_dir(Path::new("/"))
        .map_err(|e| refuse(for_path, format!("cannot open /: {e}")))?;
    let mut resolved = PathBuf::from("/");
    let mut hops = 0;
    // A directory we made and someone removed again before we could open it: bounded, so that
    // the owner of a parent cannot keep the installer in this loop.
    let mut made = 0;
    // `todo` is a stack: the next component is at the end.
    while let Some(c) = todo.pop() {
        if c == ".." {
            cur = openat(&cur, "..", fsutil::DIR_FLAGS, Mode::empty()).map_err(|e| {
                refuse(
                    for_path,
                    format!("cannot open {}/..: {e}", resolved.display()),
                )
            })?;
            resolved.pop();
            continue;
        }
        let here = resolved.join(&c);
        let st = match fsutil::lstat_at(&cur, c.as_os_str()) {
            Ok(Some(st)) => st,
            Ok(None) if create => {
                if let Some(owner) = guard {
                    // Checked before anything is made there.
                    guard_step(&cur, &resolved, &here, me, owner, for_path)?;
                }
                made += 1;
                if made > MAX_SYMLINKS {
                    return Err(refuse(
                        for_path,
                        format!(
                            "{} keeps disappearing after it is created (someone is racing \
                             nix-sops there)",
                            here.display()
                        ),
                    ));
                }
                // Never group/other-writable, whatever the umask (see the module doc).
                match mkdirat(&cur, c.as_os_str(), Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => {
                        return Err(refuse(
                            for_path,
                            format!("cannot create parent directory {}: {e}", here.display()),
                        ))
                    }
                }
                // Look again: whatever is there now goes through the same checks.
                todo.push(c);
                continue;
            }
            Ok(None) => {
                let mut rest = here;
                while let Some(c) = todo.pop() {
                    if c == ".." {
                        rest.pop();
                    } else {
                        rest.push(c);
                    }
                }
                return Ok(Lookup::Missing { resolved: rest });
            }
            Err(e) => {
                return Err(refuse(
                    for_path,
                    format!("cannot stat {}: {e}", here.display()),
                ))
            }
        };
        if fsutil::is_symlink(&st) {
            let parent = fstat(&cur).map_err(|e| {
                refuse(for_path, format!("cannot stat {}: {e}", resolved.display()))
            })?;
            if (st.st_uid != 0 && st.st_uid != me) || !is_trusted_dir(&parent, me) {
                return Err(refuse(
                    for_path,
                    format!(
                        "its parent {} is a symlink that {} can change; refusing to follow it as root. \
                         Use a path without user-controlled symlinks (or make the directory a real one)",
                        here.display(),
                        if st.st_uid != 0 && st.st_uid != me {
                            format!("uid {}", st.st_uid)
                        } else {
                            "users other than root".to_owned()
                        }
                    ),
                ));
            }
            hops += 1;
            if hops > MAX_SYMLINKS {
                return Err(refuse(
                    for_path,
                    format!("too many symlinks at {}", here.display()),
                ));
            }
            let target = readlinkat(&cur, c.as_os_str()).map_err(|e| {
                refuse(
                    for_path,
                    format!("cannot read symlink {}: {e}", here.display()),
                )
            })?;
            let target = PathBuf::from(target);
            if target.is_absolute() {
                cur = fsutil::open_dir(Path::new("/"))
                    .map_err(|e| refuse(for_path, format!("cannot open /: {e}")))?;
                resolved = PathBuf::from("/");
            }
            push_components(&mut todo, &target);
            continue;
        }
        if !fsutil::is_dir(&st) {
            return Err(refuse(
                for_path,
                format!(
                    "its parent {} is {}, not a directory",
                    here.display(),
                    describe(&st)
                ),
            ));
        }
        if let Some(owner) = guard {
            guard_step(&cur, &resolved, &here, st.st_uid, owner, for_path)?;
        }
        cur = match fsutil::open_dir_at(&cur, c.as_os_str()) {
            Ok(fd) => fd,
            // Swapped for a symlink (or removed) since the lstat: someone is racing us.
            Err(e) => {
                return Err(refuse(
                    for_path,
                    format!("{} changed while it was being opened: {e}", here.display()),
                ))
            }
        };
        resolved = here;
    }
    Ok(Lookup::Found(Walked { dir: cur, resolved }))
}

/// [`walk_guarded`]'s check on stepping from `cur` (at `resolved`) into `here`, owned by
/// `child_uid` (or to be made by the installer).
fn guard_step(
    cur: &OwnedFd,
    resolved: &Path,
    here: &Path,
    child_uid: u32,
    owner: u32,
    for_path: &Path,
) -> Result<(), LinkError> {
    let parent = fstat(cur)
        .map_err(|e| refuse(for_path, format!("cannot stat {}: {e}", resolved.display())))?;
    let sticky_keeps =
        parent.st_mode & libc::S_ISVTX != 0 && (child_uid == 0 || child_uid == owner);
    match writable_by_others(&parent, owner).filter(|_| !sticky_keeps) {
        None => Ok(()),
        Some(why) => Err(refuse(
            for_path,
            format!(
                "{} is not safe for a secret link: {why}, so {} could be swapped for another \
                 directory. Use a path whose directories are all owned by root or the secret's \
                 owner and not writable by others",
                resolved.display(),
                here.display()
            ),
        )),
    }
}

/// Pushes `p`'s components onto the stack so that the first one is popped first.
fn push_components(todo: &mut Vec<OsString>, p: &Path) {
    let mut comps: Vec<OsString> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect();
    comps.reverse();
    todo.extend(comps);
}

/// The symlink-free absolute path `path` would have, resolving only symlinks root made; `None`
/// when a user-made symlink is on the way (that link will be refused at apply time anyway).
pub(crate) fn resolve(path: &Path) -> Option<PathBuf> {
    let parent = path.parent()?;
    let name = path.file_name()?;
    match walk(parent, false, path).ok()? {
        Lookup::Found(w) => Some(w.resolved.join(name)),
        Lookup::Missing { resolved } => Some(resolved.join(name)),
    }
}

/// Refuses, before anything is touched, a `path` that resolves into the secrets mount point or
/// the symlink path (e.g. `/var/run/secrets/x` when `/var/run` → `/run`): a configuration
/// mistake that would make a loop or overwrite a generation.
pub(crate) fn preflight(
    entries: &[Entry],
    mount_point: &Path,
    symlink_path: &Path,
) -> super::Result<()> {
    let mount = resolve_dir(mount_point);
    let link = resolve(symlink_path).unwrap_or_else(|| symlink_path.to_owned());
    // A link made at the lock file would replace it and fail every later run.
    let lock = super::lock::lock_path(mount_point)?;
    let lock = resolve(&lock).unwrap_or(lock);
    for e in entries {
        let Some(p) = &e.link else { continue };
        let Some(r) = resolve(p) else { continue };
        if r == lock {
            return Err(Error::new(
                ErrorKind::Path,
                format!(
                "path {} of {} {} resolves to {}, the lock file of sops-install-secrets; choose \
                 another path",
                p.display(),
                e.kind.word(),
                e.name,
                r.display()
            ),
            ));
        }
        if r.starts_with(&mount) || r.starts_with(&link) {
            return Err(Error::new(
                ErrorKind::Path,
                format!(
                "path {} of {} {} resolves to {}, inside {}; a custom path must be outside the \
                 secrets mount point and symlink path (use the default path, or another directory)",
                p.display(),
                e.kind.word(),
                e.name,
                r.display(),
                if r.starts_with(&mount) {
                    mount_point.display()
                } else {
                    symlink_path.display()
                }
            ),
            ));
        }
    }
    Ok(())
}

fn resolve_dir(dir: &Path) -> PathBuf {
    match walk(dir, false, dir) {
        Ok(Lookup::Found(w)) => w.resolved,
        Ok(Lookup::Missing { resolved }) => resolved,
        Err(_) => dir.to_owned(),
    }
}

/// Whether `st` (a directory) can be written by someone other than root and `owner_uid`.
fn writable_by_others(st: &FileStat, owner_uid: u32) -> Option<String> {
    if st.st_uid != 0 && st.st_uid != owner_uid {
        return Some(format!("it is owned by uid {}", st.st_uid));
    }
    if st.st_mode & 0o002 != 0 {
        return Some("every user can write to it".to_owned());
    }
    if st.st_mode & 0o020 != 0 && st.st_gid != 0 {
        return Some(format!("members of group {} can write to it", st.st_gid));
    }
    None
}

/// One link to make: `path` → `target`, owned by `owner` (None: leave it as created).
pub(crate) struct Want<'a> {
    pub path: &'a Path,
    pub target: &'a Path,
    pub owner: Option<(u32, u32)>,
    /// Who may control the parent directory besides root (the secret's owner).
    pub trusted_uid: u32,
}

/// What happened to one link.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Made {
    Unchanged,
    Created,
    /// A regular file root or the owner made was there (sops-nix replaces it too).
    ReplacedFile,
    Updated,
}

/// Makes one link; see the module doc for the checks.
pub(crate) fn make(w: &Want<'_>) -> Result<Made, LinkError> {
    let path = w.path;
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(refuse(path, "not a path to a file"));
    };
    let dir = match walk_guarded(parent, true, path, Some(w.trusted_uid))? {
        Lookup::Found(d) => d.dir,
        Lookup::Missing { .. } => unreachable!("walk with create makes every component"),
    };
    let st = fstat(&dir).map_err(|e| refuse(path, format!("cannot stat its parent: {e}")))?;
    if let Some(why) = writable_by_others(&st, w.trusted_uid) {
        return Err(refuse(
            path,
            format!(
                "its parent directory {} is not safe for a secret link: {why}. Make the directory \
                 owned by root or the secret's owner and not writable by others, or choose another path",
                parent.display()
            ),
        ));
    }
    let mut made = Made::Created;
    match fsutil::lstat_at(&dir, name) {
        Ok(None) => {}
        Ok(Some(old)) if fsutil::is_symlink(&old) => {
            let same_target = readlinkat(&dir, name).ok().as_deref() == Some(w.target.as_os_str());
            let same_owner = w
                .owner
                .map(|(u, g)| (old.st_uid, old.st_gid) == (u, g))
                .unwrap_or(true);
            if same_target && same_owner {
                return Ok(Made::Unchanged);
            }
            made = Made::Updated;
        }
        Ok(Some(old))
            if fsutil::is_file(&old) && (old.st_uid == 0 || old.st_uid == w.trusted_uid) =>
        {
            made = Made::ReplacedFile;
        }
        Ok(Some(old)) => {
            return Err(refuse(
                path,
                format!(
                "{} owned by uid {} is in the way; nix-sops replaces only symlinks and files of \
                     root or the secret's owner. Remove it, then activate again",
                describe(&old),
                old.st_uid
            ),
            ))
        }
        Err(e) => return Err(refuse(path, format!("cannot stat: {e}"))),
    }
    let tmp = create_temp_link(&dir, w.target, path)?;
    let fail = |why: String| {
        let _ = unlinkat(&dir, tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
        refuse(path, why)
    };
    if let Some((u, g)) = w.owner {
        chown_link(&dir, &tmp, w.target, (u, g), path).inspect_err(|_| {
            let _ = unlinkat(&dir, tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
        })?;
    }
    renameat(&dir, tmp.as_os_str(), &dir, name)
        .map_err(|e| fail(format!("cannot move the new link into place: {e}")))?;
    Ok(made)
}

/// Gives the symlink `name` in `dir` (a directory the secret's owner may control) its owner.
/// By name, `fchownat(AT_SYMLINK_NOFOLLOW)` chowns whatever that owner put at the name in the
/// meantime: a hard link to `/etc/shadow` on a machine without `fs.protected_hardlinks` makes it
/// theirs. So the link is opened `O_PATH|O_NOFOLLOW`, checked to still be the symlink we made
/// (type and target), and chowned through that descriptor (as sops-nix's `SecureSymlinkChown`).
/// `path` names the link in errors; the caller removes the temporary link `name`.
fn chown_link(
    dir: &OwnedFd,
    name: &OsStr,
    target: &Path,
    (u, g): (u32, u32),
    path: &Path,
) -> Result<(), LinkError> {
    let why = |reason: String| {
        refuse(
            path,
            format!("cannot change the owner of the new link to {u}:{g}: {reason}"),
        )
    };
    let fd = openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| why(format!("cannot open it: {e}")))?;
    let st = fstat(&fd).map_err(|e| why(format!("cannot stat it: {e}")))?;
    if !fsutil::is_symlink(&st) || readlinkat(&fd, "").ok().as_deref() != Some(target.as_os_str()) {
        return Err(why(format!(
            "it was replaced by {} while being made (someone is racing nix-sops in that \
             directory); nothing was changed there",
            describe(&st)
        )));
    }
    fchownat(
        &fd,
        "",
        Some(Uid::from_raw(u)),
        Some(Gid::from_raw(g)),
        AtFlags::AT_EMPTY_PATH,
    )
    .map_err(|e| why(e.to_string()))
}

/// A link to `target` under a fresh random name in `dir` ([`fsutil::temp_symlink`]).
fn create_temp_link(dir: &OwnedFd, target: &Path, path: &Path) -> Result<OsString, LinkError> {
    match fsutil::temp_symlink(dir, target, ".nix-sops-link-") {
        Ok(Some(name)) => Ok(name),
        Ok(None) => Err(refuse(
            path,
            "cannot find a free temporary name in its parent directory",
        )),
        Err(e) => Err(refuse(
            path,
            format!("cannot create a symlink in its parent directory: {e}"),
        )),
    }
}

/// Removes the link at `old.path` if it still is the symlink nix-sops made (same target). Returns
/// whether it was removed; an error when it could not be checked or removed.
pub(crate) fn remove(old: &Link) -> Result<bool, LinkError> {
    let path = old.path.as_path();
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(false);
    };
    let dir = match walk(parent, false, path)? {
        Lookup::Found(d) => d.dir,
        Lookup::Missing { .. } => return Ok(false),
    };
    match fsutil::lstat_at(&dir, name) {
        Ok(Some(st)) if fsutil::is_symlink(&st) => {}
        Ok(_) => return Ok(false),
        Err(e) => return Err(refuse(path, format!("cannot stat: {e}"))),
    }
    if readlinkat(&dir, name).ok().as_deref() != Some(old.target.as_os_str()) {
        return Ok(false);
    }
    unlinkat(&dir, name, UnlinkatFlags::NoRemoveDir)
        .map_err(|e| refuse(path, format!("cannot remove the stale link: {e}")))?;
    Ok(true)
}

/// The links an entry list asks for.
pub(crate) fn wanted(entries: &[Entry], chown: bool) -> Vec<(Want<'_>, &Entry)> {
    entries
        .iter()
        .filter_map(|e| {
            let path = e.link.as_deref()?;
            Some((
                Want {
                    path,
                    target: &e.link_target,
                    owner: chown.then_some((e.owner.uid, e.owner.gid)),
                    trusted_uid: if chown {
                        e.owner.uid
                    } else {
                        nix::unistd::geteuid().as_raw()
                    },
                },
                e,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// What a racing directory owner can leave at the temporary name is refused and keeps its
    /// owner; only the symlink we made, with our target, is chowned.
    #[test]
    fn chown_link_changes_only_the_symlink_it_made() {
        let d = tempfile::tempdir().unwrap();
        let dir = fsutil::open_dir(d.path()).unwrap();
        let target = Path::new("/run/secrets/x");
        // As root, a uid nobody has; otherwise our own (the only chown allowed).
        let me = nix::unistd::geteuid().as_raw();
        let (u, g) = if me == 0 {
            (4321, 8765)
        } else {
            (me, nix::unistd::getegid().as_raw())
        };
        std::os::unix::fs::symlink(target, d.path().join("ours")).unwrap();
        chown_link(&dir, OsStr::new("ours"), target, (u, g), target).unwrap();
        let md = std::fs::symlink_metadata(d.path().join("ours")).unwrap();
        assert_eq!((md.uid(), md.gid()), (u, g));

        // A regular file (a hard link to a root file, say) and a symlink elsewhere.
        std::fs::write(d.path().join("file"), "root's").unwrap();
        std::os::unix::fs::symlink("/etc/shadow", d.path().join("other")).unwrap();
        for name in ["file", "other"] {
            let before = std::fs::symlink_metadata(d.path().join(name)).unwrap();
            let e = chown_link(&dir, OsStr::new(name), target, (u, g), target)
                .unwrap_err()
                .to_string();
            assert!(e.contains("was replaced by"), "{name}: {e}");
            let after = std::fs::symlink_metadata(d.path().join(name)).unwrap();
            assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
        }
    }
}
