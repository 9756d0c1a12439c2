//! Zeroizing containers for plaintext and key material.
//!
//! Every secret value in this crate lives in one of these types. Their `Debug` is redacted, so a
//! stray `{:?}` in a log line or error message cannot leak the content, and their memory is wiped
//! on drop.

use std::fmt;

/// Wipes a whole allocation, spare capacity included (a buffer may have held longer plaintext
/// before it was cleared or reused). `explicit_bzero` is a memset the compiler may not remove:
/// as sure as the `zeroize` crate's volatile byte loop, and many times faster on the megabytes
/// of a large file's values.
fn wipe(buf: &mut Vec<u8>) {
    if buf.capacity() > 0 {
        // SAFETY: writes within the vector's own allocation; the bytes stay initialised (0).
        unsafe { libc::explicit_bzero(buf.as_mut_ptr().cast(), buf.capacity()) };
    }
}

/// Plaintext bytes (a decrypted value, a data key, a key file's content).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl Drop for SecretBytes {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    pub fn expose_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Appends `bytes`. When the buffer is full, moves to one twice as large and wipes the old
    /// one: `Vec`'s own growth would leave a copy of the content in freed memory.
    pub fn extend_wiping(&mut self, bytes: &[u8]) {
        let need = self.0.len() + bytes.len();
        if need > self.0.capacity() {
            let mut bigger = Vec::with_capacity(need.max(2 * self.0.capacity()).max(64));
            bigger.extend_from_slice(&self.0);
            wipe(&mut std::mem::replace(&mut self.0, bigger));
        }
        self.0.extend_from_slice(bytes);
    }

    /// Makes room for `additional` more bytes as [`SecretBytes::extend_wiping`] does.
    pub fn reserve_wiping(&mut self, additional: usize) {
        if self.0.len() + additional > self.0.capacity() {
            let mut bigger = Vec::with_capacity(self.0.len() + additional);
            bigger.extend_from_slice(&self.0);
            wipe(&mut std::mem::replace(&mut self.0, bigger));
        }
    }

    /// Converts to a string if the bytes are UTF-8; otherwise gives the bytes back.
    pub fn into_text(mut self) -> Result<SecretString, SecretBytes> {
        let bytes = std::mem::take(&mut self.0);
        String::from_utf8(bytes)
            .map(SecretString::new)
            .map_err(|e| SecretBytes::new(e.into_bytes()))
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(v: Vec<u8>) -> Self {
        SecretBytes::new(v)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

/// Plaintext text (a decrypted string value or comment).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretString(String);

impl Drop for SecretString {
    fn drop(&mut self) {
        // SAFETY: only zero bytes are written, which keep the string UTF-8.
        wipe(unsafe { self.0.as_mut_vec() });
    }
}

impl SecretString {
    pub fn new(s: String) -> Self {
        SecretString(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn expose_mut(&mut self) -> &mut String {
        &mut self.0
    }
    pub fn into_bytes(mut self) -> SecretBytes {
        SecretBytes::new(std::mem::take(&mut self.0).into_bytes())
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        SecretString::new(s)
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        SecretString::new(s.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretString(<{} bytes redacted>)", self.0.len())
    }
}

/// Makes the process non-dumpable, so neither core dumps nor ptrace by other users can read the
/// plaintext held in memory.
pub fn harden_process() {
    #[cfg(target_os = "linux")]
    {
        let _ = nix::sys::prctl::set_dumpable(false);
    }
    // No core files either, whatever the dumpable flag does on this kernel.
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wipe_zeroes_the_whole_allocation() {
        let mut v = Vec::with_capacity(300);
        v.extend_from_slice(&[0xAB; 300]);
        v.truncate(10);
        wipe(&mut v);
        // SAFETY: all 300 bytes were written (0xAB, then zero by `wipe`).
        let all = unsafe { std::slice::from_raw_parts(v.as_ptr(), v.capacity()) };
        assert!(all.iter().all(|&b| b == 0));
        let mut empty = Vec::new();
        wipe(&mut empty);
    }

    #[test]
    fn growing_keeps_the_content() {
        let mut b = SecretBytes::default();
        for i in 0..1000u32 {
            b.extend_wiping(&i.to_le_bytes());
        }
        let want: Vec<u8> = (0..1000u32).flat_map(|i| i.to_le_bytes()).collect();
        assert_eq!(b.expose(), &want[..]);
        b.reserve_wiping(10_000);
        assert!(b.expose_mut().capacity() >= 14_000);
        assert_eq!(b.expose(), &want[..]);
    }

    #[test]
    fn debug_never_shows_the_content() {
        let s = SecretString::new("hunter2".into());
        let b = SecretBytes::new(b"hunter2".to_vec());
        assert!(!format!("{s:?}{b:?}").contains("hunter2"));
    }
}
