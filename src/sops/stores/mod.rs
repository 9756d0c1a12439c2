//! One module per store; each converts text ⇄ [`Tree`] and nothing else.

mod binary;
mod dotenv;
mod ini;
mod json;
mod yaml;

pub use dotenv::val_to_string;
#[cfg(feature = "fuzzing")]
pub use yaml::check_against_full;

use crate::secret::SecretBytes;
use crate::sops::tree::{Tree, Value};
use crate::sops::{EmitError, Format, LoadError};

/// Parses an encrypted file: the data tree (without metadata) and the `sops` block as a value
/// (dotenv and INI unflattened already).
pub(crate) fn parse(format: Format, bytes: &[u8]) -> Result<(Tree, Value), LoadError> {
    match format {
        Format::Yaml => yaml::parse(bytes),
        Format::Json => json::parse(bytes),
        Format::Dotenv => dotenv::parse(bytes),
        Format::Ini => ini::parse(bytes),
        Format::Binary => binary::parse(bytes),
    }
}

/// Parses a plaintext file (no metadata), as input for encryption.
pub fn parse_plain(format: Format, bytes: &[u8]) -> Result<Tree, LoadError> {
    match format {
        Format::Yaml => yaml::parse_plain(bytes),
        Format::Json => json::parse_plain(bytes),
        Format::Dotenv => dotenv::parse_plain(bytes),
        Format::Ini => ini::parse_plain(bytes),
        Format::Binary => binary::parse_plain(bytes),
    }
}

/// Emits a whole plaintext document, as `sops decrypt` prints it.
pub fn emit(format: Format, tree: &Tree) -> Result<SecretBytes, EmitError> {
    match format {
        Format::Yaml => yaml::emit(tree),
        Format::Json => json::emit(tree),
        Format::Dotenv => dotenv::emit(tree),
        Format::Ini => ini::emit(tree),
        Format::Binary => binary::emit(tree),
    }
}

/// Writes a whole plaintext document to `w`, as [`emit`] gives it.
pub(crate) fn write(
    format: Format,
    tree: &Tree,
    w: &mut dyn std::io::Write,
) -> Result<(), EmitError> {
    match format {
        // Written as it is made: a large document never has all its text in memory.
        Format::Yaml => yaml::write(tree, w).map_err(EmitError::Write),
        Format::Json => json::write(tree, w),
        other => w
            .write_all(emit(other, tree)?.expose())
            .map_err(EmitError::Write),
    }
}

/// Emits one value that is not a string, as `sops decrypt --extract` prints it.
pub fn emit_value(format: Format, value: &Value) -> Result<SecretBytes, EmitError> {
    match format {
        Format::Yaml => yaml::emit_value(value),
        Format::Json => json::emit_value(value),
        Format::Dotenv => dotenv::emit_value(value),
        Format::Ini => ini::emit_value(value),
        Format::Binary => binary::emit_value(value),
    }
}
