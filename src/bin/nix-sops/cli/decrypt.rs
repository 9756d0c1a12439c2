//! `nix-sops decrypt`: `sops decrypt` with the same output and exit codes.

use crate::cli::exit::{self, Failure};
use nix_sops::keys::Keyring;
use nix_sops::secret::SecretBytes;
use nix_sops::sops::{
    self, DecryptError, DecryptOptions, EmitError, Format, PlainTree, Tree, Value,
};
use nix_sops::sops::{lookup, parse_extract, Found};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  nix-sops decrypt secrets.yaml
  nix-sops decrypt --extract '[\"db\"][\"password\"]' secrets.yaml
  SOPS_AGE_KEY_FILE=key.txt nix-sops decrypt --output-type json secrets.yaml
  nix-sops decrypt --ssh-key /etc/ssh/ssh_host_ed25519_key secrets.yaml

Keys are found as sops finds them: SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD,
SOPS_AGE_SSH_PRIVATE_KEY_FILE, ~/.config/sops/age/keys.txt, ~/.ssh/id_ed25519, ~/.ssh/id_rsa,
GnuPG (GNUPGHOME, SOPS_GPG_EXEC), plus --identity and --ssh-key.

Exit codes: 0 ok, 51 MAC mismatch, 128 no key could decrypt the data key, 2 unreadable file, 100 no such file,
25 a value could not be decrypted, 1 anything else.")]
pub struct DecryptArgs {
    /// Print only this part of the tree, e.g. '["a"]["b"][0]'. A string is printed raw.
    #[arg(long, value_name = "PATH")]
    pub extract: Option<String>,
    #[command(flatten)]
    pub types: crate::cli::FormatArgs,
    /// Do not fail when the MAC does not match.
    #[arg(long)]
    pub ignore_mac: bool,
    #[command(flatten)]
    pub keys: crate::cli::KeyArgs,
    /// The SOPS file.
    pub file: PathBuf,
}

/// Reads and parses one encrypted file (sops' load step, with its exit codes).
pub fn load_file(file: &Path, format: Format) -> Result<sops::EncryptedFile, Failure> {
    let shown = file.display();
    if !file.exists() {
        // sops checks this first, with its own code.
        return Err(Failure::new(
            exit::NO_FILE_SPECIFIED,
            format!("{shown}: cannot operate on non-existent file"),
        ));
    }
    let bytes = std::fs::read(file).map_err(|e| {
        Failure::new(
            exit::COULD_NOT_READ_INPUT_FILE,
            format!("{shown}: cannot read: {e}"),
        )
    })?;
    let encrypted = sops::load(format, &bytes)
        .map_err(|e| Failure::new(exit::GENERIC, format!("{shown}: {e}")))?;
    check_version(&encrypted.metadata.version)
        .map_err(|e| Failure::new(exit::GENERIC, format!("{shown}: {e}")))?;
    Ok(encrypted)
}

/// Unwraps the data key of a loaded file.
pub fn data_key(
    file: &Path,
    encrypted: &sops::EncryptedFile,
    keyring: &Keyring,
) -> Result<sops::DataKey, Failure> {
    keyring.unwrap_data_key(&encrypted.metadata).map_err(|e| {
        Failure::new(
            exit::COULD_NOT_RETRIEVE_KEY,
            format!("{}: {e}", file.display()),
        )
    })
}

/// Decrypts a loaded file with its data key; errors carry sops' exit codes.
pub fn decrypt_loaded(
    file: &Path,
    encrypted: sops::EncryptedFile,
    key: &sops::DataKey,
    opts: DecryptOptions,
) -> Result<PlainTree, Failure> {
    encrypted.decrypt(key, opts).map_err(|e| {
        let code = match &e {
            // sops 3.11 reports a MAC it cannot decrypt as a mismatch too.
            DecryptError::Mac { .. } | DecryptError::MacValue(_) => exit::MAC_MISMATCH,
            DecryptError::LastModified(_) => exit::GENERIC,
            _ => exit::ERROR_DECRYPTING_TREE,
        };
        Failure::new(code, format!("{}: {e}", file.display()))
    })
}

/// Reads, unwraps the data key and decrypts one file.
pub fn decrypt_file(
    file: &Path,
    format: Format,
    keyring: &Keyring,
    opts: DecryptOptions,
) -> Result<PlainTree, Failure> {
    let encrypted = load_file(file, format)?;
    let key = data_key(file, &encrypted, keyring)?;
    decrypt_loaded(file, encrypted, &key, opts)
}

/// The sops CLI refuses a file whose `version` is not semantic versioning (it compares versions
/// to apply bug-fix migrations); the library, and so sops-nix, does not care.
fn check_version(v: &str) -> Result<(), String> {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |p: &&str| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && (p.len() == 1 || !p.starts_with('0'))
    };
    if v.starts_with("1.") || (parts.len() == 3 && parts.iter().all(numeric)) {
        Ok(())
    } else {
        Err(format!(
            "sops metadata version {:?} is not a semantic version (x.y.z)",
            v.chars().take(32).collect::<String>()
        ))
    }
}

/// What `sops decrypt --extract` prints for the value at a path.
fn extract(plain: &PlainTree, path_arg: &str, out: Format) -> Result<SecretBytes, Failure> {
    let comps = parse_extract(path_arg)
        .map_err(|e| Failure::new(exit::INVALID_TREE_PATH_FORMAT, e.to_string()))?;
    let found = lookup(&plain.tree, &comps)
        .map_err(|e| Failure::new(exit::GENERIC, format!("error truncating tree: {e}")))?;
    let dump = |e: sops::EmitError| Failure::new(exit::ERROR_DUMPING_TREE, e.to_string());
    match found {
        Found::Comment(c) => Ok(SecretBytes::new(c.expose().as_bytes().to_vec())),
        Found::Value(Value::Str(s)) => Ok(SecretBytes::new(s.expose().as_bytes().to_vec())),
        Found::Value(Value::Bytes(b)) => Ok(b.clone()),
        Found::Value(Value::Map(m)) => sops::emit(
            out,
            &Tree {
                branches: vec![m.clone()],
            },
        )
        .map_err(dump),
        Found::Value(v) => sops::emit_value(out, v).map_err(dump),
    }
}

pub fn run(args: DecryptArgs) -> Result<(), Failure> {
    args.keys.check_decryption_order()?;
    let (input, output) = args.types.resolve(&args.file)?;
    let keyring = args.keys.keyring();
    let plain = decrypt_file(
        &args.file,
        input,
        &keyring,
        DecryptOptions {
            ignore_mac: args.ignore_mac,
        },
    )?;
    drop(keyring);
    let mut stdout = std::io::stdout().lock();
    let written = match &args.extract {
        Some(p) => {
            let bytes = extract(&plain, p, output)?;
            stdout.write_all(bytes.expose()).map_err(EmitError::Write)
        }
        // Written as it is made: a large document's text is never all in memory.
        None => plain.write_to(output, &mut stdout),
    }
    .and_then(|()| stdout.flush().map_err(EmitError::Write));
    drop(plain);
    written.map_err(|e| match e {
        EmitError::Write(e) => Failure::new(exit::GENERIC, format!("cannot write to stdout: {e}")),
        e => Failure::new(
            exit::ERROR_DUMPING_TREE,
            format!("{}: {e}", args.file.display()),
        ),
    })
}
