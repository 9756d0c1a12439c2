//! Small `*at` wrappers: every write below the mount point goes through a directory fd, with
//! `O_NOFOLLOW`, so a symlink planted inside the tree can never redirect a write.

use super::{Context, Error, ErrorKind, Result};
use nix::dir::{Dir, Type};
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fchmod, fstat, fstatat, mkdirat, FileStat, Mode};
use nix::unistd::{fchown, unlinkat, Gid, Uid, UnlinkatFlags};
use nix::NixPath;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

pub(crate) const DIR_FLAGS: OFlag = OFlag::O_DIRECTORY
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_RDONLY)
    .union(OFlag::O_CLOEXEC);

/// Creates `path`'s missing parents (root's, at most 0755: in a parent others could write,
/// anyone could plant or rename what goes there) and opens the parent (`O_NOFOLLOW`). Returns
/// the parent and `path`'s last component. For root-owned places (`/run/…`), not user paths.
pub(crate) fn make_parent(path: &Path) -> Result<(OwnedFd, &std::ffi::OsStr)> {
    use std::os::unix::fs::DirBuilderExt;
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(Error::new(
            ErrorKind::Io,
            format!("{} is not a path to a file", path.display()),
        ));
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(parent)
        .with_context(ErrorKind::Io, || {
            format!("cannot create directory {}", parent.display())
        })?;
    let dir = open_dir(parent).with_context(ErrorKind::Io, || {
        format!("cannot open directory {}", parent.display())
    })?;
    Ok((dir, name))
}

/// Opens an existing directory by absolute path; the last component must not be a symlink.
pub(crate) fn open_dir(path: &Path) -> nix::Result<OwnedFd> {
    nix::fcntl::open(path, DIR_FLAGS, Mode::empty())
}

pub(crate) fn open_dir_at<Fd: AsFd, P: ?Sized + NixPath>(
    dir: Fd,
    name: &P,
) -> nix::Result<OwnedFd> {
    openat(dir, name, DIR_FLAGS, Mode::empty())
}

/// Creates `name` in `dir` (it must not exist), gives it its owner and mode explicitly (so the
/// umask plays no part), and returns it opened.
pub(crate) fn mkdir_owned<Fd: AsFd>(
    dir: Fd,
    name: &str,
    owner: Option<(u32, u32)>,
    mode: u32,
) -> Result<OwnedFd> {
    mkdirat(&dir, name, Mode::from_bits_truncate(0o700))
        .with_context(ErrorKind::Io, || format!("mkdir {name}"))?;
    let fd = open_dir_at(&dir, name).with_context(ErrorKind::Io, || format!("open {name}"))?;
    if let Some((u, g)) = owner {
        fchown(&fd, Some(Uid::from_raw(u)), Some(Gid::from_raw(g)))
            .with_context(ErrorKind::Io, || format!("chown {name} to {u}:{g}"))?;
    }
    fchmod(&fd, Mode::from_bits_truncate(mode))
        .with_context(ErrorKind::Io, || format!("chmod {name}"))?;
    Ok(fd)
}

/// `lstat` relative to a directory fd; `None` when absent.
pub(crate) fn lstat_at<Fd: AsFd, P: ?Sized + NixPath>(
    dir: Fd,
    name: &P,
) -> nix::Result<Option<FileStat>> {
    match fstatat(&dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(nix::errno::Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `symlinkat(target)` in `dir` under a fresh random name starting with `prefix`, retried when
/// the name is taken (a planted name only costs a retry); `Ok(None)` when no name was free.
pub(crate) fn temp_symlink<Fd: AsFd>(
    dir: Fd,
    target: &Path,
    prefix: &str,
) -> nix::Result<Option<std::ffi::OsString>> {
    for _ in 0..16 {
        let name = std::ffi::OsString::from(format!("{prefix}{:016x}", rand::random::<u64>()));
        match nix::unistd::symlinkat(target.as_os_str(), dir.as_fd(), name.as_os_str()) {
            Ok(()) => return Ok(Some(name)),
            Err(nix::errno::Errno::EEXIST) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

pub(crate) fn is_dir(st: &FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}
pub(crate) fn is_symlink(st: &FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFLNK
}
pub(crate) fn is_file(st: &FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFREG
}

/// The entries of a directory (without `.` and `..`), with their types.
pub(crate) fn list<Fd: AsFd>(dir: Fd) -> Result<Vec<(String, Option<Type>)>> {
    let fd = openat(&dir, ".", DIR_FLAGS, Mode::empty())?;
    let mut d = Dir::from_fd(fd)?;
    let mut out = Vec::new();
    for e in d.iter() {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "." || name == ".." {
            continue;
        }
        out.push((name, e.file_type()));
    }
    Ok(out)
}

/// Removes `name` in `dir` and everything below it, never following symlinks.
pub(crate) fn remove_tree_at<Fd: AsFd>(dir: Fd, name: &str) -> Result<()> {
    remove_typed(&dir, name, None)
}

fn remove_typed<Fd: AsFd>(dir: &Fd, name: &str, ty: Option<Type>) -> Result<()> {
    let is_directory = match ty {
        Some(t) => t == Type::Directory,
        // The directory listing did not say: ask.
        None => match lstat_at(dir, name)? {
            Some(st) => is_dir(&st),
            None => return Ok(()),
        },
    };
    if is_directory {
        let sub = open_dir_at(dir, name)?;
        for (child, t) in list(&sub)? {
            remove_typed(&sub, &child, t)?;
        }
        drop(sub);
        unlinkat(dir, name, UnlinkatFlags::RemoveDir)?;
    } else {
        match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Reads a whole file below `dir` by a relative `a/b/c` path, no component followed if it is a
/// symlink. `None` when any component is missing or not of the right type.
pub(crate) fn read_at<Fd: AsFd>(
    dir: Fd,
    rel: &str,
) -> Result<Option<(crate::secret::SecretBytes, FileStat)>> {
    let comps: Vec<&str> = rel.split('/').collect();
    let (last, parents) = comps.split_last().expect("split gives one item");
    let mut cur: Option<OwnedFd> = None;
    for p in parents {
        let next = match &cur {
            Some(fd) => open_dir_at(fd, *p),
            None => open_dir_at(&dir, *p),
        };
        match next {
            Ok(fd) => cur = Some(fd),
            Err(
                nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR | nix::errno::Errno::ELOOP,
            ) => return Ok(None),
            Err(e) => return Err(e).with_context(ErrorKind::Io, || format!("open {p}")),
        }
    }
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
    let fd = match &cur {
        Some(fd) => openat(fd, *last, flags, Mode::empty()),
        None => openat(&dir, *last, flags, Mode::empty()),
    };
    let fd = match fd {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR | nix::errno::Errno::ELOOP) => {
            return Ok(None)
        }
        Err(e) => return Err(e).with_context(ErrorKind::Io, || format!("open {rel}")),
    };
    let st = fstat(&fd)?;
    if !is_file(&st) {
        return Ok(None);
    }
    // The size is known: read straight into a buffer of that size (plus one byte, in case the
    // file grew), without the extra statx/lseek of `read_to_end`.
    let mut buf = crate::secret::SecretBytes::default();
    buf.resize(st.st_size as usize + 1);
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(len * 2 + 64);
        }
        match nix::unistd::read(&fd, &mut buf.as_mut_slice()[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                // The whole size fstat gave: the generation's files do not change under us, so
                // skip the read that would only report EOF.
                if len == st.st_size as usize {
                    break;
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).with_context(ErrorKind::Io, || format!("read {rel}")),
        }
    }
    buf.truncate(len);
    Ok(Some((buf, st)))
}
