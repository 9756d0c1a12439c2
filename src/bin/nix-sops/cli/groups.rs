//! `nix-sops groups add|delete`: key groups (Shamir secret sharing) of a file, as `sops groups`.
//! The data key stays; it is split again over the new set of groups. Values, MAC and
//! `lastmodified` are left as they are (sops does not touch them either).

use crate::cli::decrypt::{data_key, load_file};
use crate::cli::exit::{self, CliError};
use crate::cli::rotate::{deliver, master_keys, rewrap, LongKeyArgs};
use anyhow::Context;
use nix_sops::sops::emit_encrypted_owned;
use nix_sops::sops::Format;
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum GroupsCommand {
    /// Add a new key group to a SOPS file.
    Add(AddArgs),
    /// Delete a key group (by its index, from 0) from a SOPS file.
    Delete(DeleteArgs),
}

/// What both subcommands take: the file and how to read, decrypt and write it.
#[derive(clap::Args, Debug)]
pub struct GroupFileArgs {
    /// The SOPS file.
    #[arg(short = 'f', long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Write the result over the file instead of stdout.
    #[arg(short = 'i', long)]
    pub in_place: bool,
    /// The number of key groups needed to decrypt (0: keep the file's).
    #[arg(
        long = "shamir-secret-sharing-threshold",
        value_name = "N",
        default_value_t = 0
    )]
    pub shamir_threshold: usize,
    /// Input format; by default from the file extension.
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    #[command(flatten)]
    pub keys: LongKeyArgs,
}

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  nix-sops groups add -i -f secrets.yaml --age age1… --age age1…
  nix-sops groups add -f secrets.yaml --pgp FINGERPRINT --shamir-secret-sharing-threshold 2")]
pub struct AddArgs {
    #[command(flatten)]
    pub common: GroupFileArgs,
    /// PGP fingerprints of the new group; may be repeated.
    #[arg(long, value_name = "FINGERPRINT")]
    pub pgp: Vec<String>,
    /// age recipients of the new group (comma-separated); may be repeated.
    #[arg(long, value_name = "RECIPIENT")]
    pub age: Vec<String>,
}

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  nix-sops groups delete -i -f secrets.yaml 1")]
pub struct DeleteArgs {
    #[command(flatten)]
    pub common: GroupFileArgs,
    /// The index of the group to delete (0 is the first).
    #[arg(value_name = "INDEX", num_args = 0..)]
    pub index: Vec<String>,
}

/// Loads `file`, changes its groups with `change`, wraps the same data key for the result and
/// writes it.
fn regroup(
    args: &GroupFileArgs,
    change: impl FnOnce(&mut Vec<nix_sops::sops::KeyGroup>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let keys = &args.keys;
    keys.key_args().check_decryption_order()?;
    let Some(file) = args.file.as_deref() else {
        return Err(anyhow::Error::from(CliError::ReadInput(String::from(
            "Error reading file: no file given (--file FILE)",
        ))));
    };
    let format: Format = crate::cli::input_format(args.input_type.as_deref(), file)?;
    let shown = file.display();
    if let Err(e) = std::fs::metadata(file) {
        return Err(anyhow::Error::from(CliError::ReadInput(format!(
            "Error reading file {shown}: {e}"
        ))));
    }
    let mut encrypted = load_file(file, format)?;
    let ring = keys.key_args().keyring();
    // sops' groups commands fail with its generic code when no key fits (not 128).
    let key =
        data_key(file, &encrypted, &ring).map_err(|e| anyhow::Error::msg(exit::message(&e)))?;
    drop(ring);
    let meta = &mut encrypted.metadata;
    change(&mut meta.key_groups)?;
    if args.shamir_threshold != 0 {
        meta.shamir_threshold = args.shamir_threshold;
    }
    if meta.key_groups.len() < meta.shamir_threshold {
        return Err(anyhow::Error::msg(format!(
            "{shown}: the Shamir threshold is {}, but only {} key groups would be left: \
                 lower it with --shamir-secret-sharing-threshold",
            meta.shamir_threshold,
            meta.key_groups.len()
        )));
    }
    rewrap(&key, &mut meta.key_groups, &mut meta.shamir_threshold)
        .with_context(|| shown.to_string())?;
    let out = emit_encrypted_owned(encrypted)
        .map_err(|e| anyhow::Error::from(CliError::DumpTree(format!("{shown}: {e}"))))?;
    deliver(&out, args.in_place.then_some(file), None)
}

pub fn run(cmd: GroupsCommand) -> anyhow::Result<()> {
    match cmd {
        GroupsCommand::Add(a) => {
            let group = master_keys(&a.age, &a.pgp)?;
            if group.is_empty() {
                return Err(anyhow::Error::msg(
                    "the new group has no keys: give --age and/or --pgp",
                ));
            }
            regroup(&a.common, |groups| {
                groups.push(group);
                Ok(())
            })
        }
        GroupsCommand::Delete(d) => {
            let [index] = d.index.as_slice() else {
                return Err(anyhow::Error::msg(
                    "error: exactly one positional argument (index) required",
                ));
            };
            let index: usize = index.parse::<u32>().map(|i| i as usize).map_err(|e| {
                anyhow::Error::msg(format!("failed to parse [index] argument {index:?}: {e}"))
            })?;
            regroup(&d.common, |groups| {
                if index >= groups.len() {
                    return Err(anyhow::Error::msg(format!(
                        "there is no key group {index} (the file has {}, numbered from 0)",
                        groups.len()
                    )));
                }
                groups.remove(index);
                Ok(())
            })
        }
    }
}
