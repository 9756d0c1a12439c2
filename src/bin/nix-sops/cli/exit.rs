//! Exit codes, as the Go sops uses them (`cmd/sops/codes`), so scripts written for sops keep
//! working.

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

/// An error on its way to the user: the message (already naming the culprit) and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// Prints `nix-sops: <message>` and returns the exit code.
    pub fn report(&self) -> std::process::ExitCode {
        eprintln!("nix-sops: {}", self.message);
        std::process::ExitCode::from(self.code)
    }
}
