//! `nix-sops`: the user's side of nix-sops (decrypt, and more to come). Thin: parse, call the
//! library, map errors to sops' exit codes.

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use nix_sops::cli;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "nix-sops",
    version,
    about = "SOPS for NixOS: decrypt, install and manage secrets"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decrypt a SOPS file to stdout, as `sops decrypt` does.
    Decrypt(cli::decrypt::DecryptArgs),
    /// Edit a SOPS file in $EDITOR, as `sops edit` does (same keys, new MAC).
    Edit(cli::edit::EditArgs),
    /// Encrypt a file to age/PGP keys from the flags or .sops.yaml, as `sops encrypt` does.
    Encrypt(cli::encrypt::EncryptArgs),
    /// Generate an age identity (like age-keygen).
    Keygen(cli::keygen::KeygenArgs),
    /// Convert an SSH ed25519 key to age, as ssh-to-age does.
    SshToAge(cli::ssh_to_age::SshToAgeArgs),
    /// Re-wrap a file's data key for the keys its .sops.yaml rule lists now.
    Updatekeys(cli::updatekeys::UpdateKeysArgs),
    /// Install the secrets of a sops-nix manifest (what `sops-install-secrets` does).
    Install(cli::install::InstallArgs),
}

fn main() -> ExitCode {
    nix_sops::secret::harden_process();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp(None)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Install(args) => return cli::install::run(args),
        Command::Decrypt(args) => cli::decrypt::run(args),
        Command::Edit(args) => cli::edit::run(args),
        Command::Encrypt(args) => cli::encrypt::run(args),
        Command::Keygen(args) => cli::keygen::run(args),
        Command::SshToAge(args) => cli::ssh_to_age::run(args),
        Command::Updatekeys(args) => cli::updatekeys::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
