//! `nix-sops keygen`: an age X25519 identity, in `age-keygen`'s file format.

use age::secrecy::ExposeSecret;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  nix-sops keygen -o ~/.config/sops/age/keys.txt
  nix-sops keygen -y ~/.config/sops/age/keys.txt   # print the recipient of an existing key")]
pub struct KeygenArgs {
    /// Write the key to FILE (created with mode 0600; an existing file is never overwritten).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the public keys (recipients) of the identities in FILE instead.
    #[arg(short = 'y', value_name = "FILE", conflicts_with = "output")]
    pub convert: Option<PathBuf>,
}

pub fn run(args: KeygenArgs) -> anyhow::Result<()> {
    if let Some(path) = args.convert {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::Error::msg(format!("{}: cannot read: {e}", path.display())))?;
        let text = zeroize::Zeroizing::new(text);
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let id: age::x25519::Identity = line.parse().map_err(|_| {
                anyhow::Error::msg(format!(
                    "{}: line {} is not an age X25519 identity (AGE-SECRET-KEY-1…)",
                    path.display(),
                    n + 1
                ))
            })?;
            println!("{}", id.to_public());
        }
        return Ok(());
    }

    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let created = nix_sops::sops::now_rfc3339();
    let secret = identity.to_string();
    let body = zeroize::Zeroizing::new(format!(
        "# created: {created}\n# public key: {recipient}\n{}\n",
        secret.expose_secret()
    ));
    match args.output {
        Some(path) => {
            crate::cli::write_new_file(&path, 0o600, body.as_bytes(), "cannot create key file")?;
            eprintln!("Public key: {recipient}");
        }
        None => {
            print!("{}", body.as_str());
        }
    }
    Ok(())
}
