//! Decrypting a tree: at each leaf the crypt rule (see [`crate::sops::walk`]) says whether it is
//! encrypted; encrypted ones are decrypted with their AAD path, and every leaf feeds the MAC in
//! the order SOPS feeds it.

use crate::secret::SecretString;
use crate::sops::cipher::{looks_encrypted, EncValue, ValueCipher, ValueType};
use crate::sops::gofmt::{format_float_f, parse_bool, parse_float, GoTime};
use crate::sops::tree::Value;
use crate::sops::walk::{walk_tree, Ctx, Leaf, Visitor};
use crate::sops::{DataKey, DecryptError, EncryptedFile, PlainTree};
use sha2::{Digest, Sha512};

/// SHA-256("sops"): fed to the MAC first when `mac_only_encrypted` is set.
pub(crate) const MAC_ONLY_ENCRYPTED_PREFIX: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

#[derive(Debug, Clone, Copy, Default)]
pub struct DecryptOptions {
    /// Skip the MAC check (`--ignore-mac`). The MAC is still computed.
    pub ignore_mac: bool,
}

/// The MAC as SOPS computes it: SHA-512 over the leaves' bytes, optionally only encrypted ones.
pub(crate) struct Mac {
    hash: Sha512,
    only_encrypted: bool,
}

impl Mac {
    pub(crate) fn new(only_encrypted: bool) -> Mac {
        let mut hash = Sha512::new();
        if only_encrypted {
            hash.update(MAC_ONLY_ENCRYPTED_PREFIX);
        }
        Mac {
            hash,
            only_encrypted,
        }
    }

    pub(crate) fn add(&mut self, encrypted: bool, value: &Value) {
        if !self.only_encrypted || encrypted {
            // The bytes of `to_bytes`, without copying strings.
            match value {
                Value::Str(s) => self.hash.update(s.expose().as_bytes()),
                Value::Bytes(b) => self.hash.update(b.expose()),
                Value::Time(t) => self.hash.update(t.as_bytes()),
                other => self.hash.update(to_bytes(other)),
            }
        }
    }

    /// Uppercase hex, as Go's `%X`.
    pub(crate) fn finish(self) -> String {
        self.hash
            .finalize()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }
}

struct Decryptor {
    cipher: ValueCipher,
    /// The AAD of the current value (a reused buffer).
    aad: Vec<u8>,
    mac: Mac,
}

impl Decryptor {
    fn open(
        &mut self,
        ctx: &Ctx,
        text: &str,
    ) -> Result<(crate::secret::SecretBytes, ValueType), DecryptError> {
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
        let text = match &value {
            Value::Str(s) => s,
            other => {
                return Err(DecryptError::NotEncrypted {
                    path: ctx.render(),
                    found: other.kind(),
                })
            }
        };
        if text.is_empty() {
            // SOPS never encrypts "", and decrypting "" gives "".
            return Ok(Leaf::Value(value));
        }
        let (plain, ty) = self.open(ctx, text.expose())?;
        // What decrypted is ciphertext, not a secret: freed without the zeroizing wipe.
        if let Value::Str(mut s) = value {
            drop(std::mem::take(s.expose_mut()));
        }
        let bad = |ty: ValueType| DecryptError::BadPlaintext {
            path: ctx.render(),
            ty: ty.name(),
        };
        let utf8 = |b: &[u8]| {
            std::str::from_utf8(b)
                .map_err(|_| bad(ty))
                .map(str::to_owned)
        };
        let out = match ty {
            ValueType::Str => match plain.into_text() {
                Ok(s) => Value::Str(s),
                Err(bytes) => Value::Bytes(bytes),
            },
            ValueType::Bytes => Value::Bytes(plain),
            ValueType::Comment => {
                return Ok(Leaf::Comment(plain.into_text().map_err(|_| bad(ty))?));
            }
            ValueType::Int => {
                let s = zeroize::Zeroizing::new(utf8(plain.expose())?);
                Value::Int(parse_go_int(&s).ok_or_else(|| bad(ty))?)
            }
            ValueType::Float => {
                let s = zeroize::Zeroizing::new(utf8(plain.expose())?);
                Value::Float(parse_float(&s).ok_or_else(|| bad(ty))?)
            }
            ValueType::Bool => {
                let s = zeroize::Zeroizing::new(utf8(plain.expose())?);
                Value::Bool(parse_bool(&s).ok_or_else(|| bad(ty))?)
            }
            ValueType::Time => {
                let s = zeroize::Zeroizing::new(utf8(plain.expose())?);
                Value::Time(
                    GoTime::parse_rfc3339(&s)
                        .ok_or_else(|| bad(ty))?
                        .format(true),
                )
            }
        };
        self.mac.add(true, &out);
        Ok(Leaf::Value(out))
    }
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
pub fn to_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Str(s) => s.expose().as_bytes().to_vec(),
        Value::Bytes(b) => b.expose().to_vec(),
        Value::Int(i) => i.to_string().into_bytes(),
        Value::Float(f) => format_float_f(*f).into_bytes(),
        Value::Bool(true) => b"True".to_vec(),
        Value::Bool(false) => b"False".to_vec(),
        Value::Time(t) => t.as_bytes().to_vec(),
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

/// Decrypts every value, computes the MAC and checks it against the stored one.
pub fn decrypt(
    file: EncryptedFile,
    key: &DataKey,
    opts: DecryptOptions,
) -> Result<PlainTree, DecryptError> {
    let EncryptedFile {
        format,
        tree,
        metadata,
    } = file;
    let mut visitor = Decryptor {
        cipher: ValueCipher::new(key.as_array()),
        aad: Vec::new(),
        mac: Mac::new(metadata.mac_only_encrypted),
    };
    let tree = walk_tree(tree, &metadata.crypt_rule, &mut visitor)?;
    let computed = visitor.mac.finish();

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
