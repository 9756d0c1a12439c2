//! The value cipher: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` with a 32-byte IV.

use crate::secret::SecretBytes;
use crate::sops::CipherError;
use aes_gcm::aead::consts::U32;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aes::Aes256;
use aes_gcm::{AeadInPlace, AesGcm, KeyInit};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

/// AES-256-GCM with SOPS' 32-byte nonce (the J0 = GHASH path of SP 800-38D).
type SopsGcm = AesGcm<Aes256, U32>;

/// The type tag of an encrypted value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// `str`.
    Str,
    /// `int`.
    Int,
    /// `float`.
    Float,
    /// `bool`.
    Bool,
    /// `time` (RFC 3339).
    Time,
    /// `comment`: an encrypted YAML comment.
    Comment,
    /// `bytes`: the binary store's data.
    Bytes,
}

impl ValueType {
    /// The name in `ENC[…,type:NAME]`.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Str => "str",
            ValueType::Int => "int",
            ValueType::Float => "float",
            ValueType::Bool => "bool",
            ValueType::Time => "time",
            ValueType::Comment => "comment",
            ValueType::Bytes => "bytes",
        }
    }
}

/// A parsed `ENC[…]` string. It borrows nothing secret: every field is ciphertext.
#[derive(Debug, Clone)]
pub struct EncValue {
    /// Ciphertext (base64-decoded `data`).
    pub data: Vec<u8>,
    /// The IV (32 bytes as sops writes it).
    pub iv: Vec<u8>,
    /// The GCM tag (16 bytes).
    pub tag: Vec<u8>,
    /// How the plaintext is typed.
    pub ty: ValueType,
}

/// Cheap test used where SOPS falls back to "looks like ENC" (comments).
pub(crate) fn looks_encrypted(s: &str) -> bool {
    s.starts_with("ENC[AES256_GCM,")
}

/// The four fields of an `ENC[…]` string, still base64.
struct Fields<'a> {
    data: &'a str,
    iv: &'a str,
    tag: &'a str,
    ty: ValueType,
}

/// Splits as SOPS' regex `^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]` does:
/// anchored at the start only, greedy groups, text after the last `]` ignored.
fn split(s: &str) -> Result<Fields<'_>, CipherError> {
    let body = s
        .strip_prefix("ENC[AES256_GCM,data:")
        .ok_or(CipherError::NotEncrypted)?;
    // Greedy `(.+)` groups: each separator is the *last* occurrence that still lets the rest
    // match. Values written by sops never contain the separators, so searching from the right
    // gives the same split. `.` does not match a newline.
    // Go's regex has no (?s) flag: it matches on the first line only.
    let body = match memchr::memchr(b'\n', body.as_bytes()) {
        Some(nl) => &body[..nl],
        None => body,
    };
    let close =
        memchr::memrchr(b']', body.as_bytes()).ok_or(CipherError::Malformed("no closing `]`"))?;
    let body = &body[..close];
    if let Some(f) = split_last_commas(body) {
        return f;
    }
    let (rest, ty) =
        rsplit_once(body, ",type:").ok_or(CipherError::Malformed("no `type:` field"))?;
    let (rest, tag) =
        rsplit_once(rest, ",tag:").ok_or(CipherError::Malformed("no `tag:` field"))?;
    let (data, iv) = rsplit_once(rest, ",iv:").ok_or(CipherError::Malformed("no `iv:` field"))?;
    fields(data, iv, tag, ty)
}

/// The common case of [`split`]: the last three commas start `,iv:`, `,tag:`, `,type:`, so
/// they are the last occurrences the greedy groups take, found in one backwards pass.
fn split_last_commas(body: &str) -> Option<Result<Fields<'_>, CipherError>> {
    let b = body.as_bytes();
    let c3 = memchr::memrchr(b',', b)?;
    let c2 = memchr::memrchr(b',', &b[..c3])?;
    let c1 = memchr::memrchr(b',', &b[..c2])?;
    let ty = body[c3..].strip_prefix(",type:")?;
    let tag = body[c2..c3].strip_prefix(",tag:")?;
    let iv = body[c1..c2].strip_prefix(",iv:")?;
    Some(fields(&body[..c1], iv, tag, ty))
}

fn fields<'a>(
    data: &'a str,
    iv: &'a str,
    tag: &'a str,
    ty: &str,
) -> Result<Fields<'a>, CipherError> {
    if data.is_empty() || iv.is_empty() || tag.is_empty() || ty.is_empty() {
        return Err(CipherError::Malformed("an empty field"));
    }
    let ty = match ty {
        "str" => ValueType::Str,
        "int" => ValueType::Int,
        "float" => ValueType::Float,
        "bool" => ValueType::Bool,
        "time" => ValueType::Time,
        "comment" => ValueType::Comment,
        "bytes" => ValueType::Bytes,
        other => return Err(CipherError::UnknownType(other.chars().take(32).collect())),
    };
    Ok(Fields { data, iv, tag, ty })
}

/// `str::rsplit_once` for a separator starting with an ASCII `,`: a plain backwards scan, much
/// cheaper than the generic substring search on these short fields.
fn rsplit_once<'a>(s: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    let (b, sb) = (s.as_bytes(), sep.as_bytes());
    let mut end = b.len();
    while let Some(i) = b[..end].iter().rposition(|&c| c == sb[0]) {
        if b[i..].starts_with(sb) {
            return Some((&s[..i], &s[i + sb.len()..]));
        }
        end = i;
    }
    None
}

/// Decodes one base64 field, appending to `out`.
fn decode_into(field: &'static str, v: &str, out: &mut Vec<u8>) -> Result<(), CipherError> {
    B64.decode_vec(v, out)
        .map_err(|_| CipherError::Base64(field))
}

/// Decodes one base64 field into `out` (its old content wiped), which is then decrypted in
/// place: sized for the field before decoding, so it does not grow once it holds plaintext.
fn decode_secret(field: &'static str, v: &str, out: &mut SecretBytes) -> Result<(), CipherError> {
    out.clear();
    out.resize(v.len() / 4 * 3 + 3);
    let n = B64
        .decode_slice(v, out.as_mut_slice())
        .map_err(|_| CipherError::Base64(field))?;
    out.truncate(n);
    Ok(())
}

/// The data key's cipher, for the many values of one file: the AES key schedule is computed
/// once, and the IV and tag are decoded into reused buffers. Gives what [`EncValue::parse`]
/// then [`EncValue::decrypt`] give, errors included, in the same order.
pub(crate) struct ValueCipher {
    gcm: SopsGcm,
    iv: Vec<u8>,
    tag: Vec<u8>,
    /// Where [`ValueCipher::open_scratch`] decrypts and [`ValueCipher::seal`] encrypts: reused,
    /// so that small values cost no allocation.
    scratch: SecretBytes,
    /// Fresh IVs for [`ValueCipher::seal`], read from the OS generator [`IVS_PER_READ`] at a
    /// time; `ivs_used` bytes of it are spent. IVs are public, so this is a plain buffer.
    ivs: Vec<u8>,
    ivs_used: usize,
}

/// One `getrandom` read for this many IVs rather than one per value (a syscall each was a
/// tenth of encrypting a file of small values).
const IVS_PER_READ: usize = 128;

impl ValueCipher {
    pub(crate) fn new(key: &[u8; 32]) -> ValueCipher {
        ValueCipher {
            gcm: SopsGcm::new(GenericArray::from_slice(key)),
            iv: Vec::with_capacity(32),
            tag: Vec::with_capacity(16),
            scratch: SecretBytes::new(Vec::new()),
            ivs: Vec::new(),
            ivs_used: 0,
        }
    }

    /// Encrypts `plaintext` with the AAD under a fresh random 32-byte IV: the `ENC[…]` text
    /// that [`EncValue::encrypt`] then `to_string` give, without a key schedule per value.
    pub fn seal(
        &mut self,
        plaintext: &[u8],
        ty: ValueType,
        aad: &[u8],
    ) -> Result<String, CipherError> {
        if self.ivs_used + 32 > self.ivs.len() {
            use rand::RngCore;
            self.ivs.resize(32 * IVS_PER_READ, 0);
            rand::rngs::OsRng.fill_bytes(&mut self.ivs);
            self.ivs_used = 0;
        }
        let iv = &self.ivs[self.ivs_used..self.ivs_used + 32];
        self.ivs_used += 32;
        self.scratch.clear();
        self.scratch.extend_from_slice(plaintext);
        // Encrypted in place: the buffer holds ciphertext from here on.
        let tag = self
            .gcm
            .encrypt_in_place_detached(
                GenericArray::from_slice(iv),
                aad,
                self.scratch.as_mut_slice(),
            )
            .map_err(|_| CipherError::Authentication)?;
        let data = self.scratch.expose();
        let mut out = String::with_capacity(64 + data.len() * 4 / 3 + 44 + 24);
        out.push_str("ENC[AES256_GCM,data:");
        B64.encode_string(data, &mut out);
        out.push_str(",iv:");
        B64.encode_string(iv, &mut out);
        out.push_str(",tag:");
        B64.encode_string(tag, &mut out);
        out.push_str(",type:");
        out.push_str(ty.name());
        out.push(']');
        Ok(out)
    }

    /// Parses and decrypts one `ENC[…]` string with the AAD (the `a:b:` path).
    pub(crate) fn open(
        &mut self,
        s: &str,
        aad: &[u8],
    ) -> Result<(SecretBytes, ValueType), CipherError> {
        let f = self.split_decode(s)?;
        // The ciphertext is decrypted in place: the buffer is the plaintext's from the start.
        let mut buf = SecretBytes::default();
        decode_secret("data", f.data, &mut buf)?;
        gcm_open(&self.gcm, &self.iv, &self.tag, aad, buf.as_mut_slice())?;
        Ok((buf, f.ty))
    }

    /// [`ValueCipher::open`] into the cipher's own buffer, valid until the next call.
    pub(crate) fn open_scratch(
        &mut self,
        s: &str,
        aad: &[u8],
    ) -> Result<(&[u8], ValueType), CipherError> {
        let f = self.split_decode(s)?;
        decode_secret("data", f.data, &mut self.scratch)?;
        gcm_open(
            &self.gcm,
            &self.iv,
            &self.tag,
            aad,
            self.scratch.as_mut_slice(),
        )?;
        Ok((self.scratch.expose(), f.ty))
    }

    /// Splits the fields and decodes the tag and the IV (in that order, as SOPS checks them).
    fn split_decode<'s>(&mut self, s: &'s str) -> Result<Fields<'s>, CipherError> {
        let f = split(s)?;
        self.tag.clear();
        decode_into("tag", f.tag, &mut self.tag)?;
        if self.tag.len() != 16 {
            return Err(CipherError::TagLength(self.tag.len()));
        }
        self.iv.clear();
        decode_into("iv", f.iv, &mut self.iv)?;
        if self.iv.is_empty() {
            return Err(CipherError::Malformed("an empty IV"));
        }
        Ok(f)
    }
}

/// Decrypts `buf` in place. SOPS itself takes any IV length from the file, but every file it
/// writes has 32 bytes, and the GCM type is fixed to that size here.
fn gcm_open(
    gcm: &SopsGcm,
    iv: &[u8],
    tag: &[u8],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<(), CipherError> {
    if iv.len() != 32 {
        return Err(CipherError::IvLength(iv.len()));
    }
    gcm.decrypt_in_place_detached(
        GenericArray::from_slice(iv),
        aad,
        buf,
        GenericArray::from_slice(tag),
    )
    .map_err(|_| CipherError::Authentication)
}

impl EncValue {
    /// Parses as SOPS' regex does (see `split`) and decodes the fields.
    pub fn parse(s: &str) -> Result<EncValue, CipherError> {
        let f = split(s)?;
        let decode = |field: &'static str, v: &str| {
            let mut out = Vec::new();
            decode_into(field, v, &mut out).map(|()| out)
        };
        let tag = decode("tag", f.tag)?;
        if tag.len() != 16 {
            return Err(CipherError::TagLength(tag.len()));
        }
        let iv = decode("iv", f.iv)?;
        if iv.is_empty() {
            return Err(CipherError::Malformed("an empty IV"));
        }
        Ok(EncValue {
            data: decode("data", f.data)?,
            iv,
            tag,
            ty: f.ty,
        })
    }

    /// Decrypts with the data key and the AAD (the `a:b:` path).
    pub fn decrypt(&self, key: &[u8; 32], aad: &[u8]) -> Result<SecretBytes, CipherError> {
        let gcm = SopsGcm::new(GenericArray::from_slice(key));
        let mut buf = SecretBytes::new(self.data.clone());
        gcm_open(&gcm, &self.iv, &self.tag, aad, buf.as_mut_slice())?;
        Ok(buf)
    }

    /// Encrypts `plaintext` with a fresh random 32-byte IV.
    pub fn encrypt(
        plaintext: &[u8],
        ty: ValueType,
        key: &[u8; 32],
        aad: &[u8],
    ) -> Result<EncValue, CipherError> {
        use rand::RngCore;
        let mut iv = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut iv);
        let cipher = SopsGcm::new(GenericArray::from_slice(key));
        let mut data = plaintext.to_vec();
        let tag = cipher
            .encrypt_in_place_detached(GenericArray::from_slice(&iv), aad, &mut data)
            .map_err(|_| CipherError::Authentication)?;
        Ok(EncValue {
            data,
            iv,
            tag: tag.to_vec(),
            ty,
        })
    }
}

impl std::fmt::Display for EncValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{}]",
            B64.encode(&self.data),
            B64.encode(&self.iv),
            B64.encode(&self.tag),
            self.ty.name()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_aad() {
        let key = [7u8; 32];
        let enc = EncValue::encrypt(b"hello", ValueType::Str, &key, b"a:b:").unwrap();
        let parsed = EncValue::parse(&enc.to_string()).unwrap();
        assert_eq!(parsed.iv.len(), 32);
        assert_eq!(parsed.decrypt(&key, b"a:b:").unwrap().expose(), b"hello");
        assert!(matches!(
            parsed.decrypt(&key, b"a:"),
            Err(CipherError::Authentication)
        ));
    }

    /// `seal` writes what `EncValue` parses and opens, with a fresh IV each time, also across
    /// the refills of its IV buffer.
    #[test]
    fn seal_round_trips_with_fresh_ivs() {
        let key = [3u8; 32];
        let mut cipher = ValueCipher::new(&key);
        let mut ivs = std::collections::HashSet::new();
        for i in 0..(3 * IVS_PER_READ + 5) {
            let plain = format!("value {i}");
            let text = cipher
                .seal(plain.as_bytes(), ValueType::Int, b"a:")
                .unwrap();
            assert!(text.starts_with("ENC[AES256_GCM,data:") && text.ends_with(",type:int]"));
            let parsed = EncValue::parse(&text).unwrap();
            assert_eq!(parsed.ty, ValueType::Int);
            assert_eq!(
                parsed.decrypt(&key, b"a:").unwrap().expose(),
                plain.as_bytes()
            );
            assert_eq!(parsed.to_string(), text);
            assert!(ivs.insert(parsed.iv), "IV reused at value {i}");
        }
    }

    #[test]
    fn only_the_first_line_counts() {
        let key = [9u8; 32];
        let enc = EncValue::encrypt(b"v", ValueType::Str, &key, b"k:").unwrap();
        let text = format!("{enc}\nmore text ] here");
        let parsed = EncValue::parse(&text).unwrap();
        assert_eq!(parsed.decrypt(&key, b"k:").unwrap().expose(), b"v");
    }

    #[test]
    fn rsplit_once_is_std_rsplit_once() {
        for (s, sep) in [
            ("a,iv:b,iv:c", ",iv:"),
            (",iv:", ",iv:"),
            ("abc", ",iv:"),
            ("a,i,iv:,iv", ",iv:"),
            ("é,tag:ü", ",tag:"),
            ("", ",type:"),
        ] {
            assert_eq!(rsplit_once(s, sep), s.rsplit_once(sep), "{s:?}");
        }
    }

    #[test]
    fn last_commas_split_like_the_greedy_groups() {
        for body in [
            "AAAA,iv:BBBB,tag:CCCC,type:str",
            "A,iv:B,iv:C,tag:D,type:int",
            "A,tag:x,iv:B,tag:C,type:str",
            "A,B,iv:C,tag:D,type:bytes",
            ",iv:,tag:,type:",
        ] {
            let f = split_last_commas(body).unwrap();
            let (rest, ty) = body.rsplit_once(",type:").unwrap();
            let (rest, tag) = rest.rsplit_once(",tag:").unwrap();
            let (data, iv) = rest.rsplit_once(",iv:").unwrap();
            match f {
                Ok(f) => {
                    assert_eq!((f.data, f.iv, f.tag), (data, iv, tag), "{body}");
                    assert_eq!(f.ty.name(), ty);
                }
                Err(_) => assert!(data.is_empty() || iv.is_empty() || tag.is_empty()),
            }
        }
        // Not the common layout: the general search decides.
        assert!(split_last_commas("A,iv:B,tag:C,type:str,x").is_none());
    }

    #[test]
    fn parse_errors_are_specific() {
        assert!(matches!(
            EncValue::parse("hello"),
            Err(CipherError::NotEncrypted)
        ));
        assert!(matches!(
            EncValue::parse(
                "ENC[AES256_GCM,data:!!,iv:AAAA,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]"
            ),
            Err(CipherError::Base64("data"))
        ));
        assert!(matches!(
            EncValue::parse("ENC[AES256_GCM,data:AA==,iv:AAAA,tag:AAAA,type:str]"),
            Err(CipherError::TagLength(3))
        ));
        assert!(matches!(
            EncValue::parse(
                "ENC[AES256_GCM,data:AA==,iv:AAAA,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:blob]"
            ),
            Err(CipherError::UnknownType(_))
        ));
    }
}
