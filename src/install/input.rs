//! Reading the files a manifest points at (sops files, key files, template sources): regular
//! files only, opened without blocking and read up to a size bound. A FIFO, a device, a directory
//! or a socket given by mistake, or swapped in by whoever owns the file, ends in an error that
//! names the file, never in a hang at boot (a FIFO) or gigabytes of memory (`/dev/zero`).

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, Mode};
use std::fmt;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// A sops file: far above any real one (10,000 secrets are ~1 MiB).
pub(crate) const SOPS_FILE_MAX: u64 = 64 << 20;
/// An age identity file or an SSH host key: a few KiB at most.
pub(crate) const KEY_FILE_MAX: u64 = 1 << 20;
/// A template's `file`.
pub(crate) const TEMPLATE_MAX: u64 = 16 << 20;

/// How to read one kind of file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kind {
    /// What the file is, for messages: "sops file", "ageKeyFile", "template file".
    pub what: &'static str,
    pub max: u64,
    /// Whether symlinks are followed (the target must still be regular). Host keys may be links
    /// (impermanence setups link them); template sources must not be, neither the file nor a
    /// parent a user could have made a link (only root-made links are followed there).
    pub follow: bool,
}

pub(crate) const SOPS_FILE: Kind = Kind {
    what: "sops file",
    max: SOPS_FILE_MAX,
    follow: true,
};
pub(crate) const AGE_KEY_FILE: Kind = Kind {
    what: "ageKeyFile",
    max: KEY_FILE_MAX,
    follow: true,
};
pub(crate) const SSH_KEY: Kind = Kind {
    what: "ssh key",
    max: KEY_FILE_MAX,
    follow: true,
};
pub(crate) const TEMPLATE_FILE: Kind = Kind {
    what: "template file",
    max: TEMPLATE_MAX,
    follow: false,
};

#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error("cannot open {what} {}: {errno}", path.display())]
    Open {
        what: &'static str,
        path: PathBuf,
        errno: Errno,
    },
    #[error(
        "{what} {} is a symbolic link, which is not followed for a {what}: point it at the file itself (a Nix store path)",
        path.display()
    )]
    Symlink { what: &'static str, path: PathBuf },
    #[error("{what} {} is not read: {reason}", path.display())]
    Parent {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{what} {} is {kind}, not a regular file: point it at a regular file", path.display())]
    NotRegular {
        what: &'static str,
        path: PathBuf,
        kind: FileKind,
    },
    #[error(
        "{what} {} is larger than {} MiB (the limit for a {what}): point it at the right file",
        path.display(),
        max >> 20
    )]
    TooLarge {
        what: &'static str,
        path: PathBuf,
        max: u64,
    },
    #[error("cannot read {what} {}: {errno}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        errno: Errno,
    },
    #[error("{what} {} changed while it was read: run again once it is written", path.display())]
    Changed { what: &'static str, path: PathBuf },
}

/// The type of a file that is not a regular one, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Directory,
    Fifo,
    CharDevice,
    BlockDevice,
    Socket,
    Other,
}

impl FileKind {
    /// The kind of a file of type `mode` (`st_mode`), `None` for a regular file.
    pub(crate) fn of(mode: libc::mode_t) -> Option<FileKind> {
        Some(match mode & libc::S_IFMT {
            libc::S_IFREG => return None,
            libc::S_IFDIR => FileKind::Directory,
            libc::S_IFIFO => FileKind::Fifo,
            libc::S_IFCHR => FileKind::CharDevice,
            libc::S_IFBLK => FileKind::BlockDevice,
            libc::S_IFSOCK => FileKind::Socket,
            _ => FileKind::Other,
        })
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Socket => "a socket",
            FileKind::Other => "not a regular file",
        })
    }
}

enum Walk {
    Refused(String),
    Errno(Errno),
}

/// Opens `path` without following a symlink a user could have made, in its parents as well as
/// its last component: `O_NOFOLLOW` alone guards only the last one, and whoever owns a parent
/// could swap it for a link to a directory holding a root-only file of the same name. The
/// parents are walked as a custom path's are ([`super::links::walk`]: a link only root could
/// have made, like `/etc/static`, is followed). The outer result is the walk, the inner the open.
fn open_no_symlinks(path: &Path, flags: OFlag) -> Result<nix::Result<OwnedFd>, Walk> {
    let abs = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()
            .map_err(|e| Walk::Errno(Errno::from_raw(e.raw_os_error().unwrap_or(0))))?
            .join(path)
    };
    let (Some(parent), Some(name)) = (abs.parent(), abs.file_name()) else {
        return Err(Walk::Errno(Errno::EISDIR));
    };
    match super::links::walk(parent, false, &abs) {
        Ok(super::links::Lookup::Found(w)) => Ok(nix::fcntl::openat(
            &w.dir,
            name,
            flags | OFlag::O_NOFOLLOW,
            Mode::empty(),
        )),
        Ok(super::links::Lookup::Missing { .. }) => Err(Walk::Errno(Errno::ENOENT)),
        Err(e) => Err(Walk::Refused(e.reason)),
    }
}

/// Opens `path` as `kind` says and checks that it is a regular file within the bound; returns
/// it with its size.
fn open(path: &Path, kind: Kind) -> Result<(OwnedFd, usize), ReadError> {
    // O_NONBLOCK: opening a FIFO would otherwise wait for a writer. O_NOCTTY: a terminal device
    // must not become our controlling terminal.
    let mut flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    if !kind.follow {
        flags |= OFlag::O_NOFOLLOW;
    }
    let opened = if kind.follow {
        nix::fcntl::open(path, flags, Mode::empty())
    } else {
        open_no_symlinks(path, flags).map_err(|e| match e {
            Walk::Refused(reason) => ReadError::Parent {
                what: kind.what,
                path: path.to_owned(),
                reason,
            },
            Walk::Errno(errno) => ReadError::Open {
                what: kind.what,
                path: path.to_owned(),
                errno,
            },
        })?
    };
    let fd = opened.map_err(|errno| match errno {
        Errno::ELOOP if !kind.follow => ReadError::Symlink {
            what: kind.what,
            path: path.to_owned(),
        },
        // A socket cannot be opened; say what it is rather than "no such device".
        Errno::ENXIO | Errno::EOPNOTSUPP => ReadError::NotRegular {
            what: kind.what,
            path: path.to_owned(),
            kind: FileKind::Socket,
        },
        errno => ReadError::Open {
            what: kind.what,
            path: path.to_owned(),
            errno,
        },
    })?;
    let st = fstat(&fd).map_err(|errno| ReadError::Read {
        what: kind.what,
        path: path.to_owned(),
        errno,
    })?;
    if let Some(k) = FileKind::of(st.st_mode) {
        return Err(ReadError::NotRegular {
            what: kind.what,
            path: path.to_owned(),
            kind: k,
        });
    }
    let size = u64::try_from(st.st_size).unwrap_or(u64::MAX);
    if size > kind.max {
        return Err(ReadError::TooLarge {
            what: kind.what,
            path: path.to_owned(),
            max: kind.max,
        });
    }
    Ok((fd, size as usize))
}

/// Reads the whole regular file `path` into a buffer that is wiped on drop (key files are
/// secret). The buffer is sized once from `fstat` and never grows, so no unwiped copy is left
/// behind; a file that grows while it is read is refused.
pub(crate) fn read(path: &Path, kind: Kind) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    let (fd, size) = open(path, kind)?;
    // One byte more than the size, to notice growth.
    let mut buf = Zeroizing::new(vec![0u8; size + 1]);
    let mut len = 0;
    while len < buf.len() {
        match nix::unistd::read(&fd, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::EINTR) => continue,
            Err(errno) => {
                return Err(ReadError::Read {
                    what: kind.what,
                    path: path.to_owned(),
                    errno,
                })
            }
        }
    }
    if len > size {
        return Err(ReadError::Changed {
            what: kind.what,
            path: path.to_owned(),
        });
    }
    buf.truncate(len);
    Ok(buf)
}

/// [`read`] into the wiping type secrets live in.
pub(crate) fn read_secret(
    path: &Path,
    kind: Kind,
) -> Result<crate::secret::SecretBytes, ReadError> {
    let mut buf = read(path, kind)?;
    // Moves the allocation (no copy) out of the wiping wrapper into the other.
    Ok(crate::secret::SecretBytes::new(std::mem::take(&mut *buf)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    const SMALL: Kind = Kind {
        what: "test file",
        max: 16,
        follow: false,
    };

    #[test]
    fn regular_files_are_read_whole() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        for data in [&b""[..], b"x", b"0123456789abcdef"] {
            std::fs::write(&p, data).unwrap();
            assert_eq!(&read(&p, SMALL).unwrap()[..], data);
            assert_eq!(read_secret(&p, SMALL).unwrap().expose(), data);
        }
    }

    #[test]
    fn other_types_and_sizes_are_refused_with_the_path() {
        let d = tempfile::tempdir().unwrap();
        let big = d.path().join("big");
        std::fs::write(&big, [0u8; 17]).unwrap();
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
        let sock = d.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let link = d.path().join("link");
        symlink(&big, &link).unwrap();
        for (p, needle) in [
            (&big, "is larger than 0 MiB (the limit for a test file)"),
            (&fifo, "is a FIFO (named pipe), not a regular file"),
            (&sock, "is a socket, not a regular file"),
            (&d.path().to_owned(), "is a directory, not a regular file"),
            (&Path::new("/dev/zero").to_owned(), "is a character device"),
            (&link, "is a symbolic link, which is not followed"),
        ] {
            let e = read(p, SMALL).unwrap_err().to_string();
            assert!(e.contains(needle), "{}: {e}", p.display());
            assert!(e.contains(&p.display().to_string()), "{e}");
        }
        // Followed when the kind allows it; the target is still checked.
        let follow = Kind {
            follow: true,
            max: 32,
            ..SMALL
        };
        assert_eq!(read(&link, follow).unwrap().len(), 17);
        let to_fifo = d.path().join("to-fifo");
        symlink(&fifo, &to_fifo).unwrap();
        let e = read(&to_fifo, follow).unwrap_err().to_string();
        assert!(e.contains("FIFO"), "{e}");
    }
}
