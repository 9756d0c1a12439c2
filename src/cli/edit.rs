//! `nix-sops edit`: decrypt into a private temporary file, run the editor, encrypt again with the
//! same data key and keys (a new file gets its keys from the flags or `.sops.yaml`).

use crate::cli::decrypt::{data_key, decrypt_loaded, load_file};
use crate::cli::encrypt::{encrypt_bytes, EncryptArgs};
use crate::cli::exit::{self, Failure};
use crate::secret::SecretBytes;
use crate::sops::encrypt::{emit_encrypted, seal};
use crate::sops::{stores, DecryptOptions, PlainTree};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// sops' exit code when the editor left the file as it was.
const FILE_HAS_NOT_BEEN_MODIFIED: u8 = 200;
/// sops' exit code when no editor can be found.
const NO_EDITOR_FOUND: u8 = 201;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  nix-sops edit nixos/secrets/secrets.yaml
  EDITOR=nano nix-sops edit secrets.env

The plaintext is written to a private directory (mode 0700) under $XDG_RUNTIME_DIR (a tmpfs on
systemd machines), else /dev/shm, else $TMPDIR, and removed when the editor exits. The editor is
$SOPS_EDITOR, else $EDITOR, else vim, nano or vi. Exit 200 when nothing changed (as sops).")]
pub struct EditArgs {
    /// Input format; by default from the file extension.
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    #[command(flatten)]
    pub keys: crate::cli::KeyArgs,
    /// For a new file: age recipients (else .sops.yaml).
    #[arg(long, value_name = "RECIPIENTS")]
    pub age: Vec<String>,
    /// For a new file: PGP fingerprints (else .sops.yaml).
    #[arg(long, value_name = "FINGERPRINTS")]
    pub pgp: Vec<String>,
    /// The SOPS file (created if it does not exist).
    pub file: PathBuf,
}

/// A private directory for the plaintext, on tmpfs where there is one; removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch, Failure> {
        let bases = [
            std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
            Some(PathBuf::from("/dev/shm")),
            Some(std::env::temp_dir()),
        ];
        for base in bases.into_iter().flatten().filter(|b| b.is_dir()) {
            let dir = base.join(format!("nix-sops-edit-{}", std::process::id()));
            if std::fs::DirBuilder::new().mode(0o700).create(&dir).is_ok() {
                return Ok(Scratch(dir));
            }
        }
        Err(Failure::new(
            exit::GENERIC,
            "cannot create a private temporary directory for the plaintext",
        ))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Overwrite before unlinking: the directory may be on a disk after all.
        if let Ok(entries) = std::fs::read_dir(&self.0) {
            for e in entries.flatten() {
                if let Ok(len) = e.metadata().map(|m| m.len()) {
                    let _ = std::fs::write(e.path(), vec![0u8; len as usize]);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn editor() -> Result<Vec<String>, Failure> {
    for var in ["SOPS_EDITOR", "EDITOR"] {
        if let Some(cmd) = std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
            return shlex::split(&cmd)
                .filter(|w| !w.is_empty())
                .ok_or_else(|| Failure::new(exit::GENERIC, format!("${var} cannot be parsed")));
        }
    }
    for candidate in ["vim", "nano", "vi"] {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(candidate).is_file()))
            .unwrap_or(false);
        if found {
            return Ok(vec![candidate.into()]);
        }
    }
    Err(Failure::new(
        NO_EDITOR_FOUND,
        "no editor found: set $EDITOR (or $SOPS_EDITOR)",
    ))
}

/// Runs the editor on `bytes` and returns what the file holds afterwards.
fn edit_bytes(file: &Path, bytes: &[u8]) -> Result<SecretBytes, Failure> {
    let scratch = Scratch::new()?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "secrets".into());
    let tmp = scratch.0.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).map(|_| f))
        .map_err(|e| {
            Failure::new(
                exit::GENERIC,
                format!("cannot write the temporary file: {e}"),
            )
        })?;
    f.flush().ok();
    drop(f);
    let cmd = editor()?;
    let status = std::process::Command::new(&cmd[0])
        .args(&cmd[1..])
        .arg(&tmp)
        .status()
        .map_err(|e| Failure::new(NO_EDITOR_FOUND, format!("cannot run {}: {e}", cmd[0])))?;
    if !status.success() {
        return Err(Failure::new(
            exit::GENERIC,
            format!(
                "the editor {} failed ({status}); nothing was changed",
                cmd[0]
            ),
        ));
    }
    std::fs::read(&tmp)
        .map(SecretBytes::new)
        .map_err(|e| Failure::new(exit::GENERIC, format!("cannot read the edited file: {e}")))
}

pub fn run(args: EditArgs) -> Result<(), Failure> {
    let format = crate::cli::input_format(args.input_type.as_deref(), &args.file)?;
    let shown = args.file.display().to_string();

    if !args.file.exists() {
        // A new file: edit an empty document, then encrypt it as `encrypt` would.
        let edited = edit_bytes(&args.file, b"")?;
        let enc_args = EncryptArgs {
            age: args.age.clone(),
            pgp: args.pgp.clone(),
            types: crate::cli::FormatArgs {
                input_type: Some(format.name().into()),
                output_type: None,
            },
            unencrypted_suffix: None,
            encrypted_suffix: None,
            unencrypted_regex: None,
            encrypted_regex: None,
            shamir_threshold: None,
            config: None,
            in_place: false,
            file: args.file.clone(),
        };
        let out = encrypt_bytes(&enc_args, format, format, edited.expose())?;
        return crate::cli::write_replacing(&args.file, &out);
    }

    // Keep the metadata (keys and crypt rule) and the data key: only values change.
    let encrypted = load_file(&args.file, format)?;
    let metadata = encrypted.metadata.clone();
    let ring = args.keys.keyring();
    let key = data_key(&args.file, &encrypted, &ring)?;
    drop(ring);
    let plain = decrypt_loaded(&args.file, encrypted, &key, DecryptOptions::default())?;
    let before = plain
        .emit(format)
        .map_err(|e| Failure::new(exit::ERROR_DUMPING_TREE, format!("{shown}: {e}")))?;
    drop(plain);
    let edited = edit_bytes(&args.file, before.expose())?;
    if edited.expose() == before.expose() {
        return Err(Failure::new(
            FILE_HAS_NOT_BEEN_MODIFIED,
            format!("{shown}: file has not been modified"),
        ));
    }
    let tree = stores::parse_plain(format, edited.expose()).map_err(|e| {
        Failure::new(
            exit::GENERIC,
            format!("{shown}: the edited file is not valid {format}: {e}; nothing was changed"),
        )
    })?;
    let file = seal(PlainTree { format, tree }, metadata, &key)
        .map_err(|e| Failure::new(exit::GENERIC, format!("{shown}: {e}")))?;
    let out = emit_encrypted(&file)
        .map_err(|e| Failure::new(exit::ERROR_DUMPING_TREE, format!("{shown}: {e}")))?;
    crate::cli::write_replacing(&args.file, &out)
}
