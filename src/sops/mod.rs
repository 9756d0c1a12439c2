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
    /// YAML, comments and multiple documents kept (`.yaml`, `.yml`).
    Yaml,
    /// JSON, key order kept (`.json`).
    Json,
    /// `KEY=value` lines (`.env`).
    Dotenv,
    /// INI sections (`.ini`).
    Ini,
    /// Any other file: its bytes under the single key `data`.
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

    /// The inverse of [`Format::from_name`], as sops' messages print it.
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
    /// The store it was read from (and is written back to).
    pub format: Format,
    /// The data, without the `sops` block.
    pub tree: Tree,
    /// The `sops` block: wrapped data keys, MAC, crypt rule.
    pub metadata: Metadata,
}

/// A decrypted tree. Only this type can be emitted as plaintext.
#[derive(Debug, Clone)]
pub struct PlainTree {
    /// The store the encrypted file was read from.
    pub format: Format,
    /// The decrypted data; every string leaf lives in a zeroizing buffer.
    pub tree: Tree,
}

/// The 32-byte data key every value is encrypted with.
#[derive(Clone)]
pub struct DataKey(SecretBytes);

impl DataKey {
    /// The key unwrapped by [`crate::keys`]; `None` unless it is 32 bytes (sops' AES-256).
    pub fn from_bytes(bytes: SecretBytes) -> Option<DataKey> {
        (bytes.len() == 32).then_some(DataKey(bytes))
    }
    /// The raw key, for the AES-GCM cipher and for wrapping it to recipients.
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

/// Why one `ENC[…]` value could not be parsed or opened.
#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    /// Not an `ENC[AES256_GCM,…]` string at all.
    #[error("the value is not an ENC[AES256_GCM,…] string")]
    NotEncrypted,
    /// The `ENC[…]` framing is broken; the text says which part.
    #[error("malformed ENC[…] value: {0}")]
    Malformed(&'static str),
    /// The named field (`data`, `iv`, `tag`) is not base64.
    #[error("the {0} field of ENC[…] is not valid base64")]
    Base64(&'static str),
    /// The IV has this many bytes instead of 32.
    #[error("the IV is {0} bytes; SOPS writes 32")]
    IvLength(usize),
    /// The tag has this many bytes instead of 16.
    #[error("the GCM tag is {0} bytes; it must be 16")]
    TagLength(usize),
    /// A `type:` sops does not write.
    #[error("unknown value type {0:?}")]
    UnknownType(String),
    /// AES-GCM rejected it: wrong key, or changed value or path (the AAD).
    #[error("authentication failed: wrong data key, or the value or its key path was changed")]
    Authentication,
}

/// Why the `sops` block of a file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// A field has the wrong type.
    #[error("sops metadata field `{field}` must be {expected}, found {found}")]
    FieldType {
        /// The field's name, e.g. `lastmodified`.
        field: String,
        /// The type sops writes there.
        expected: &'static str,
        /// The type found instead.
        found: &'static str,
    },
    /// No master key at all: nothing could unwrap the data key.
    #[error("sops metadata lists no keys (\"No keys found in file\")")]
    NoKeys,
    /// Anything else wrong with the block; the text says what.
    #[error("invalid sops metadata: {0}")]
    Invalid(String),
}

/// Why [`load`] or [`parse_plain`] could not read a file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The store's syntax is broken.
    #[error("cannot parse {format}: {message}")]
    Syntax {
        /// The store it was read as.
        format: Format,
        /// Position and what is wrong; never the offending text, which may be plaintext.
        message: String,
    },
    /// No `sops` block: probably not an encrypted file.
    #[error(
        "sops metadata not found: the file has no `sops` block (YAML/JSON key, dotenv `sops_*` \
         keys, INI `[sops]` section); is it encrypted?"
    )]
    NoMetadata,
    /// Valid syntax that sops does not accept (a top-level list, a repeated key).
    #[error("{0}")]
    Structure(String),
    /// The `sops` block is there but unusable.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
}

/// Why [`EncryptedFile::decrypt`] failed. Paths are key paths (`a:b:`), never values.
#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    /// The crypt rule says this value is encrypted, but it is plain text.
    #[error(
        "value at {path} must be encrypted by the file's crypt rule, but it is a plain {found}"
    )]
    NotEncrypted {
        /// Where in the tree.
        path: String,
        /// The kind of value found (`str`, `int`…).
        found: &'static str,
    },
    /// One value could not be decrypted.
    #[error("cannot decrypt value at {path}: {source}")]
    Value {
        /// Where in the tree.
        path: String,
        /// Why.
        source: CipherError,
    },
    /// The plaintext does not parse as its `type:` says.
    #[error("decrypted value at {path} is not a valid {ty}")]
    BadPlaintext {
        /// Where in the tree.
        path: String,
        /// The declared type.
        ty: &'static str,
    },
    /// An encrypted comment decrypted to bytes that are not UTF-8.
    #[error("decrypted comment at {path} is not UTF-8")]
    NotUtf8 {
        /// Where in the tree.
        path: String,
    },
    /// `lastmodified` (the MAC's AAD) cannot be read.
    #[error("sops metadata `lastmodified` {0:?} is not an RFC 3339 time")]
    LastModified(String),
    /// The encrypted MAC itself could not be opened.
    #[error("cannot decrypt the stored MAC: {0}")]
    MacValue(CipherError),
    /// The values do not match the stored MAC: the file was changed without sops.
    #[error("MAC mismatch: the file has {stored:?}, the content gives {computed}; the file was changed without sops (use --ignore-mac to read it anyway)")]
    Mac {
        /// The MAC in the file.
        stored: String,
        /// The MAC of the decrypted values.
        computed: String,
    },
}

/// Why a tree could not be written in a store.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The store cannot hold this tree (nested values in dotenv, a non-string in binary).
    #[error("cannot write {format}: {message}")]
    Unsupported {
        /// The store asked for.
        format: Format,
        /// What it cannot hold.
        message: String,
    },
    /// The destination refused the text (a closed pipe, a full disk).
    #[error("cannot write the output: {0}")]
    Write(std::io::Error),
}
