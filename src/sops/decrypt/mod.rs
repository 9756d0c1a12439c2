//! Decrypting a tree: at each leaf the crypt rule (see [`crate::sops::walk`]) says whether it is
//! encrypted; encrypted ones are decrypted with their AAD path, and every leaf feeds the MAC in
//! the order SOPS feeds it.

use crate::secret::{SecretBytes, SecretString};
use crate::sops::cipher::{looks_encrypted, EncValue, ValueCipher, ValueType};
use crate::sops::gofmt::{format_float_f, parse_bool, parse_float, GoTime};
use crate::sops::metadata::CryptRule;
use crate::sops::tree::{MapItem, Value};
use crate::sops::walk::{walk_top_items, Ctx, Leaf, Visitor};
use crate::sops::{DataKey, DecryptError, EncryptedFile, PlainTree};
use sha2::{Digest, Sha512};

/// SHA-256("sops"): fed to the MAC first when `mac_only_encrypted` is set.
pub(crate) const MAC_ONLY_ENCRYPTED_PREFIX: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// How [`crate::sops::EncryptedFile::decrypt`] treats the file.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecryptOptions {
    /// Skip the MAC check (`--ignore-mac`). The MAC is still computed.
    pub ignore_mac: bool,
}

/// The MAC as SOPS computes it: SHA-512 over the leaves' bytes, optionally only encrypted ones.
pub(crate) struct Mac {
    hash: Sha512,
    only_encrypted: bool,
    /// Leaves' bytes not hashed yet, hashed in large updates rather than one short value at a
    /// time (sha2's AVX2 code hashes blocks in pairs).
    pending: SecretBytes,
    /// A part of the document decrypted on its own thread: `pending` keeps all its bytes, for
    /// the document's `Mac` to hash in document order ([`Mac::absorb`]).
    part: bool,
}

/// How many bytes [`Mac::pending`] gathers before they are hashed.
const MAC_BATCH: usize = 8 * 1024;

impl Mac {
    pub(crate) fn new(only_encrypted: bool) -> Mac {
        let mut hash = Sha512::new();
        if only_encrypted {
            hash.update(MAC_ONLY_ENCRYPTED_PREFIX);
        }
        Mac {
            hash,
            only_encrypted,
            pending: SecretBytes::with_capacity(MAC_BATCH),
            part: false,
        }
    }

    /// The MAC input of a part of the document (see [`Mac::part`]).
    fn part(only_encrypted: bool) -> Mac {
        Mac {
            hash: Sha512::new(),
            only_encrypted,
            pending: SecretBytes::default(),
            part: true,
        }
    }

    /// Hashes a part's bytes after everything fed so far.
    fn absorb(&mut self, part: Mac) {
        self.hash.update(self.pending.expose());
        self.pending.clear();
        self.hash.update(part.pending.expose());
    }

    pub(crate) fn add(&mut self, encrypted: bool, value: &Value) {
        if !self.only_encrypted || encrypted {
            with_mac_bytes(value, |b| self.feed(b));
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        if self.part {
            self.pending.extend_from_slice(bytes);
            return;
        }
        if self.pending.len() + bytes.len() > MAC_BATCH {
            self.hash.update(self.pending.expose());
            self.pending.clear();
        }
        if bytes.len() >= MAC_BATCH {
            self.hash.update(bytes);
        } else {
            // Within the capacity reserved in `new`: no growth.
            self.pending.extend_from_slice(bytes);
        }
    }

    /// Uppercase hex, as Go's `%X`.
    pub(crate) fn finish(mut self) -> String {
        self.hash.update(self.pending.expose());
        self.hash
            .finalize()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }
}

/// The bytes a leaf contributes to the MAC (its plaintext, as SOPS' `ToBytes` gives it),
/// without copying strings.
fn with_mac_bytes<R>(value: &Value, f: impl FnOnce(&[u8]) -> R) -> R {
    match value {
        Value::Str(s) => f(s.expose().as_bytes()),
        Value::Bytes(b) => f(b.expose()),
        Value::Time(t) => f(t.expose().as_bytes()),
        // A number's or bool's text is plaintext too: wiped once hashed.
        other => f(SecretBytes::new(to_bytes(other)).expose()),
    }
}

struct Decryptor {
    cipher: ValueCipher,
    /// The AAD of the current value (a reused buffer).
    aad: Vec<u8>,
    mac: Mac,
}

impl Decryptor {
    fn open(&mut self, ctx: &Ctx, text: &str) -> Result<(SecretBytes, ValueType), DecryptError> {
        ctx.aad_into(&mut self.aad);
        self.cipher
            .open(text, &self.aad)
            .map_err(|source| DecryptError::Value {
                path: ctx.render(),
                source,
            })
    }
}

impl Visitor for Decryptor {
    type Error = DecryptError;

    /// SOPS keeps a comment it cannot decrypt ("possibly unencrypted comment": old or
    /// hand-written files).
    fn comment(&mut self, ctx: &Ctx, text: SecretString) -> Result<Leaf, DecryptError> {
        if !ctx.should_encrypt(true) {
            return Ok(Leaf::Comment(text));
        }
        match self.open(ctx, text.expose()) {
            Ok((plain, _)) => Ok(Leaf::Comment(plain.into_text().unwrap_or(text))),
            Err(_) => {
                if looks_encrypted(text.expose()) {
                    log::warn!(
                        "comment at {} looks encrypted but does not decrypt; kept as it is",
                        ctx.render()
                    );
                }
                Ok(Leaf::Comment(text))
            }
        }
    }

    fn leaf(&mut self, ctx: &Ctx, value: Value) -> Result<Leaf, DecryptError> {
        let encrypted = ctx.should_encrypt(false);
        if !encrypted {
            self.mac.add(false, &value);
            return Ok(Leaf::Value(value));
        }
        let text = match value {
            Value::Str(s) => s,
            other => {
                return Err(DecryptError::NotEncrypted {
                    path: ctx.render(),
                    found: other.kind(),
                })
            }
        };
        if text.is_empty() {
            // SOPS never encrypts "", and decrypting "" gives "" (not in the MAC).
            return Ok(Leaf::Value(Value::Str(text)));
        }
        if text.len() > SMALL_VALUE {
            // A large value (a whole binary file): decrypted in its own buffer, not copied.
            let (plain, ty) = self.open(ctx, text.expose())?;
            // What decrypted is ciphertext, not a secret: freed without the zeroizing wipe.
            drop(text.into_public());
            let leaf = typed_leaf(ctx, Plain::Owned(plain), ty, None)?;
            self.feed(&leaf);
            return Ok(leaf);
        }
        ctx.aad_into(&mut self.aad);
        let (plain, ty) = self
            .cipher
            .open_scratch(text.expose(), &self.aad)
            .map_err(|source| DecryptError::Value {
                path: ctx.render(),
                source,
            })?;
        // The plaintext of a string goes into the ciphertext's own buffer, which is longer
        // (base64 and the `ENC[…]` frame): no allocation for the common value.
        let leaf = typed_leaf(ctx, Plain::Scratch(plain), ty, Some(text))?;
        self.feed(&leaf);
        Ok(leaf)
    }
}

/// Leaves below this length (an `ENC[…]` string) are decrypted in the cipher's reused buffer.
const SMALL_VALUE: usize = 4096;

/// A decrypted value's bytes: the cipher's reused buffer, or a buffer of its own.
enum Plain<'a> {
    Scratch(&'a [u8]),
    Owned(SecretBytes),
}

impl Plain<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Plain::Scratch(b) => b,
            Plain::Owned(b) => b.expose(),
        }
    }
}

impl Decryptor {
    /// The MAC's share of a decrypted leaf (a comment has none).
    fn feed(&mut self, leaf: &Leaf) {
        match leaf {
            Leaf::Value(v) | Leaf::ListString(v) => self.mac.add(true, v),
            Leaf::Comment(_) => {}
        }
    }
}

/// Decrypted bytes as text, or back when they are not UTF-8. Scratch text goes into `reuse`
/// when it fits (growing it would leave a copy of the plaintext in freed memory).
fn into_text(plain: Plain<'_>, reuse: Option<SecretString>) -> Result<SecretString, Plain<'_>> {
    match plain {
        Plain::Owned(b) => b.into_text().map_err(Plain::Owned),
        Plain::Scratch(b) => {
            let Ok(s) = std::str::from_utf8(b) else {
                return Err(plain);
            };
            if let Some(mut buf) = reuse {
                if buf.capacity() >= s.len() {
                    buf.clear();
                    buf.push_str(s);
                    return Ok(buf);
                }
            }
            Ok(SecretString::new(s.to_owned()))
        }
    }
}

/// Turns decrypted bytes into a leaf of their type. `reuse` is a buffer (the ciphertext's) that
/// text may be copied into instead of a new allocation.
fn typed_leaf(
    ctx: &Ctx,
    plain: Plain,
    ty: ValueType,
    reuse: Option<SecretString>,
) -> Result<Leaf, DecryptError> {
    let bad = || DecryptError::BadPlaintext {
        path: ctx.render(),
        ty: ty.name(),
    };
    let text = |plain| into_text(plain, reuse);
    let utf8 = |b: &[u8]| std::str::from_utf8(b).map_err(|_| bad()).map(str::to_owned);
    let out = match ty {
        ValueType::Str => match text(plain) {
            Ok(s) => Value::Str(s),
            Err(Plain::Owned(bytes)) => Value::Bytes(bytes),
            Err(Plain::Scratch(b)) => Value::Bytes(SecretBytes::new(b.to_vec())),
        },
        ValueType::Bytes => match plain {
            Plain::Owned(bytes) => Value::Bytes(bytes),
            Plain::Scratch(b) => Value::Bytes(SecretBytes::new(b.to_vec())),
        },
        ValueType::Comment => return Ok(Leaf::Comment(text(plain).map_err(|_| bad())?)),
        ValueType::Int => {
            let s = zeroize::Zeroizing::new(utf8(plain.bytes())?);
            Value::Int(parse_go_int(&s).ok_or_else(bad)?)
        }
        ValueType::Float => {
            let s = zeroize::Zeroizing::new(utf8(plain.bytes())?);
            Value::Float(parse_float(&s).ok_or_else(bad)?)
        }
        ValueType::Bool => {
            let s = zeroize::Zeroizing::new(utf8(plain.bytes())?);
            Value::Bool(parse_bool(&s).ok_or_else(bad)?)
        }
        ValueType::Time => {
            let s = zeroize::Zeroizing::new(utf8(plain.bytes())?);
            Value::Time(SecretString::new(
                GoTime::parse_rfc3339(&s).ok_or_else(bad)?.format(true),
            ))
        }
    };
    Ok(Leaf::Value(out))
}

/// `strconv.Atoi`: optional sign, decimal digits, int64 range.
fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// SOPS' `ToBytes`: the bytes a leaf contributes to the MAC (and its plaintext when encrypted).
pub(crate) fn to_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Str(s) => s.expose().as_bytes().to_vec(),
        Value::Bytes(b) => b.expose().to_vec(),
        Value::Int(i) => i.to_string().into_bytes(),
        Value::Float(f) => format_float_f(*f).into_bytes(),
        Value::Bool(true) => b"True".to_vec(),
        Value::Bool(false) => b"False".to_vec(),
        Value::Time(t) => t.expose().as_bytes().to_vec(),
        Value::Null | Value::Map(_) | Value::List(_) => Vec::new(),
    }
}

/// The AAD of the stored MAC: `lastmodified` re-formatted as RFC 3339 (fractions dropped,
/// `+00:00` → `Z`), as SOPS re-formats the parsed time.
pub(crate) fn mac_aad(lastmodified: &str) -> Result<String, DecryptError> {
    GoTime::parse_rfc3339(lastmodified)
        .map(|t| t.format(false))
        .ok_or_else(|| DecryptError::LastModified(lastmodified.chars().take(64).collect()))
}

/// Top-level items per thread, at least: below this a thread costs more than it saves.
const ITEMS_PER_THREAD: usize = 256;

/// Decrypts a document's top-level items. A large document is cut into one run of items per
/// core, each decrypted on its own thread with its own cipher, and each returning its MAC input,
/// hashed in document order after the join; the first error in document order wins, as on one
/// thread. A run starts after an entry, where the walk's comment stack is empty, so each run is
/// walked exactly as it is in the whole document.
fn decrypt_items(
    rule: &CryptRule,
    items: &mut [MapItem],
    key: &DataKey,
    decryptor: &mut Decryptor,
) -> Result<(), DecryptError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runs = cores.min(items.len() / ITEMS_PER_THREAD);
    if runs < 2 {
        return walk_top_items(rule, items, decryptor);
    }
    let mut chunks = Vec::with_capacity(runs);
    let mut rest = items;
    for i in (1..runs).rev() {
        // About an equal share of what is left, moved on to just after an entry.
        let mut cut = rest.len() - rest.len() * i / (i + 1);
        while cut < rest.len() && !matches!(rest[cut - 1], MapItem::Entry(..)) {
            cut += 1;
        }
        let (run, tail) = rest.split_at_mut(cut);
        chunks.push(run);
        rest = tail;
    }
    chunks.push(rest);
    let only_encrypted = decryptor.mac.only_encrypted;
    let parts: Vec<Result<Mac, DecryptError>> = std::thread::scope(|scope| {
        let threads: Vec<_> = chunks
            .into_iter()
            .map(|run| {
                scope.spawn(move || {
                    let mut part = Decryptor {
                        cipher: ValueCipher::new(key.as_array()),
                        aad: Vec::new(),
                        mac: Mac::part(only_encrypted),
                    };
                    walk_top_items(rule, run, &mut part).map(|()| part.mac)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    for part in parts {
        decryptor.mac.absorb(part?);
    }
    Ok(())
}

/// Decrypts every value, computes the MAC and checks it against the stored one.
pub(crate) fn decrypt(
    file: EncryptedFile,
    key: &DataKey,
    opts: DecryptOptions,
) -> Result<PlainTree, DecryptError> {
    let EncryptedFile {
        format,
        mut tree,
        metadata,
    } = file;
    let mut decryptor = Decryptor {
        cipher: ValueCipher::new(key.as_array()),
        aad: Vec::new(),
        mac: Mac::new(metadata.mac_only_encrypted),
    };
    for branch in &mut tree.branches {
        decrypt_items(&metadata.crypt_rule, branch, key, &mut decryptor)?;
    }
    let computed = decryptor.mac.finish();

    // `lastmodified` is checked even with --ignore-mac: SOPS parses it when loading.
    let aad = mac_aad(&metadata.lastmodified)?;
    if opts.ignore_mac {
        return Ok(PlainTree { format, tree });
    }
    let stored = if metadata.mac.is_empty() {
        String::new()
    } else {
        let enc = EncValue::parse(&metadata.mac).map_err(DecryptError::MacValue)?;
        let plain = enc
            .decrypt(key.as_array(), aad.as_bytes())
            .map_err(DecryptError::MacValue)?;
        String::from_utf8_lossy(plain.expose()).into_owned()
    };
    if stored != computed {
        return Err(DecryptError::Mac { stored, computed });
    }
    Ok(PlainTree { format, tree })
}
