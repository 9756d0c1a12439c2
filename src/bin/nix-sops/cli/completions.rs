//! `nix-sops completions SHELL`: the shell completion script, made by clap_complete from the
//! same definitions the parser uses (so it never goes stale).

/// Which shell to write completions for.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  source <(nix-sops completions bash)
  nix-sops completions zsh > \"${fpath[1]}/_nix-sops\"
  nix-sops completions fish > ~/.config/fish/completions/nix-sops.fish")]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

/// Writes the script for `cmd` (the whole `nix-sops` command) to stdout.
pub fn run(args: CompletionsArgs, mut cmd: clap::Command) -> anyhow::Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "nix-sops", &mut out);
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&out)
        .and_then(|_| stdout.flush())
        .map_err(|e| anyhow::anyhow!("cannot write to stdout: {e}"))
}
