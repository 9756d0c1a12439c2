//! `nix-sops`: the user's side of nix-sops (the sops workflow: decrypt, encrypt, edit, set,
//! rotate, exec-env, …). Thin: parse, call the library, map errors to sops' exit codes.

#![forbid(unsafe_code)]

use clap::{CommandFactory, Parser, Subcommand};

mod cli;
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
    /// Generate a new data key and re-encrypt every value with it, as `sops rotate` does.
    Rotate(cli::rotate::RotateArgs),
    /// Set one value or branch in an encrypted file, as `sops set` does (VALUE is JSON).
    Set(cli::set::SetArgs),
    /// Remove one value or branch from an encrypted file, as `sops unset` does.
    Unset(cli::set::UnsetArgs),
    /// Add or delete key groups of a file, as `sops groups` does.
    #[command(subcommand)]
    Groups(cli::groups::GroupsCommand),
    /// Run a command with the top-level secrets in its environment, as `sops exec-env` does.
    ExecEnv(cli::exec::ExecEnvArgs),
    /// Run a command with the plaintext in a temporary FIFO or file, as `sops exec-file` does.
    ExecFile(cli::exec::ExecFileArgs),
    /// Print whether a file is encrypted ({"encrypted":true}), as `sops filestatus` does.
    Filestatus(cli::filestatus::FileStatusArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(cli::completions::CompletionsArgs),
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
        Command::Rotate(args) => cli::rotate::run(args),
        Command::Set(args) => cli::set::run_set(args),
        Command::Unset(args) => cli::set::run_unset(args),
        Command::Groups(cmd) => cli::groups::run(cmd),
        Command::ExecEnv(args) => cli::exec::run_env(args),
        Command::ExecFile(args) => cli::exec::run_file(args),
        Command::Filestatus(args) => cli::filestatus::run(args),
        Command::Completions(args) => cli::completions::run(args, Cli::command()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => cli::exit::report(&e),
    }
}
