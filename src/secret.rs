//! Zeroizing containers for plaintext and key material.
//!
//! Every secret value in this crate lives in one of these types. Their `Debug` is redacted, so a
//! stray `{:?}` in a log line or error message cannot leak the content, and their memory is wiped
//! on drop.

use std::fmt;
use zeroize::Zeroize;

/// Plaintext bytes (a decrypted value, a data key, a key file's content).
///
/// The buffer only grows through the methods below, which move the content into a larger
/// buffer and wipe the old one (`Vec`'s own growth would leave a copy in freed memory); the
/// whole allocation, spare capacity included, is wiped on drop.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl Drop for SecretBytes {
    fn drop(&mut self) {
        // `Vec`'s `zeroize` wipes the whole capacity, not only the bytes in use.
        self.0.zeroize();
    }
}

impl SecretBytes {
    /// Takes ownership of `bytes`; they are wiped when this is dropped.
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }
    /// An empty buffer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        SecretBytes(Vec::with_capacity(capacity))
    }
    /// The bytes, read-only. Whoever copies them out takes over the duty to wipe.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    /// The bytes, to change in place (their number stays).
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.0
    }
    /// How many bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Makes room for `additional` more bytes: when the buffer is too small, the content moves
    /// to one at least twice as large and the old one is wiped.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let need = self.0.len().saturating_add(additional);
        if need > self.0.capacity() {
            let mut bigger = Vec::with_capacity(need.max(2 * self.0.capacity()).max(64));
            bigger.extend_from_slice(&self.0);
            std::mem::replace(&mut self.0, bigger).zeroize();
        }
    }

    /// Appends `bytes` (growing as `SecretBytes::reserve` does: copy, then wipe the old buffer).
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        self.0.extend_from_slice(bytes);
    }

    /// Appends one byte (growing as `SecretBytes::reserve` does (copy, then wipe the old buffer)).
    pub fn push(&mut self, byte: u8) {
        self.reserve(1);
        self.0.push(byte);
    }

    /// Sets the length to `len`: new bytes are zero, dropped bytes are wiped.
    pub(crate) fn resize(&mut self, len: usize) {
        if len <= self.0.len() {
            self.truncate(len);
        } else {
            self.reserve(len - self.0.len());
            self.0.resize(len, 0);
        }
    }

    /// Keeps the first `len` bytes and wipes the rest.
    pub fn truncate(&mut self, len: usize) {
        if len < self.0.len() {
            self.0[len..].zeroize();
            self.0.truncate(len);
        }
    }

    /// Wipes the content; the buffer keeps its capacity.
    pub fn clear(&mut self) {
        self.0.zeroize();
    }

    /// Appends everything `r` gives until its end, through a wiped stack buffer.
    pub fn read_to_end(&mut self, r: &mut impl std::io::Read) -> std::io::Result<usize> {
        let mut chunk = zeroize::Zeroizing::new([0u8; 8192]);
        let mut total = 0;
        loop {
            match r.read(&mut chunk[..]) {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    self.extend_from_slice(&chunk[..n]);
                    total += n;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Converts to a string if the bytes are UTF-8; otherwise gives the bytes back.
    pub(crate) fn into_text(mut self) -> Result<SecretString, SecretBytes> {
        let bytes = std::mem::take(&mut self.0);
        String::from_utf8(bytes)
            .map(SecretString::new)
            .map_err(|e| SecretBytes::new(e.into_bytes()))
    }
}

/// Writing appends, growing as `SecretBytes::reserve` does (copy, then wipe the old buffer).
impl std::io::Write for SecretBytes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.extend_from_slice(buf);
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Appends, growing as `SecretBytes::reserve` does (copy, then wipe the old buffer).
impl Extend<u8> for SecretBytes {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, iter: I) {
        let iter = iter.into_iter();
        self.reserve(iter.size_hint().0);
        for b in iter {
            self.push(b);
        }
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

/// Plaintext text (a decrypted string value or comment). Grows and is wiped as
/// [`SecretBytes`] is.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretString(String);

impl Drop for SecretString {
    fn drop(&mut self) {
        // `String`'s `zeroize` wipes its whole buffer, as `Vec`'s does.
        self.0.zeroize();
    }
}

impl SecretString {
    /// Takes ownership of `s`; it is wiped when this is dropped.
    pub fn new(s: String) -> Self {
        SecretString(s)
    }
    /// The text, read-only. Whoever copies it out takes over the duty to wipe.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// The same bytes, still in a wiping type (no copy).
    pub fn into_bytes(mut self) -> SecretBytes {
        SecretBytes::new(std::mem::take(&mut self.0).into_bytes())
    }
    /// The text without the wipe, for text known not to be secret (a map key, a ciphertext
    /// that was just decrypted): no copy is made.
    pub(crate) fn into_public(mut self) -> String {
        std::mem::take(&mut self.0)
    }
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The buffer's size, for callers that preallocate.
    pub(crate) fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// Appends `s`, moving to a larger buffer and wiping the old one when it is full.
    pub fn push_str(&mut self, s: &str) {
        let need = self.0.len().saturating_add(s.len());
        if need > self.0.capacity() {
            let mut bigger = String::with_capacity(need.max(2 * self.0.capacity()).max(64));
            bigger.push_str(&self.0);
            std::mem::replace(&mut self.0, bigger).zeroize();
        }
        self.0.push_str(s);
    }

    /// Appends one character (growing as [`SecretString::push_str`] does).
    pub fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }

    /// Wipes the content; the buffer keeps its capacity.
    pub fn clear(&mut self) {
        self.0.zeroize();
    }
}

/// `write!` into the text: appends, growing as [`SecretString::push_str`] does.
impl fmt::Write for SecretString {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s);
        Ok(())
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
    use std::io::Write;

    #[test]
    fn growing_keeps_the_content() {
        let mut b = SecretBytes::default();
        for i in 0..1000u32 {
            b.extend_from_slice(&i.to_le_bytes());
        }
        b.push(7);
        write!(b, "{}", 42).unwrap();
        let mut want: Vec<u8> = (0..1000u32).flat_map(|i| i.to_le_bytes()).collect();
        want.push(7);
        want.extend_from_slice(b"42");
        assert_eq!(b.expose(), &want[..]);
        b.reserve(10_000);
        assert_eq!(b.expose(), &want[..]);
        b.resize(5);
        assert_eq!(b.expose(), &want[..5]);
        b.resize(8);
        assert_eq!(b.expose(), &[0, 0, 0, 0, 1, 0, 0, 0][..]);
        b.as_mut_slice()[0] = 9;
        b.truncate(1);
        assert_eq!(b.expose(), &[9][..]);
        b.clear();
        assert!(b.is_empty());

        let mut r = SecretBytes::default();
        let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        assert_eq!(r.read_to_end(&mut &data[..]).unwrap(), 20_000);
        assert_eq!(r.expose(), &data[..]);

        let mut s = SecretString::from("ab");
        for _ in 0..100 {
            s.push_str("cd");
        }
        assert_eq!(s.len(), 202);
        assert!(s.expose().starts_with("abcdcd"));
        s.clear();
        assert!(s.is_empty() && s.capacity() >= 202);
    }

    #[test]
    fn debug_never_shows_the_content() {
        let s = SecretString::new("hunter2".into());
        let b = SecretBytes::new(b"hunter2".to_vec());
        assert!(!format!("{s:?}{b:?}").contains("hunter2"));
    }
}
