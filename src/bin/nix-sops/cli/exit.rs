//! Exit codes, as the Go sops uses them (`cmd/sops/codes`), so scripts written for sops keep
//! working. Commands return `anyhow::Result`; [`code`] alone decides the exit code, from the
//! typed errors in the chain (the library's, or [`CliError`] for what only the command line
//! knows), and [`report`] prints `nix-sops: <message>`.

use nix_sops::keys::{KeyError, NoDataKey};
use nix_sops::sops::PathError;
use nix_sops::sops::{DecryptError, EmitError};

pub const GENERIC: u8 = 1;
pub const COULD_NOT_READ_INPUT_FILE: u8 = 2;
pub const COULD_NOT_WRITE_OUTPUT_FILE: u8 = 3;
pub const ERROR_DUMPING_TREE: u8 = 4;
pub const INVALID_SET_FORMAT: u8 = 7;
pub const CONFLICTING_PARAMETERS: u8 = 8;
pub const ERROR_DECRYPTING_TREE: u8 = 25;
pub const CANNOT_CHANGE_KEYS_FROM_NON_EXISTENT_FILE: u8 = 49;
pub const MAC_MISMATCH: u8 = 51;
pub const INVALID_TREE_PATH_FORMAT: u8 = 91;
pub const NO_FILE_SPECIFIED: u8 = 100;
pub const DUPLICATE_DECRYPTION_KEY_TYPE: u8 = 112;
pub const COULD_NOT_RETRIEVE_KEY: u8 = 128;
pub const FILE_HAS_NOT_BEEN_MODIFIED: u8 = 200;
pub const NO_EDITOR_FOUND: u8 = 201;
pub const FILE_ALREADY_ENCRYPTED: u8 = 203;

/// What the command line itself refuses or fails at, where no library error says it. Each
/// message names the culprit (file, flag, path).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// No file given, or it does not exist (sops' `NoFileSpecified`).
    #[error("{0}")]
    NoFile(String),
    /// The input file cannot be read.
    #[error("{0}")]
    ReadInput(String),
    /// The output file cannot be written.
    #[error("{0}")]
    WriteOutput(String),
    /// The tree cannot be written in the output format.
    #[error("{0}")]
    DumpTree(String),
    /// `set`/`unset`: the path or the JSON value is not valid.
    #[error("{0}")]
    InvalidSetFormat(String),
    /// Flags that exclude each other.
    #[error("{0}")]
    ConflictingParameters(String),
    /// Keys added to or removed from a file that does not exist.
    #[error("{0}")]
    KeysOfMissingFile(String),
    /// `encrypt`: the file already has a `sops` block.
    #[error("{0}")]
    AlreadyEncrypted(String),
    /// `edit`: the file was saved unchanged.
    #[error("{0}")]
    NotModified(String),
    /// `edit`: no editor could be run.
    #[error("{0}")]
    NoEditor(String),
    /// `updatekeys` of several files: some failed (each reported already); the code is the
    /// first failure's.
    #[error("some files could not be updated (see above)")]
    SomeFilesFailed { code: u8 },
    /// `exec-env`/`exec-file`: the command failed; nix-sops exits with its code, as sops does.
    #[error("{message}")]
    Command { code: u8, message: String },
}

impl CliError {
    fn code(&self) -> u8 {
        match self {
            CliError::NoFile(_) => NO_FILE_SPECIFIED,
            CliError::ReadInput(_) => COULD_NOT_READ_INPUT_FILE,
            CliError::WriteOutput(_) => COULD_NOT_WRITE_OUTPUT_FILE,
            CliError::DumpTree(_) => ERROR_DUMPING_TREE,
            CliError::InvalidSetFormat(_) => INVALID_SET_FORMAT,
            CliError::ConflictingParameters(_) => CONFLICTING_PARAMETERS,
            CliError::KeysOfMissingFile(_) => CANNOT_CHANGE_KEYS_FROM_NON_EXISTENT_FILE,
            CliError::AlreadyEncrypted(_) => FILE_ALREADY_ENCRYPTED,
            CliError::NotModified(_) => FILE_HAS_NOT_BEEN_MODIFIED,
            CliError::NoEditor(_) => NO_EDITOR_FOUND,
            CliError::SomeFilesFailed { code } | CliError::Command { code, .. } => *code,
        }
    }
}

/// sops' exit code for `err`: the first error in its chain (outermost first) that has one;
/// 1 when none has. Errors formatted into a message (`anyhow!("{e}")`) have no type left, and so
/// exit 1.
pub fn code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<CliError>() {
            return e.code();
        }
        if cause.is::<NoDataKey>() {
            return COULD_NOT_RETRIEVE_KEY;
        }
        if let Some(KeyError::DuplicateKeyType { .. }) = cause.downcast_ref::<KeyError>() {
            return DUPLICATE_DECRYPTION_KEY_TYPE;
        }
        if let Some(e) = cause.downcast_ref::<DecryptError>() {
            return match e {
                // sops 3.11 reports a MAC it cannot decrypt as a mismatch too.
                DecryptError::Mac { .. } | DecryptError::MacValue(_) => MAC_MISMATCH,
                DecryptError::LastModified(_) => GENERIC,
                _ => ERROR_DECRYPTING_TREE,
            };
        }
        if let Some(e) = cause.downcast_ref::<PathError>() {
            return match e {
                PathError::Unterminated(_) | PathError::BadComponent(_) => INVALID_TREE_PATH_FORMAT,
                // A well-formed path that the tree does not have.
                _ => GENERIC,
            };
        }
        if let Some(e) = cause.downcast_ref::<EmitError>() {
            return match e {
                EmitError::Write(_) => GENERIC,
                _ => ERROR_DUMPING_TREE,
            };
        }
    }
    GENERIC
}

/// The whole chain, outermost first, joined with `": "`. A cause its parent's message already
/// ends with is not repeated (the library's messages include their cause, as in
/// `cannot decrypt value at …: authentication failed`).
pub fn message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let m = cause.to_string();
        if !out.is_empty() && out.ends_with(&m) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&m);
    }
    out
}

/// Prints `nix-sops: <message>` and returns the exit code.
pub fn report(err: &anyhow::Error) -> std::process::ExitCode {
    eprintln!("nix-sops: {}", message(err));
    std::process::ExitCode::from(code(err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix_sops::sops::CipherError;

    fn no_data_key() -> NoDataKey {
        NoDataKey {
            attempts: Vec::new(),
            identities: Vec::new(),
            identity_verdicts: Vec::new(),
            load_errors: Vec::new(),
            summary: "no master key could be decrypted".into(),
        }
    }

    #[test]
    fn library_errors_map_to_sops_codes() {
        let cases: Vec<(anyhow::Error, u8)> = vec![
            (no_data_key().into(), COULD_NOT_RETRIEVE_KEY),
            (
                DecryptError::Mac {
                    stored: "a".into(),
                    computed: "b".into(),
                }
                .into(),
                MAC_MISMATCH,
            ),
            (
                DecryptError::MacValue(CipherError::Authentication).into(),
                MAC_MISMATCH,
            ),
            (DecryptError::LastModified("x".into()).into(), GENERIC),
            (
                DecryptError::NotUtf8 { path: "a".into() }.into(),
                ERROR_DECRYPTING_TREE,
            ),
            (
                KeyError::DuplicateKeyType {
                    prefix: String::new(),
                    key_type: "age".into(),
                }
                .into(),
                DUPLICATE_DECRYPTION_KEY_TYPE,
            ),
            (KeyError::Invalid("k: bad".into()).into(), GENERIC),
            (
                PathError::Unterminated("\"a\"".into()).into(),
                INVALID_TREE_PATH_FORMAT,
            ),
            (
                PathError::BadComponent("x".into()).into(),
                INVALID_TREE_PATH_FORMAT,
            ),
            (PathError::NotFound("a".into()).into(), GENERIC),
            (
                EmitError::Unsupported {
                    format: nix_sops::sops::Format::Dotenv,
                    message: "nested".into(),
                }
                .into(),
                ERROR_DUMPING_TREE,
            ),
            (
                EmitError::Write(std::io::Error::from_raw_os_error(libc::EPIPE)).into(),
                GENERIC,
            ),
            (anyhow::anyhow!("plain message"), GENERIC),
        ];
        for (e, want) in cases {
            assert_eq!(code(&e), want, "{}", message(&e));
        }
    }

    #[test]
    fn cli_errors_map_to_sops_codes() {
        let cases = [
            (CliError::NoFile(String::new()), NO_FILE_SPECIFIED),
            (
                CliError::ReadInput(String::new()),
                COULD_NOT_READ_INPUT_FILE,
            ),
            (
                CliError::WriteOutput(String::new()),
                COULD_NOT_WRITE_OUTPUT_FILE,
            ),
            (CliError::DumpTree(String::new()), ERROR_DUMPING_TREE),
            (
                CliError::InvalidSetFormat(String::new()),
                INVALID_SET_FORMAT,
            ),
            (
                CliError::ConflictingParameters(String::new()),
                CONFLICTING_PARAMETERS,
            ),
            (
                CliError::KeysOfMissingFile(String::new()),
                CANNOT_CHANGE_KEYS_FROM_NON_EXISTENT_FILE,
            ),
            (
                CliError::AlreadyEncrypted(String::new()),
                FILE_ALREADY_ENCRYPTED,
            ),
            (
                CliError::NotModified(String::new()),
                FILE_HAS_NOT_BEEN_MODIFIED,
            ),
            (CliError::NoEditor(String::new()), NO_EDITOR_FOUND),
            (CliError::SomeFilesFailed { code: 128 }, 128),
            (
                CliError::Command {
                    code: 42,
                    message: String::new(),
                },
                42,
            ),
        ];
        for (e, want) in cases {
            assert_eq!(code(&e.into()), want);
        }
    }

    #[test]
    fn context_keeps_the_code_and_formatting_drops_it() {
        let e = anyhow::Error::from(no_data_key()).context("secrets.yaml");
        assert_eq!(code(&e), COULD_NOT_RETRIEVE_KEY);
        assert!(message(&e).starts_with("secrets.yaml: failed to get the data key"));
        // groups: sops exits 1 there, so the message is kept and the type dropped.
        let flat = anyhow::Error::msg(message(&e));
        assert_eq!(code(&flat), GENERIC);
        // Through several layers of context.
        let e = anyhow::Error::from(CliError::NoFile(
            "a: cannot operate on non-existent file".into(),
        ))
        .context("a")
        .context("b");
        assert_eq!(code(&e), NO_FILE_SPECIFIED);
        assert_eq!(message(&e), "b: a: a: cannot operate on non-existent file");
    }

    #[test]
    fn a_cause_the_message_already_shows_is_not_repeated() {
        let e = anyhow::Error::from(DecryptError::Value {
            path: "a".into(),
            source: CipherError::Authentication,
        })
        .context("f.yaml");
        assert_eq!(
            message(&e),
            format!(
                "f.yaml: cannot decrypt value at a: {}",
                CipherError::Authentication
            )
        );
    }
}
