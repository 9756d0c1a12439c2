//! A whole input file, for parsing: a large one is mapped (no copy into fresh memory, which is
//! most of the cost of reading it), a small one read.
//!
//! A mapped file that is truncated while it is mapped makes the next read of a lost page fail
//! with SIGBUS. SOPS files are replaced by rename (sops, `nix-sops edit`, most editors), the
//! installer reads them from the Nix store, and only files of at least [`MAP_MIN`] bytes (far
//! above a usual secrets file) are mapped, so that window is accepted for the speed.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Smaller files are read: mapping costs more than copying them.
const MAP_MIN: u64 = 256 * 1024;

/// The bytes of a file, mapped or read.
pub struct FileBytes(Inner);

enum Inner {
    Mapped { ptr: *const u8, len: usize },
    Read(Vec<u8>),
}

// SAFETY: the mapping is private and read-only, owned by this value alone, and unmapped once.
unsafe impl Send for FileBytes {}
unsafe impl Sync for FileBytes {}

impl FileBytes {
    /// Reads (or maps) the whole file.
    pub fn read(path: &Path) -> std::io::Result<FileBytes> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_file() && meta.len() >= MAP_MIN {
            if let Some(mapped) = map(&file, meta.len()) {
                return Ok(mapped);
            }
        }
        let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.read_to_end(&mut buf)?;
        Ok(FileBytes(Inner::Read(buf)))
    }
}

/// Maps `len` bytes of `file` read-only, its pages loaded now (they are all parsed next).
fn map(file: &File, len: u64) -> Option<FileBytes> {
    let len = usize::try_from(len).ok()?;
    // SAFETY: a fresh private read-only mapping of an open file; the kernel checks the range.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_POPULATE,
            file.as_raw_fd(),
            0,
        )
    };
    (ptr != libc::MAP_FAILED).then(|| {
        FileBytes(Inner::Mapped {
            ptr: ptr.cast_const().cast(),
            len,
        })
    })
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            // SAFETY: `ptr` is a live mapping of `len` readable bytes until `drop`.
            Inner::Mapped { ptr, len } => unsafe { std::slice::from_raw_parts(*ptr, *len) },
            Inner::Read(v) => v,
        }
    }
}

impl Drop for FileBytes {
    fn drop(&mut self) {
        if let Inner::Mapped { ptr, len } = self.0 {
            // SAFETY: unmaps exactly the mapping made in `map`, once; no borrow outlives `self`.
            unsafe { libc::munmap(ptr.cast_mut().cast(), len) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_files_read_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0usize, 10, MAP_MIN as usize + 12345] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let path = dir.path().join(format!("f{len}"));
            std::fs::write(&path, &data).unwrap();
            let got = FileBytes::read(&path).unwrap();
            assert_eq!(&*got, &data[..], "{len} bytes");
            assert_eq!(
                matches!(got.0, Inner::Mapped { .. }),
                len as u64 >= MAP_MIN,
                "{len} bytes"
            );
        }
        assert!(FileBytes::read(&dir.path().join("missing")).is_err());
    }
}
