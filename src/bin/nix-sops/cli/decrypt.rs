//! `nix-sops decrypt`: `sops decrypt` with the same output and exit codes.

use crate::cli::exit::CliError;
use anyhow::Context;
use nix_sops::keys::Keyring;
use nix_sops::secret::SecretBytes;
use nix_sops::sops::{self, DecryptOptions, EmitError, Format, PlainTree, Tree, Value};
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
pub fn load_file(file: &Path, format: Format) -> anyhow::Result<sops::EncryptedFile> {
    let shown = file.display();
    if !file.exists() {
        // sops checks this first, with its own code.
        return Err(anyhow::Error::from(CliError::NoFile(format!(
            "{shown}: cannot operate on non-existent file"
        ))));
    }
    let bytes = std::fs::read(file).map_err(|e| {
        anyhow::Error::from(CliError::ReadInput(format!("{shown}: cannot read: {e}")))
    })?;
    let encrypted =
        sops::load(format, &bytes).map_err(|e| anyhow::Error::msg(format!("{shown}: {e}")))?;
    check_version(&encrypted.metadata.version).with_context(|| shown.to_string())?;
    Ok(encrypted)
}

/// Unwraps the data key of a loaded file.
pub fn data_key(
    file: &Path,
    encrypted: &sops::EncryptedFile,
    keyring: &Keyring,
) -> anyhow::Result<sops::DataKey> {
    keyring
        .unwrap_data_key(&encrypted.metadata)
        .with_context(|| file.display().to_string())
}

/// Decrypts a loaded file with its data key; errors carry sops' exit codes.
pub fn decrypt_loaded(
    file: &Path,
    encrypted: sops::EncryptedFile,
    key: &sops::DataKey,
    opts: DecryptOptions,
) -> anyhow::Result<PlainTree> {
    // The exit code (MAC mismatch, …) comes from the DecryptError: `exit::code`.
    encrypted
        .decrypt(key, opts)
        .with_context(|| file.display().to_string())
}

/// Reads, unwraps the data key and decrypts one file.
pub fn decrypt_file(
    file: &Path,
    format: Format,
    keyring: &Keyring,
    opts: DecryptOptions,
) -> anyhow::Result<PlainTree> {
    let encrypted = load_file(file, format)?;
    let key = data_key(file, &encrypted, keyring)?;
    decrypt_loaded(file, encrypted, &key, opts)
}

/// The sops CLI refuses a file whose `version` is not semantic versioning (it compares versions
/// to apply bug-fix migrations); the library, and so sops-nix, does not care.
fn check_version(v: &str) -> anyhow::Result<()> {
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
        anyhow::bail!(
            "sops metadata version {:?} is not a semantic version (x.y.z)",
            v.chars().take(32).collect::<String>()
        )
    }
}

/// What `sops decrypt --extract` prints for the value at a path.
fn extract(plain: &PlainTree, path_arg: &str, out: Format) -> anyhow::Result<SecretBytes> {
    let comps = parse_extract(path_arg).map_err(anyhow::Error::from)?;
    let found = lookup(&plain.tree, &comps)
        .map_err(|e| anyhow::Error::msg(format!("error truncating tree: {e}")))?;
    // ERROR_DUMPING_TREE comes from the EmitError: `exit::code`.
    let dump = anyhow::Error::from;
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

pub fn run(args: DecryptArgs) -> anyhow::Result<()> {
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
        EmitError::Write(e) => anyhow::Error::msg(format!("cannot write to stdout: {e}")),
        e => anyhow::Error::from(e).context(args.file.display().to_string()),
    })
}
