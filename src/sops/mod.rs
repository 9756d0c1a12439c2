//! The SOPS v3 file format: parse a file of any store, unwrap nothing itself (that is
//! [`crate::keys`]), decrypt values, verify the MAC, and emit plaintext. No filesystem writes.

mod cipher;
mod decrypt;
mod encrypt;
pub(crate) mod gofmt;
pub(crate) mod metadata;
pub(crate) mod path;
pub(crate) mod stores;
pub(crate) mod tree;
mod walk;

use crate::secret::SecretBytes;

// The surface, by step: read a file, decrypt it, work on its tree, encrypt it again.
// Files: [`load`] → [`EncryptedFile`] → [`EncryptedFile::decrypt`] → [`PlainTree`].
pub use decrypt::DecryptOptions;
pub use metadata::{CryptRule, KeyGroup, MasterKey, Metadata};
// Plaintext documents of any store, without metadata (`encrypt`'s input, `--extract`'s output).
pub use stores::{emit, emit_value, parse_plain, val_to_string};
// The tree every store parses into.
pub use tree::{map_get, ListItem, Map, MapItem, Tree, Value};
// `--extract '["a"][0]'` paths.
pub use path::{lookup, parse_extract, render as render_path, Component, Found, PathError};
// Encryption: new values and MAC, then the file's bytes.
pub use encrypt::{
    emit_encrypted, emit_encrypted_owned, seal, write_encrypted_owned, EncryptError,
};
// One `ENC[AES256_GCM,…]` value on its own (the fuzz target parses them).
pub use cipher::{EncValue, ValueType};
/// The current time as sops writes it in `lastmodified` and `created_at` (RFC 3339, UTC).
pub use gofmt::now_rfc3339;

/// The five stores SOPS knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Yaml,
    Json,
    Dotenv,
    Ini,
    Binary,
}

impl Format {
    /// SOPS' rule: by extension, anything unknown is binary.
    pub fn from_path(path: &std::path::Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml") | Some("yml") => Format::Yaml,
            Some("json") => Format::Json,
            Some("env") => Format::Dotenv,
            Some("ini") => Format::Ini,
            _ => Format::Binary,
        }
    }

    /// The names `--input-type` and the sops-nix manifest use.
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "yaml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            "dotenv" => Some(Format::Dotenv),
            "ini" => Some(Format::Ini),
            "binary" => Some(Format::Binary),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Dotenv => "dotenv",
            Format::Ini => "ini",
            Format::Binary => "binary",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed, still encrypted file: string leaves may be `ENC[…]`.
#[derive(Debug, Clone)]
pub struct EncryptedFile {
    pub format: Format,
    pub tree: Tree,
    pub metadata: Metadata,
}

/// A decrypted tree. Only this type can be emitted as plaintext.
#[derive(Debug, Clone)]
pub struct PlainTree {
    pub format: Format,
    pub tree: Tree,
}

/// The 32-byte data key every value is encrypted with.
#[derive(Clone)]
pub struct DataKey(SecretBytes);

impl DataKey {
    pub fn from_bytes(bytes: SecretBytes) -> Option<DataKey> {
        (bytes.len() == 32).then_some(DataKey(bytes))
    }
    pub fn as_array(&self) -> &[u8; 32] {
        self.0
            .expose()
            .try_into()
            .expect("length checked in from_bytes")
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// Parses a file of `format`, separating the `sops` metadata from the data.
pub fn load(format: Format, bytes: &[u8]) -> Result<EncryptedFile, LoadError> {
    let (tree, meta) = stores::parse(format, bytes)?;
    let metadata = Metadata::from_value(&meta)?;
    Ok(EncryptedFile {
        format,
        tree,
        metadata,
    })
}

impl EncryptedFile {
    /// Decrypts with a data key unwrapped by [`crate::keys`], and checks the MAC.
    pub fn decrypt(self, key: &DataKey, opts: DecryptOptions) -> Result<PlainTree, DecryptError> {
        decrypt::decrypt(self, key, opts)
    }
}

impl PlainTree {
    /// The whole document in `format` (SOPS' `decrypt --output-type`).
    pub fn emit(&self, format: Format) -> Result<SecretBytes, EmitError> {
        stores::emit(format, &self.tree)
    }

    /// [`PlainTree::emit`]'s text, written to `w` (as it is made, for YAML).
    pub fn write_to(&self, format: Format, w: &mut dyn std::io::Write) -> Result<(), EmitError> {
        stores::write(format, &self.tree, w)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    #[error("the value is not an ENC[AES256_GCM,…] string")]
    NotEncrypted,
    #[error("malformed ENC[…] value: {0}")]
    Malformed(&'static str),
    #[error("the {0} field of ENC[…] is not valid base64")]
    Base64(&'static str),
    #[error("the IV is {0} bytes; SOPS writes 32")]
    IvLength(usize),
    #[error("the GCM tag is {0} bytes; it must be 16")]
    TagLength(usize),
    #[error("unknown value type {0:?}")]
    UnknownType(String),
    #[error("authentication failed: wrong data key, or the value or its key path was changed")]
    Authentication,
}

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("sops metadata field `{field}` must be {expected}, found {found}")]
    FieldType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("sops metadata lists no keys (\"No keys found in file\")")]
    NoKeys,
    #[error("invalid sops metadata: {0}")]
    Invalid(String),
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot parse {format}: {message}")]
    Syntax {
        format: Format,
        /// Position and what is wrong; never the offending text, which may be plaintext.
        message: String,
    },
    #[error(
        "sops metadata not found: the file has no `sops` block (YAML/JSON key, dotenv `sops_*` \
         keys, INI `[sops]` section); is it encrypted?"
    )]
    NoMetadata,
    #[error("{0}")]
    Structure(String),
    #[error(transparent)]
    Metadata(#[from] MetadataError),
}

#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    #[error(
        "value at {path} must be encrypted by the file's crypt rule, but it is a plain {found}"
    )]
    NotEncrypted { path: String, found: &'static str },
    #[error("cannot decrypt value at {path}: {source}")]
    Value { path: String, source: CipherError },
    #[error("decrypted value at {path} is not a valid {ty}")]
    BadPlaintext { path: String, ty: &'static str },
    #[error("decrypted comment at {path} is not UTF-8")]
    NotUtf8 { path: String },
    #[error("sops metadata `lastmodified` {0:?} is not an RFC 3339 time")]
    LastModified(String),
    #[error("cannot decrypt the stored MAC: {0}")]
    MacValue(CipherError),
    #[error("MAC mismatch: the file has {stored:?}, the content gives {computed}; the file was changed without sops (use --ignore-mac to read it anyway)")]
    Mac { stored: String, computed: String },
}

#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    #[error("cannot write {format}: {message}")]
    Unsupported { format: Format, message: String },
    /// The destination refused the text (a closed pipe, a full disk).
    #[error("cannot write the output: {0}")]
    Write(std::io::Error),
}
