//! `nix-sops install`: the same code path as `sops-install-secrets`, with clap flags.

use crate::install::{self, CheckMode, Env, Options};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Program name used in messages and import log lines (sops-nix's VM tests match it).
pub const PROG: &str = "sops-install-secrets";

#[derive(clap::Args, Debug, Clone)]
pub struct InstallArgs {
    /// Validate without installing: `manifest` checks the manifest, `sopsfile` also proves every
    /// key exists in its sops file (no keys needed).
    #[arg(long, value_enum, default_value = "off")]
    pub check_mode: CheckMode,
    /// Don't look up users or groups: everything is owned by root.
    #[arg(long)]
    pub ignore_passwd: bool,
    /// Show what would change (as NIXOS_ACTION=dry-activate); write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The sops-nix manifest (JSON).
    pub manifest: PathBuf,
}

/// Runs an install and maps the result to sops-nix's exit codes: 0, or 1 with
/// `sops-install-secrets: <message>` on stderr.
pub fn run(args: InstallArgs) -> ExitCode {
    run_with(
        &args.manifest,
        Options {
            check_mode: args.check_mode,
            ignore_passwd: args.ignore_passwd,
            dry_run: args.dry_run,
        },
    )
}

pub fn run_with(manifest: &Path, opts: Options) -> ExitCode {
    crate::secret::harden_process();
    let env = Env::from_process(PROG);
    match install::install(manifest, &opts, &env) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{PROG}: {e:#}");
            ExitCode::from(1)
        }
    }
}
