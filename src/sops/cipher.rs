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
    Str,
    Int,
    Float,
    Bool,
    Time,
    Comment,
    Bytes,
}

impl ValueType {
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
    pub data: Vec<u8>,
    pub iv: Vec<u8>,
    pub tag: Vec<u8>,
    pub ty: ValueType,
}

/// Cheap test used where SOPS falls back to "looks like ENC" (comments).
pub fn looks_encrypted(s: &str) -> bool {
    s.starts_with("ENC[AES256_GCM,")
}

impl EncValue {
    /// Parses as SOPS' regex `^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]` does:
    /// anchored at the start only, greedy groups, text after the last `]` ignored.
    pub fn parse(s: &str) -> Result<EncValue, CipherError> {
        let body = s
            .strip_prefix("ENC[AES256_GCM,data:")
            .ok_or(CipherError::NotEncrypted)?;
        // Greedy `(.+)` groups: each separator is the *last* occurrence that still lets the rest
        // match. Values written by sops never contain the separators, so searching from the right
        // gives the same split. `.` does not match a newline.
        // Go's regex has no (?s) flag: it matches on the first line only.
        let body = body.split('\n').next().unwrap_or(body);
        let close = body
            .rfind(']')
            .ok_or(CipherError::Malformed("no closing `]`"))?;
        let body = &body[..close];
        let (rest, ty) = body
            .rsplit_once(",type:")
            .ok_or(CipherError::Malformed("no `type:` field"))?;
        let (rest, tag) = rest
            .rsplit_once(",tag:")
            .ok_or(CipherError::Malformed("no `tag:` field"))?;
        let (data, iv) = rest
            .rsplit_once(",iv:")
            .ok_or(CipherError::Malformed("no `iv:` field"))?;
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
        let decode =
            |field: &'static str, v: &str| B64.decode(v).map_err(|_| CipherError::Base64(field));
        let tag = decode("tag", tag)?;
        if tag.len() != 16 {
            return Err(CipherError::TagLength(tag.len()));
        }
        let iv = decode("iv", iv)?;
        if iv.is_empty() {
            return Err(CipherError::Malformed("an empty IV"));
        }
        Ok(EncValue {
            data: decode("data", data)?,
            iv,
            tag,
            ty,
        })
    }

    /// Decrypts with the data key and the AAD (the `a:b:` path).
    pub fn decrypt(&self, key: &[u8; 32], aad: &[u8]) -> Result<SecretBytes, CipherError> {
        if self.iv.len() != 32 {
            // SOPS itself takes any IV length from the file, but every file it writes has 32
            // bytes, and the GCM type is fixed to that size here.
            return Err(CipherError::IvLength(self.iv.len()));
        }
        let cipher = SopsGcm::new(GenericArray::from_slice(key));
        let mut buf = SecretBytes::new(self.data.clone());
        cipher
            .decrypt_in_place_detached(
                GenericArray::from_slice(&self.iv),
                aad,
                buf.expose_mut(),
                GenericArray::from_slice(&self.tag),
            )
            .map_err(|_| CipherError::Authentication)?;
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

    #[test]
    fn only_the_first_line_counts() {
        let key = [9u8; 32];
        let enc = EncValue::encrypt(b"v", ValueType::Str, &key, b"k:").unwrap();
        let text = format!("{enc}\nmore text ] here");
        let parsed = EncValue::parse(&text).unwrap();
        assert_eq!(parsed.decrypt(&key, b"k:").unwrap().expose(), b"v");
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
