//! Writing a generation: every file is created `O_EXCL|O_NOFOLLOW` relative to its directory fd,
//! gets its final owner and mode (exact, whatever the umask) while still empty, and only then
//! receives the plaintext, which is dropped right after.

use super::fsutil;
use super::plan::Entry;
use super::{Context, ErrorKind, Result};
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fchmod, Mode};
use nix::unistd::{fchown, Gid, Uid};
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};

pub(crate) struct Writer<'a> {
    gen: &'a OwnedFd,
    /// root:keys for directories; `None` in user mode (no chown).
    dir_owner: Option<(u32, u32)>,
    chown_files: bool,
    dirs: HashMap<String, OwnedFd>,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(gen: &'a OwnedFd, dir_owner: Option<(u32, u32)>) -> Writer<'a> {
        Writer {
            gen,
            dir_owner,
            chown_files: dir_owner.is_some(),
            dirs: HashMap::new(),
        }
    }

    /// The directory that holds `rel` (created when missing), and `rel`'s last component.
    fn parent<'r>(&mut self, rel: &'r str) -> Result<(&OwnedFd, &'r str)> {
        let (parent, name) = match rel.rsplit_once('/') {
            Some((p, n)) => (p, n),
            None => ("", rel),
        };
        self.dir(parent)?;
        let pfd: &OwnedFd = if parent.is_empty() {
            self.gen
        } else {
            &self.dirs[parent]
        };
        Ok((pfd, name))
    }

    /// The directory `rel` (`a/b`), created 0751 root:keys component by component.
    fn dir(&mut self, rel: &str) -> Result<()> {
        if rel.is_empty() || self.dirs.contains_key(rel) {
            return Ok(());
        }
        let owner = self.dir_owner;
        let (pfd, name) = self.parent(rel)?;
        let fd = match fsutil::open_dir_at(pfd, name) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENOENT) => fsutil::mkdir_owned(pfd, name, owner, 0o751)
                .with_context(ErrorKind::Write, || {
                    format!("cannot create directory {rel}")
                })?,
            Err(e) => {
                return Err(e)
                    .with_context(ErrorKind::Write, || format!("cannot open directory {rel}"))
            }
        };
        self.dirs.insert(rel.to_owned(), fd);
        Ok(())
    }

    pub(crate) fn write(&mut self, e: &Entry) -> Result<()> {
        self.write_bytes(&e.rel, e.data.expose(), e.owner.uid, e.owner.gid, e.mode)
    }

    pub(crate) fn write_bytes(
        &mut self,
        rel: &str,
        data: &[u8],
        uid: u32,
        gid: u32,
        mode: u32,
    ) -> Result<()> {
        let (pfd, name) = self.parent(rel)?;
        let fd = openat(
            pfd.as_fd(),
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(ErrorKind::Write, || format!("cannot create {rel}"))?;
        if self.chown_files {
            fchown(&fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                .with_context(ErrorKind::Write, || {
                    format!("cannot change owner/group of {rel} to {uid}:{gid}")
                })?;
        }
        fchmod(&fd, Mode::from_bits_truncate(mode)).with_context(ErrorKind::Write, || {
            format!("cannot change mode of {rel} to {mode:04o}")
        })?;
        let mut f = std::fs::File::from(fd);
        f.write_all(data)
            .with_context(ErrorKind::Write, || format!("cannot write {rel}"))?;
        Ok(())
    }
}
