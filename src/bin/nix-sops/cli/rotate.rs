//! `nix-sops rotate`: a new data key for a file (after someone leaves), every value encrypted
//! again, a new MAC; optionally adding or removing age/PGP keys on the way, as `sops rotate` does.

use crate::cli::encrypt::split_list;
use crate::cli::exit::{self, CliError};
use crate::cli::set::{open, seal_to_bytes, Opened};
use anyhow::Context;
use nix_sops::keys::{new_data_key, wrap_age, wrap_pgp};
use nix_sops::secret::SecretBytes;
use nix_sops::sops::{DataKey, KeyGroup, MasterKey};
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  nix-sops rotate -i secrets.yaml
  nix-sops rotate -i --rm-age age1old… --add-age age1new… secrets.yaml
  nix-sops rotate --output rotated.yaml secrets.yaml

New keys go into the first key group; removed keys are removed from every group. Identities for
the old data key come from the usual sources (SOPS_AGE_KEY_FILE, …) and --identity/--ssh-key.")]
pub struct RotateArgs {
    /// Write the result over the input file instead of stdout.
    #[arg(short = 'i', long)]
    pub in_place: bool,
    /// Write the result to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub types: crate::cli::FormatArgs,
    /// age recipients to add (comma-separated).
    #[arg(long, value_name = "RECIPIENTS")]
    pub add_age: Option<String>,
    /// age recipients to remove (comma-separated).
    #[arg(long, value_name = "RECIPIENTS")]
    pub rm_age: Option<String>,
    /// PGP fingerprints to add (comma-separated).
    #[arg(long, value_name = "FINGERPRINTS")]
    pub add_pgp: Option<String>,
    /// PGP fingerprints to remove (comma-separated).
    #[arg(long, value_name = "FINGERPRINTS")]
    pub rm_pgp: Option<String>,
    /// Use this file name (not FILE's) to determine the input and output types.
    #[arg(long, value_name = "NAME")]
    pub filename_override: Option<PathBuf>,
    #[command(flatten)]
    pub keys: LongKeyArgs,
    /// The SOPS file.
    pub file: Option<PathBuf>,
}

/// `--identity`/`--ssh-key` without the `-i` short flag, which `rotate` and `groups` use for
/// `--in-place` as sops does.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LongKeyArgs {
    /// An age identity file (AGE-SECRET-KEY-1… lines, or `age -p` encrypted); may be repeated.
    #[arg(long = "identity", value_name = "FILE")]
    pub identities: Vec<PathBuf>,
    /// An SSH private key to decrypt with; may be repeated.
    #[arg(long = "ssh-key", value_name = "FILE")]
    pub ssh_keys: Vec<PathBuf>,
    /// Key types in the order to try them within a key group, comma-separated (default
    /// age,pgp); overrides $SOPS_DECRYPTION_ORDER.
    #[arg(long, value_name = "TYPES")]
    pub decryption_order: Option<String>,
}

impl LongKeyArgs {
    pub fn key_args(&self) -> crate::cli::KeyArgs {
        crate::cli::KeyArgs {
            identities: self.identities.clone(),
            ssh_keys: self.ssh_keys.clone(),
            decryption_order: self.decryption_order.clone(),
        }
    }
}

/// The master keys of `--add-age`/`--add-pgp` (or the `rm` pair, or `groups add`'s
/// `--age`/`--pgp`; each value comma-separated), checked as sops checks them.
pub fn master_keys(age: &[String], pgp: &[String]) -> anyhow::Result<Vec<MasterKey>> {
    let mut out = Vec::new();
    for fp in split_list(pgp) {
        out.push(MasterKey::Pgp {
            fingerprint: fp,
            created_at: nix_sops::sops::now_rfc3339(),
            enc: String::new(),
        });
    }
    for r in split_list(age) {
        if !(r.starts_with("age1") || r.starts_with("ssh-")) {
            return Err(anyhow::Error::msg(format!(
                "{r:?} is not an age recipient (age1…) or an SSH public key"
            )));
        }
        out.push(MasterKey::Age {
            recipient: r,
            enc: String::new(),
        });
    }
    Ok(out)
}

/// What sops compares keys by when removing them (`MasterKey.ToString`).
fn identifies(k: &MasterKey) -> String {
    match k {
        MasterKey::Age { recipient, .. } => recipient.clone(),
        MasterKey::Pgp { fingerprint, .. } => fingerprint.clone(),
        MasterKey::Other { id, .. } => id.clone(),
    }
}

/// sops' `UpdateMasterKeys`: wraps `key` (or, with several groups, one Shamir share per group)
/// for every master key, in place and in the file's order. Several groups without a threshold
/// get a threshold of all groups, as sops sets it.
pub fn rewrap(key: &DataKey, groups: &mut [KeyGroup], threshold: &mut usize) -> anyhow::Result<()> {
    let fail = |m: String| anyhow::Error::msg(m);
    if groups.is_empty() {
        return Err(fail("no key groups: the file would have no keys".into()));
    }
    let whole = SecretBytes::new(key.as_array().to_vec());
    let parts: Vec<SecretBytes> = if groups.len() == 1 {
        vec![whole]
    } else {
        if *threshold == 0 {
            *threshold = groups.len();
        }
        nix_sops::keys::shamir_split(whole.expose(), groups.len(), *threshold).map_err(|e| {
            fail(format!(
                "could not split data key into parts for Shamir ({} groups, threshold {threshold}): {e}",
                groups.len()
            ))
        })?
    };
    for (i, (group, part)) in groups.iter_mut().zip(&parts).enumerate() {
        if group.is_empty() {
            return Err(fail(format!(
                "key group {i} would be empty: keep at least one key in it, or delete the group \
                 (`nix-sops groups delete`)"
            )));
        }
        for k in group.iter_mut() {
            match k {
                MasterKey::Age { recipient, enc } => {
                    *enc = wrap_age(recipient, part).map_err(|e| fail(e.to_string()))?;
                }
                MasterKey::Pgp {
                    fingerprint, enc, ..
                } => {
                    *enc = wrap_pgp(fingerprint, part).map_err(|e| fail(e.to_string()))?;
                }
                MasterKey::Other { kind, id } => {
                    return Err(fail(format!(
                        "cannot encrypt the new data key to the {kind} key {id}: nix-sops only \
                         speaks age and PGP (use the Go sops for files with cloud keys)"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Writes `out` to stdout, or over/into a file.
pub fn deliver(
    out: &[u8],
    in_place: Option<&std::path::Path>,
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    if let Some(path) = in_place {
        return crate::cli::write_replacing(path, out)
            .map_err(|e| CliError::WriteOutput(exit::message(&e)).into());
    }
    if let Some(path) = output {
        return std::fs::write(path, out).map_err(|e| {
            anyhow::Error::from(CliError::WriteOutput(format!(
                "{}: could not open output file for writing: {e}",
                path.display()
            )))
        });
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out)
        .and_then(|_| stdout.flush())
        .map_err(|e| anyhow::Error::msg(format!("cannot write to stdout: {e}")))
}

pub fn run(args: RotateArgs) -> anyhow::Result<()> {
    let Some(file) = args.file.clone() else {
        return Err(anyhow::Error::from(CliError::NoFile(String::from(
            "Error: no file specified",
        ))));
    };
    if args.in_place && args.output.is_some() {
        return Err(anyhow::Error::from(CliError::ConflictingParameters(
            String::from("Error: cannot operate on both --output and --in-place"),
        )));
    }
    let changes_keys = [&args.add_age, &args.rm_age, &args.add_pgp, &args.rm_pgp]
        .iter()
        .any(|v| v.as_deref().is_some_and(|s| !s.is_empty()));
    if changes_keys && !file.exists() {
        return Err(anyhow::Error::from(CliError::KeysOfMissingFile(format!(
                "Error: cannot add or remove keys on non-existent file {:?}, use the `edit` subcommand instead.",
                file.display().to_string()
            ))));
    }
    let typed = args.filename_override.as_deref().unwrap_or(&file);
    let (input, output) = args.types.resolve(typed)?;
    let add = master_keys(args.add_age.as_slice(), args.add_pgp.as_slice())?;
    let remove = master_keys(args.rm_age.as_slice(), args.rm_pgp.as_slice())?;

    let Opened {
        mut metadata,
        key: old_key,
        plain,
    } = open(&file, input, &args.keys.key_args(), false)?;
    drop(old_key);
    if let Some(first) = metadata.key_groups.first_mut() {
        first.extend(add);
    }
    let gone: Vec<String> = remove.iter().map(identifies).collect();
    for group in &mut metadata.key_groups {
        group.retain(|k| !gone.contains(&identifies(k)));
    }
    // A fresh random key (wrapped for no one yet: `rewrap` keeps the file's key order).
    let (key, _) = new_data_key(&[], 0)
        .map_err(|e| anyhow::Error::msg(format!("could not generate data key: {e}")))?;
    let mut threshold = metadata.shamir_threshold;
    rewrap(&key, &mut metadata.key_groups, &mut threshold)
        .with_context(|| format!("{}: could not generate data key", file.display()))?;
    metadata.shamir_threshold = threshold;
    let out = seal_to_bytes(&file, output, plain, metadata, &key)?;
    deliver(
        &out,
        args.in_place.then_some(file.as_path()),
        args.output.as_deref(),
    )
}
