//! `nix-sops updatekeys`: re-wrap a file's data key for the keys its `.sops.yaml` rule lists now
//! (after adding or removing a machine). Values and MAC stay as they are.

use crate::cli::decrypt::{data_key, load_file};
use crate::cli::exit::{self, Failure};
use crate::keys::wrap::{self, Recipient};
use crate::sops::encrypt::emit_encrypted;
use crate::sops::{Format, MasterKey};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  nix-sops updatekeys -y nixos/secrets/secrets.yaml
  nix-sops updatekeys --config ../.sops.yaml secrets.env")]
pub struct UpdateKeysArgs {
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// The .sops.yaml to use instead of searching for one.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Input format; by default from the file extension.
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    #[command(flatten)]
    pub keys: crate::cli::KeyArgs,
    /// The SOPS file.
    pub file: PathBuf,
}

fn describe(groups: &[Vec<Recipient>]) -> Vec<String> {
    let mut out: Vec<String> = groups
        .iter()
        .enumerate()
        .flat_map(|(i, g)| {
            g.iter().map(move |r| match r {
                Recipient::Age(a) => format!("group {i}: age {a}"),
                Recipient::Pgp(f) => format!("group {i}: pgp {f}"),
            })
        })
        .collect();
    out.sort();
    out
}

fn current(groups: &[crate::sops::KeyGroup]) -> Vec<Vec<Recipient>> {
    groups
        .iter()
        .map(|g| {
            g.iter()
                .filter_map(|k| match k {
                    MasterKey::Age { recipient, .. } => Some(Recipient::Age(recipient.clone())),
                    MasterKey::Pgp { fingerprint, .. } => Some(Recipient::Pgp(fingerprint.clone())),
                    MasterKey::Other { .. } => None,
                })
                .collect()
        })
        .collect()
}

pub fn run(args: UpdateKeysArgs) -> Result<(), Failure> {
    let shown = args.file.display().to_string();
    let format = crate::cli::format_arg(
        "--input-type",
        args.input_type.as_deref(),
        Format::from_path(&args.file),
    )?;
    let rule = crate::cli::creation_rule(args.config.as_deref(), &args.file)?;

    let mut file = load_file(&args.file, format)?;
    let before = describe(&current(&file.metadata.key_groups));
    let after = describe(&rule.key_groups);
    let threshold_same = (file.metadata.key_groups.len() <= 1 && rule.key_groups.len() <= 1)
        || file.metadata.shamir_threshold == rule.shamir_threshold;
    if before == after && threshold_same {
        eprintln!("{shown}: already up to date");
        return Ok(());
    }
    for line in before.iter().filter(|l| !after.contains(l)) {
        eprintln!("- {line}");
    }
    for line in after.iter().filter(|l| !before.contains(l)) {
        eprintln!("+ {line}");
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::new(
                exit::GENERIC,
                "not a terminal: pass -y to update the keys without asking",
            ));
        }
        eprint!("Is this okay? (y/n) ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !answer.trim().eq_ignore_ascii_case("y") {
            return Err(Failure::new(exit::GENERIC, "nothing was changed"));
        }
    }

    let ring = args.keys.keyring();
    let key = data_key(&args.file, &file, &ring)?;
    drop(ring);
    file.metadata.key_groups = wrap::wrap_data_key(&key, &rule.key_groups, rule.shamir_threshold)
        .map_err(|e| Failure::new(exit::GENERIC, format!("{shown}: {e}")))?;
    file.metadata.shamir_threshold = if rule.key_groups.len() > 1 {
        rule.shamir_threshold
    } else {
        0
    };
    let out = emit_encrypted(&file)
        .map_err(|e| Failure::new(exit::ERROR_DUMPING_TREE, format!("{shown}: {e}")))?;
    crate::cli::write_replacing(&args.file, &out)?;
    eprintln!("{shown}: keys updated");
    Ok(())
}
