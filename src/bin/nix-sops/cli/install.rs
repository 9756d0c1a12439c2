//! `nix-sops install`: the same code path as `sops-install-secrets`, with clap flags.

use nix_sops::install::{self, CheckMode, Options};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug, Clone)]
pub struct InstallArgs {
    /// Validate without installing: `manifest` checks the manifest, `sopsfile` also proves every
    /// key exists in its sops file (no keys needed).
    #[arg(long, default_value = "off", value_parser = |s: &str| s.parse::<CheckMode>())]
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
    install::main(
        &args.manifest,
        Options {
            check_mode: args.check_mode,
            ignore_passwd: args.ignore_passwd,
            dry_run: args.dry_run,
        },
    )
}
