//! One ordered tree type for every store (YAML, JSON, dotenv, INI, binary).
//!
//! A store only converts text to a [`Tree`] and back. The same type carries ciphertext (an
//! [`crate::sops::EncryptedFile`], whose string leaves may be `ENC[…]`) and plaintext (a
//! [`crate::sops::PlainTree`]); the two are kept apart by the document types that wrap it.
//! Strings and comments are [`SecretString`]s: whatever side of the cipher they are on, they are
//! wiped on drop and never printed by `Debug`.

use crate::secret::{SecretBytes, SecretString};

/// A mapping: entries and comments in file order. Duplicate keys are kept (JSON and dotenv may
/// have them, and SOPS keeps them).
pub type Map = Vec<MapItem>;

/// One line of a [`Map`].
#[derive(Debug, Clone, PartialEq)]
pub enum MapItem {
    /// A key and its value.
    Entry(String, Value),
    /// A comment line, without the `#` (leading space kept, as SOPS does).
    Comment(SecretString),
}

/// One element of a list.
#[derive(Debug, Clone, PartialEq)]
pub enum ListItem {
    /// A value.
    Value(Value),
    /// A comment line between elements, without the `#`.
    Comment(SecretString),
}

/// A leaf or a container, typed as go-yaml v3 / encoding/json type them for SOPS.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// YAML `null`, JSON `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer (go's `int`).
    Int(i64),
    /// A float (go's `float64`).
    Float(f64),
    /// A string (plaintext or `ENC[…]`), in the wiping type.
    Str(SecretString),
    /// A go `time.Time`, kept as its `MarshalText` form (RFC 3339 with nanoseconds, trailing zeros
    /// trimmed, original offset). A decrypted value, so kept in the wiping type.
    Time(SecretString),
    /// Raw bytes that need not be UTF-8 (the binary store's plaintext).
    Bytes(SecretBytes),
    /// A mapping.
    Map(Map),
    /// A sequence.
    List(Vec<ListItem>),
}

impl Value {
    /// A string leaf from text (a test, a new value for `set`).
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(SecretString::new(s.into()))
    }

    /// The mapping, if this is one.
    pub(crate) fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s.expose()),
            _ => None,
        }
    }

    /// The name of the value's kind, for error messages (never the value itself).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Time(_) => "timestamp",
            Value::Bytes(_) => "bytes",
            Value::Map(_) => "map",
            Value::List(_) => "list",
        }
    }
}

/// The first entry with this key (SOPS and sops-nix both take the first).
pub fn map_get<'a>(map: &'a Map, key: &str) -> Option<&'a Value> {
    map.iter().find_map(|item| match item {
        MapItem::Entry(k, v) if k == key => Some(v),
        _ => None,
    })
}

/// Removes every entry with this key and returns the first one's value.
pub(crate) fn map_remove(map: &mut Map, key: &str) -> Option<Value> {
    let mut found = None;
    map.retain_mut(|item| match item {
        MapItem::Entry(k, v) if k == key => {
            if found.is_none() {
                found = Some(std::mem::replace(v, Value::Null));
            }
            false
        }
        _ => true,
    });
    found
}

/// A whole document: one branch per YAML document (every other store has exactly one).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tree {
    /// The documents, in order.
    pub branches: Vec<Map>,
}
