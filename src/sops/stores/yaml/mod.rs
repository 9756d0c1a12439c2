//! The YAML store, as SOPS 3.11 reads and writes it (go-yaml v3, indent 4).
//!
//! - [`parse()`] / [`parse_plain`]: text → [`Tree`] with go-yaml v3 typing (module `resolve`)
//!   and SOPS' comment placement (module `parse`).
//! - [`emit()`] / [`emit_value`]: [`Tree`] → text as `sops decrypt` prints it (module `emit`).

mod emit;
mod fast;
mod parse;
mod resolve;

#[cfg(feature = "fuzzing")]
pub use fast::check_against_full;

use crate::secret::SecretBytes;
use crate::sops::tree::{map_remove, MapItem, Tree, Value};
use crate::sops::{EmitError, LoadError};

/// Parses an encrypted file: the data tree (every document a branch) and the `sops` block of the
/// first document. The `sops` key is removed from every document, as SOPS does.
pub(crate) fn parse(bytes: &[u8]) -> Result<(Tree, Value), LoadError> {
    // go-yaml refuses a repeated top-level key when SOPS reads the metadata.
    let mut branches = read(bytes, 1)?;
    let has_meta = branches.first().is_some_and(|b| {
        b.iter()
            .any(|i| matches!(i, MapItem::Entry(k, v) if k == "sops" && !matches!(v, Value::Null)))
    });
    if !has_meta {
        return Err(LoadError::NoMetadata);
    }
    let mut meta = Value::Null;
    for (i, branch) in branches.iter_mut().enumerate() {
        let m = map_remove(branch, "sops");
        if i == 0 {
            meta = m.unwrap_or(Value::Null);
        }
    }
    Ok((Tree { branches }, meta))
}

/// Parses a plaintext YAML file (no metadata), e.g. before encryption.
pub(crate) fn parse_plain(bytes: &[u8]) -> Result<Tree, LoadError> {
    Ok(Tree {
        // SOPS first decodes the plaintext into a Go map: no key may repeat at any level.
        branches: read(bytes, usize::MAX)?,
    })
}

/// The documents of `bytes`: sops' own layout by the [`fast`] path, anything else by the full
/// reader.
fn read(bytes: &[u8], unique_depth: usize) -> Result<Vec<crate::sops::tree::Map>, LoadError> {
    let fast = std::str::from_utf8(bytes)
        .ok()
        .and_then(|src| fast::parse_document(src, unique_depth));
    match fast {
        Some(docs) => Ok(docs),
        None => parse::parse_documents(bytes, unique_depth),
    }
}

/// The decrypted document, byte for byte as `sops decrypt` prints a YAML file.
pub(crate) fn emit(tree: &Tree) -> Result<SecretBytes, EmitError> {
    emit::emit_tree(tree)
}

/// [`emit()`]'s text, written to `w` as it is made.
pub(crate) fn write(tree: &Tree, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    emit::write_tree(tree, w)
}

/// One non-string value, as `sops decrypt --extract` prints it.
pub(crate) fn emit_value(value: &Value) -> Result<SecretBytes, EmitError> {
    emit::emit_value(value)
}
