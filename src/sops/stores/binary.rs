//! The binary store: the whole file is one value, `data`, kept in a JSON envelope
//! `{"data": "ENC[…]", "sops": {…}}` (sops' `BinaryStore` wraps the JSON store).

use crate::secret::SecretBytes;
use crate::sops::tree::{MapItem, Tree, Value};
use crate::sops::{EmitError, Format, LoadError};

/// Parses the JSON envelope. The tree is `{"data": <ENC string>}` (plus anything else the
/// envelope holds, as sops keeps it).
pub(crate) fn parse(bytes: &[u8]) -> Result<(Tree, Value), LoadError> {
    super::json::parse_with(bytes, Format::Binary).map_err(|e| match e {
        LoadError::Syntax { format, message } => LoadError::Syntax {
            format,
            message: format!(
                "{message} (an encrypted binary file is sops' JSON envelope \
                 {{\"data\": \"ENC[…]\", \"sops\": {{…}}}})"
            ),
        },
        other => other,
    })
}

/// A plaintext binary file: the tree `{"data": <the bytes>}`. Bytes that are not UTF-8 are kept
/// as they are.
pub(crate) fn parse_plain(bytes: &[u8]) -> Result<Tree, LoadError> {
    let value = match SecretBytes::new(bytes.to_vec()).into_text() {
        Ok(s) => Value::Str(s),
        Err(b) => Value::Bytes(b),
    };
    Ok(Tree {
        branches: vec![vec![MapItem::Entry("data".into(), value)]],
    })
}

/// The raw decrypted bytes of `data`.
pub(crate) fn emit(tree: &Tree) -> Result<SecretBytes, EmitError> {
    let err = |message: &str| EmitError::Unsupported {
        format: Format::Binary,
        message: message.into(),
    };
    if tree.branches.len() != 1 {
        return Err(err("there must be exactly one tree branch"));
    }
    for item in &tree.branches[0] {
        if let MapItem::Entry(k, v) = item {
            if k == "data" {
                return match v {
                    Value::Str(s) => Ok(SecretBytes::new(s.expose().as_bytes().to_vec())),
                    Value::Bytes(b) => Ok(b.clone()),
                    _ => Err(err(
                        "'data' key in tree does not have a string value; \
                         this file was probably not encrypted as binary (try --output-type)",
                    )),
                };
            }
        }
    }
    Err(err(
        "no binary data found in tree (no `data` key); this file was probably not encrypted \
         as binary (try another --output-type)",
    ))
}

/// sops refuses: a binary file has no structure to extract from.
pub(crate) fn emit_value(_value: &Value) -> Result<SecretBytes, EmitError> {
    Err(EmitError::Unsupported {
        format: Format::Binary,
        message: "binary files are not structured and extracting a single value is not possible"
            .into(),
    })
}
