//! `nix-sops updatekeys`: re-wrap a file's data key for the keys its `.sops.yaml` rule lists now
//! (after adding or removing a machine). Values and MAC stay as they are.
//!
//! `--check` changes nothing: it compares each file's recipients with its rule and fails,
//! listing what to add and remove, when any file needs `updatekeys` — one command for a
//! fleet's CI.

use crate::cli::decrypt::{data_key, load_file};
use crate::cli::exit::{self, CliError};
use anyhow::Context;
use nix_sops::config::CreationRule;
use nix_sops::keys::{wrap_data_key, Recipient};
use nix_sops::sops::emit_encrypted_owned;
use nix_sops::sops::{EncryptedFile, Format, MasterKey};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  nix-sops updatekeys -y nixos/secrets/secrets.yaml
  nix-sops updatekeys -y secrets/*.yaml
  nix-sops updatekeys --check -r secrets      # in CI: fails if any file needs updatekeys
  nix-sops updatekeys --config ../.sops.yaml secrets.env")]
pub struct UpdateKeysArgs {
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Change nothing: exit 1 listing the files whose recipients differ from their creation
    /// rule, and which recipients to add (+) and remove (-).
    #[arg(long, conflicts_with = "yes")]
    pub check: bool,
    /// Every sops file under DIR (recursively; hidden entries skipped) that a creation rule
    /// matches; may be repeated.
    #[arg(short = 'r', long = "recursive", value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// The .sops.yaml to use instead of searching for one.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Input format; by default from the file extension.
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    #[command(flatten)]
    pub keys: crate::cli::KeyArgs,
    /// The SOPS files.
    #[arg(required_unless_present = "dirs")]
    pub files: Vec<PathBuf>,
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

fn current(groups: &[nix_sops::sops::KeyGroup]) -> Vec<Vec<Recipient>> {
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

/// What `updatekeys` would change in one file: recipient lines to remove and to add, and the
/// Shamir threshold (from, to) when it changes.
struct Diff {
    remove: Vec<String>,
    add: Vec<String>,
    threshold: Option<(usize, usize)>,
}

impl Diff {
    fn of(file: &EncryptedFile, rule: &CreationRule) -> Diff {
        let before = describe(&current(&file.metadata.key_groups));
        let after = describe(&rule.key_groups);
        // An absent threshold means "every group" on both sides (and sops writes it so).
        let effective = |t: usize, groups: usize| if t == 0 { groups } else { t };
        let from = effective(
            file.metadata.shamir_threshold,
            file.metadata.key_groups.len(),
        );
        let to = effective(rule.shamir_threshold, rule.key_groups.len());
        let several = file.metadata.key_groups.len() > 1 || rule.key_groups.len() > 1;
        let threshold = (several && from != to).then_some((from, to));
        Diff {
            remove: before
                .iter()
                .filter(|l| !after.contains(l))
                .cloned()
                .collect(),
            add: after
                .iter()
                .filter(|l| !before.contains(l))
                .cloned()
                .collect(),
            threshold,
        }
    }

    fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.add.is_empty() && self.threshold.is_none()
    }

    fn print(&self) {
        for line in &self.remove {
            eprintln!("- {line}");
        }
        for line in &self.add {
            eprintln!("+ {line}");
        }
        if let Some((from, to)) = self.threshold {
            eprintln!("~ shamir_threshold: {from} -> {to}");
        }
    }
}

/// The files to work on: the named ones, then the sops files under each `-r` directory (those
/// a creation rule matches and that have sops metadata), sorted.
fn files(args: &UpdateKeysArgs) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = args.files.clone();
    for dir in &args.dirs {
        let mut found = Vec::new();
        walk(dir, &mut found).map_err(|e| anyhow::Error::msg(format!("{}: {e}", dir.display())))?;
        found.sort();
        for f in found {
            if crate::cli::creation_rule(args.config.as_deref(), &f).is_err() {
                continue;
            }
            let format = Format::from_path(&f);
            // A candidate that is not a sops file may be plaintext: read into the wiping type.
            let mut bytes = nix_sops::secret::SecretBytes::default();
            let is_sops = std::fs::File::open(&f)
                .and_then(|mut file| bytes.read_to_end(&mut file))
                .is_ok_and(|_| nix_sops::sops::load(format, bytes.expose()).is_ok());
            if is_sops {
                out.push(f);
            }
        }
    }
    if out.is_empty() {
        return Err(anyhow::Error::from(CliError::NoFile(String::from(
            "no sops file found: name files, or a directory with -r that holds files a \
             creation rule matches",
        ))));
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue; // .git, .sops.yaml, editor files
        }
        let ty = entry.file_type()?;
        if ty.is_dir() {
            walk(&entry.path(), out)?;
        } else if ty.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

pub fn run(args: UpdateKeysArgs) -> anyhow::Result<()> {
    args.keys.check_decryption_order()?;
    let files = files(&args)?;
    let mut first_failure: Option<anyhow::Error> = None;
    let mut stale = Vec::new();
    for file in &files {
        match one(&args, file) {
            Ok(true) => {}
            Ok(false) => stale.push(file.display().to_string()),
            Err(e) => {
                if files.len() > 1 {
                    eprintln!("nix-sops: {}", exit::message(&e));
                }
                first_failure.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_failure {
        if files.len() > 1 {
            return Err(CliError::SomeFilesFailed {
                code: exit::code(&e),
            }
            .into());
        }
        return Err(e);
    }
    if !stale.is_empty() {
        return Err(anyhow::Error::msg(format!(
            "{} file(s) need `nix-sops updatekeys -y`: {}",
            stale.len(),
            stale.join(" ")
        )));
    }
    Ok(())
}

/// One file: `Ok(true)` when it is (now) up to date, `Ok(false)` when `--check` found it stale.
fn one(args: &UpdateKeysArgs, path: &Path) -> anyhow::Result<bool> {
    let shown = path.display().to_string();
    let format = crate::cli::format_arg(
        "--input-type",
        args.input_type.as_deref(),
        Format::from_path(path),
    )?;
    let rule =
        crate::cli::creation_rule(args.config.as_deref(), path).with_context(|| shown.clone())?;

    let mut file = load_file(path, format)?;
    let diff = Diff::of(&file, &rule);
    if diff.is_empty() {
        eprintln!("{shown}: already up to date");
        return Ok(true);
    }
    if args.check {
        eprintln!("{shown}: needs updatekeys");
        diff.print();
        return Ok(false);
    }
    eprintln!("{shown}:");
    diff.print();
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(anyhow::Error::msg(
                "not a terminal: pass -y to update the keys without asking",
            ));
        }
        eprint!("Is this okay? (y/n) ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !answer.trim().eq_ignore_ascii_case("y") {
            return Err(anyhow::Error::msg(format!("{shown}: nothing was changed")));
        }
    }

    let ring = args.keys.keyring();
    let key = data_key(path, &file, &ring)?;
    drop(ring);
    file.metadata.key_groups = wrap_data_key(&key, &rule.key_groups, rule.shamir_threshold)
        .map_err(|e| anyhow::Error::msg(format!("{shown}: {e}")))?;
    file.metadata.shamir_threshold = if rule.key_groups.len() > 1 {
        rule.shamir_threshold
    } else {
        0
    };
    let out = emit_encrypted_owned(file)
        .map_err(|e| anyhow::Error::from(CliError::DumpTree(format!("{shown}: {e}"))))?;
    crate::cli::write_replacing(path, &out)?;
    eprintln!("{shown}: keys updated");
    Ok(true)
}
