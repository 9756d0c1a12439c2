//! The `nix-sops` command line: one module per subcommand, each a thin layer over the library.

pub mod completions;
pub mod decrypt;
pub mod edit;
pub mod encrypt;
pub mod exec;
pub mod exit;
pub mod filestatus;
pub mod groups;
pub mod install;
pub mod keygen;
pub mod rotate;
pub mod set;
pub mod ssh_to_age;
pub mod tty;
pub mod updatekeys;

/// The identities a command may decrypt with, beyond the SOPS environment sources.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct KeyArgs {
    /// An age identity file (AGE-SECRET-KEY-1… lines, or encrypted with `age -p`: the
    /// passphrase is asked on the terminal); may be repeated.
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    pub identities: Vec<std::path::PathBuf>,
    /// An SSH private key: used as an age ssh identity and, for ed25519, converted to an age
    /// X25519 identity as ssh-to-age does; may be repeated.
    #[arg(long = "ssh-key", value_name = "FILE")]
    pub ssh_keys: Vec<std::path::PathBuf>,
    /// Key types in the order to try them within a key group, comma-separated (default
    /// age,pgp); overrides $SOPS_DECRYPTION_ORDER.
    #[arg(long, value_name = "TYPES")]
    pub decryption_order: Option<String>,
}

impl KeyArgs {
    /// Every identity source sops knows, plus these flags. A passphrase-encrypted identity file
    /// (`age -p`) asks for its passphrase on the terminal.
    pub fn keyring(&self) -> nix_sops::keys::Keyring {
        let mut ring = nix_sops::keys::from_sops_env_prompting(
            &self.identities,
            &self.ssh_keys,
            tty::ask_passphrase,
        );
        if let Some(order) = &self.decryption_order {
            match nix_sops::keys::parse_decryption_order(order) {
                Ok(o) => ring.decryption_order = o,
                Err(e) => ring.load_errors.push(e.prefixed("--decryption-order")),
            }
        }
        ring
    }

    /// sops refuses a `--decryption-order` that names a type twice, before anything else.
    pub fn check_decryption_order(&self) -> anyhow::Result<()> {
        match self
            .decryption_order
            .as_deref()
            .map(nix_sops::keys::parse_decryption_order)
        {
            // DUPLICATE_DECRYPTION_KEY_TYPE, from the KeyError: `exit::code`.
            Some(Err(e)) => Err(e.prefixed("--decryption-order").into()),
            _ => Ok(()),
        }
    }
}

/// The creation rule of `.sops.yaml` (`config`, else found from the current directory upwards)
/// that matches `file`.
pub fn creation_rule(
    config: Option<&std::path::Path>,
    file: &std::path::Path,
) -> anyhow::Result<nix_sops::config::CreationRule> {
    let fail = |m: String| anyhow::Error::msg(m);
    let path = match config {
        Some(p) => p.to_path_buf(),
        None => {
            let cwd = std::env::current_dir()
                .map_err(|e| fail(format!("cannot read the current directory: {e}")))?;
            nix_sops::config::find(&cwd).ok_or_else(|| {
                fail("no .sops.yaml found in this directory or above: create one with creation_rules, or pass the keys as flags".into())
            })?
        }
    };
    let bytes =
        std::fs::read(&path).map_err(|e| fail(format!("{}: cannot read: {e}", path.display())))?;
    let tree = nix_sops::sops::parse_plain(nix_sops::sops::Format::Yaml, &bytes)
        .map_err(|e| fail(format!("{}: {e}", path.display())))?;
    nix_sops::config::rule_for(&path, &tree, file).map_err(|e| fail(e.to_string()))
}

/// `--input-type` and `--output-type`, as `decrypt` and `encrypt` take them.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct FormatArgs {
    /// Input format (yaml, json, dotenv, ini, binary); by default from the file extension.
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    /// Output format; by default the input format.
    #[arg(long, value_name = "TYPE")]
    pub output_type: Option<String>,
}

impl FormatArgs {
    /// The input format of `file` and the output format.
    pub fn resolve(
        &self,
        file: &std::path::Path,
    ) -> anyhow::Result<(nix_sops::sops::Format, nix_sops::sops::Format)> {
        let input = input_format(self.input_type.as_deref(), file)?;
        let output = format_arg("--output-type", self.output_type.as_deref(), input)?;
        Ok((input, output))
    }
}

/// The format of `file`: `--input-type` when given, else what its extension implies.
pub fn input_format(
    input_type: Option<&str>,
    file: &std::path::Path,
) -> anyhow::Result<nix_sops::sops::Format> {
    format_arg(
        "--input-type",
        input_type,
        nix_sops::sops::Format::from_path(file),
    )
}

/// A `--input-type`/`--output-type` value, or the format the file's extension implies.
pub fn format_arg(
    flag: &str,
    value: Option<&str>,
    default: nix_sops::sops::Format,
) -> anyhow::Result<nix_sops::sops::Format> {
    match value {
        None => Ok(default),
        Some(name) => nix_sops::sops::Format::from_name(name).ok_or_else(|| {
            anyhow::Error::msg(format!(
                "{flag} {name:?} is not one of yaml, json, dotenv, ini, binary"
            ))
        }),
    }
}

/// Writes `bytes` to `path`, a new file (an existing one is never overwritten) with `mode`.
/// `cannot_create` says what failed when it cannot be created (`cannot create key file`).
pub fn write_new_file(
    path: &std::path::Path,
    mode: u32,
    bytes: &[u8],
    cannot_create: &str,
) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |what: &str, e: std::io::Error| {
        anyhow::Error::msg(format!("{}: {what}: {e}", path.display()))
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| fail(cannot_create, e))?;
    f.write_all(bytes).map_err(|e| fail("cannot write", e))
}

/// Replaces `path` atomically with `bytes` (a temporary file beside it, renamed over), keeping
/// the original file's mode.
pub fn write_replacing(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_replacing_with(path, |w| {
        w.write_all(bytes)
            .map_err(|e| anyhow::Error::msg(format!("{}: cannot write: {e}", path.display())))
    })
}

/// [`write_replacing`] with the content written by `write` (so a large output need not be in
/// memory whole first).
pub fn write_replacing_with(
    path: &std::path::Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let fail =
        |e: std::io::Error| anyhow::Error::msg(format!("{}: cannot write: {e}", path.display()));
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o600);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.nix-sops-{}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(fail)?;
    let mut w = std::io::BufWriter::with_capacity(64 * 1024, f);
    let res = write(&mut w).and_then(|()| {
        w.into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(fail)
    });
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}
