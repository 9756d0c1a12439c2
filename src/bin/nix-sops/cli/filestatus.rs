//! `nix-sops filestatus`: is a file encrypted by sops? Prints `{"encrypted":true}` or
//! `{"encrypted":false}` as `sops filestatus` does (pre-commit hooks parse it).

use crate::cli::exit::CliError;
use nix_sops::secret::SecretBytes;
use nix_sops::sops::{self, LoadError};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  nix-sops filestatus secrets.yaml      # {\"encrypted\":true}
  nix-sops filestatus --input-type json config.txt

A file is encrypted when it has a sops block with a version and a MAC. Exit 1 when the file cannot
be read or parsed, 100 when no file is given (as sops).")]
pub struct FileStatusArgs {
    /// Input format (yaml, json, dotenv, ini, binary); by default from the file extension.
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    /// The file to check.
    pub file: Option<PathBuf>,
}

/// Whether `bytes` hold a sops-encrypted file of `format`: sops' `cfs`. `Err` for a file that
/// cannot be parsed at all.
pub fn is_encrypted(format: sops::Format, bytes: &[u8]) -> Result<bool, LoadError> {
    match sops::load(format, bytes) {
        Ok(file) => Ok(!file.metadata.version.is_empty() && !file.metadata.mac.is_empty()),
        Err(LoadError::NoMetadata) => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn run(args: FileStatusArgs) -> anyhow::Result<()> {
    let Some(file) = args.file else {
        return Err(anyhow::Error::from(CliError::NoFile(String::from(
            "Error: no file specified",
        ))));
    };
    let format = crate::cli::input_format(args.input_type.as_deref(), &file)?;
    let shown = file.display();
    let fail = |m: String| anyhow::Error::msg(format!("cannot check file status of {shown}: {m}"));
    // The file may be plaintext: its bytes are wiped when dropped.
    let bytes = std::fs::read(&file)
        .map(SecretBytes::new)
        .map_err(|e| fail(e.to_string()))?;
    let encrypted = is_encrypted(format, bytes.expose()).map_err(|e| fail(e.to_string()))?;
    println!("{{\"encrypted\":{encrypted}}}");
    Ok(())
}
