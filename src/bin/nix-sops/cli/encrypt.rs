//! `nix-sops encrypt`: a new SOPS file that the Go sops (and sops-nix) read, from a plaintext
//! file, with keys from the flags or the matching `.sops.yaml` creation rule.

use crate::cli::exit::CliError;
use nix_sops::config;
use nix_sops::keys::{new_data_key, Recipient};
use nix_sops::secret::SecretBytes;
use nix_sops::sops::{emit_encrypted_owned, seal, write_encrypted_owned};
use nix_sops::sops::{CryptRule, EncryptedFile, Format, Metadata, PlainTree};
use nix_sops::sops::{MapItem, Tree};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The sops version nix-sops writes files as: the format it reproduces.
pub const SOPS_FORMAT_VERSION: &str = "3.11.0";

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  nix-sops encrypt --age age1… secrets.yaml > secrets.enc.yaml
  nix-sops encrypt -i nixos/secrets/secrets.yaml        # keys from .sops.yaml, in place
  nix-sops encrypt --encrypted-regex '^(data|stringData)$' --age age1… k8s.yaml

Without --age/--pgp the keys come from the first creation rule in .sops.yaml (searched from the
current directory upwards) whose path_regex matches the file.")]
pub struct EncryptArgs {
    /// age recipients (age1…, or ssh-ed25519/ssh-rsa public keys), comma-separated; repeatable.
    #[arg(long, value_name = "RECIPIENTS")]
    pub age: Vec<String>,
    /// PGP fingerprints, comma-separated; repeatable (encrypted with the gpg binary).
    #[arg(long, value_name = "FINGERPRINTS")]
    pub pgp: Vec<String>,
    #[command(flatten)]
    pub types: crate::cli::FormatArgs,
    /// Leave values whose key ends with SUFFIX unencrypted (the default is `_unencrypted`).
    #[arg(long, value_name = "SUFFIX", group = "rule")]
    pub unencrypted_suffix: Option<String>,
    /// Encrypt only values whose key ends with SUFFIX.
    #[arg(long, value_name = "SUFFIX", group = "rule")]
    pub encrypted_suffix: Option<String>,
    /// Leave values whose key matches REGEX unencrypted.
    #[arg(long, value_name = "REGEX", group = "rule")]
    pub unencrypted_regex: Option<String>,
    /// Encrypt only values whose key matches REGEX.
    #[arg(long, value_name = "REGEX", group = "rule")]
    pub encrypted_regex: Option<String>,
    /// Number of key groups needed to decrypt, when there are several.
    #[arg(long = "shamir-secret-sharing-threshold", value_name = "N")]
    pub shamir_threshold: Option<usize>,
    /// The .sops.yaml to use instead of searching for one.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write the result over the input file instead of stdout.
    #[arg(short = 'i', long)]
    pub in_place: bool,
    /// The plaintext file.
    pub file: PathBuf,
}

/// Repeated, comma-separated values (`--age a,b --age c`), trimmed, empty ones dropped.
pub fn split_list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn already_encrypted(format: Format, tree: &Tree) -> bool {
    tree.branches.iter().flatten().any(|item| match item {
        MapItem::Entry(k, _) => match format {
            Format::Dotenv => k.starts_with("sops_"),
            _ => k == "sops",
        },
        MapItem::Comment(_) => false,
    })
}

/// Keys, threshold, crypt rule and flags for `file`: from the command line, else `.sops.yaml`.
pub fn plan(args: &EncryptArgs, file: &Path) -> anyhow::Result<config::CreationRule> {
    let flag_rule = [
        ("unencrypted_suffix", &args.unencrypted_suffix),
        ("encrypted_suffix", &args.encrypted_suffix),
        ("unencrypted_regex", &args.unencrypted_regex),
        ("encrypted_regex", &args.encrypted_regex),
    ]
    .into_iter()
    .find_map(|(name, v)| v.as_ref().map(|v| (name, v.clone())))
    .map(|(name, v)| CryptRule::from_field(name, &v))
    .transpose()
    .map_err(|e| anyhow::Error::msg(e.to_string()))?;

    let age = split_list(&args.age);
    let pgp = split_list(&args.pgp);
    let mut rule = if age.is_empty() && pgp.is_empty() {
        crate::cli::creation_rule(args.config.as_deref(), file)?
    } else {
        let mut group: Vec<Recipient> = pgp.into_iter().map(Recipient::Pgp).collect();
        group.extend(age.into_iter().map(Recipient::Age));
        config::CreationRule {
            key_groups: vec![group],
            shamir_threshold: 0,
            crypt_rule: None,
            mac_only_encrypted: false,
        }
    };
    if flag_rule.is_some() {
        rule.crypt_rule = flag_rule;
    }
    if let Some(t) = args.shamir_threshold {
        rule.shamir_threshold = t;
    }
    Ok(rule)
}

/// Encrypts the plaintext `bytes` of `file` and returns the encrypted file's bytes.
/// `rule`: the keys and crypt rule, when the caller has already looked them up ([`plan`]).
pub fn encrypt_bytes(
    args: &EncryptArgs,
    rule: Option<config::CreationRule>,
    input: Format,
    output: Format,
    bytes: &[u8],
) -> anyhow::Result<Vec<u8>> {
    let tree = parse(args, input, bytes)?;
    let file = seal_tree(args, rule, input, output, tree)?;
    emit_encrypted_owned(file).map_err(|e| {
        anyhow::Error::from(CliError::DumpTree(format!("{}: {e}", args.file.display())))
    })
}

fn parse(args: &EncryptArgs, input: Format, bytes: &[u8]) -> anyhow::Result<Tree> {
    nix_sops::sops::parse_plain(input, bytes)
        .map_err(|e| anyhow::Error::msg(format!("{}: {e}", args.file.display())))
}

/// Encrypts a parsed plaintext `tree` (read as `input`) for `output`, with `rule` or, when it is
/// `None`, the one [`plan`] finds.
fn seal_tree(
    args: &EncryptArgs,
    rule: Option<config::CreationRule>,
    input: Format,
    output: Format,
    tree: Tree,
) -> anyhow::Result<EncryptedFile> {
    let shown = args.file.display();
    if already_encrypted(input, &tree) {
        return Err(anyhow::Error::from(CliError::AlreadyEncrypted(format!(
            "{shown}: the file already has a sops block: it is encrypted already"
        ))));
    }
    let rule = match rule {
        Some(rule) => rule,
        None => plan(args, &args.file)?,
    };
    let (key, key_groups) = new_data_key(&rule.key_groups, rule.shamir_threshold)
        .map_err(|e| anyhow::Error::msg(e.to_string()))?;
    let metadata = Metadata {
        shamir_threshold: rule.shamir_threshold,
        key_groups,
        lastmodified: String::new(),
        mac: String::new(),
        crypt_rule: rule.crypt_rule.unwrap_or_default(),
        mac_only_encrypted: rule.mac_only_encrypted,
        version: SOPS_FORMAT_VERSION.into(),
    };
    let file = seal(
        PlainTree {
            format: output,
            tree,
        },
        metadata,
        &key,
    )
    .map_err(|e| anyhow::Error::msg(format!("{shown}: {e}")))?;
    Ok(file)
}

pub fn run(args: EncryptArgs) -> anyhow::Result<()> {
    let (input, output) = args.types.resolve(&args.file)?;
    let bytes = SecretBytes::new(std::fs::read(&args.file).map_err(|e| {
        anyhow::Error::from(CliError::ReadInput(format!(
            "{}: cannot read: {e}",
            args.file.display()
        )))
    })?);
    let tree = parse(&args, input, bytes.expose())?;
    // The plaintext text is not needed once parsed: give its memory back before encrypting.
    drop(bytes);
    let file = seal_tree(&args, None, input, output, tree)?;
    let dump = |e| anyhow::Error::from(CliError::DumpTree(format!("{}: {e}", args.file.display())));
    if args.in_place {
        crate::cli::write_replacing_with(&args.file, |w| {
            write_encrypted_owned(file, w).map_err(dump)
        })
    } else {
        // Written as it is made: the output is never all in memory next to the tree.
        let mut stdout = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
        write_encrypted_owned(file, &mut stdout).map_err(dump)?;
        stdout
            .flush()
            .map_err(|e| anyhow::Error::msg(format!("cannot write to stdout: {e}")))
    }
}
