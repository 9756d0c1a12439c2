//! `nix-sops ssh-to-age`: Mic92/ssh-to-age's conversion, for `.sops.yaml` recipients of hosts.

use nix_sops::keys::{convert_private_key, public_key_to_age, SshToAgeError};
use nix_sops::secret::SecretBytes;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  nix-sops ssh-to-age -i /etc/ssh/ssh_host_ed25519_key.pub
  ssh-keyscan server | nix-sops ssh-to-age
  nix-sops ssh-to-age --private-key -i ~/.ssh/id_ed25519 -o ~/.config/sops/age/keys.txt")]
pub struct SshToAgeArgs {
    /// Read the key from FILE instead of stdin.
    #[arg(short = 'i', value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Write to FILE instead of stdout (a private key is created with mode 0600, never over an
    /// existing file).
    #[arg(short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Convert an OpenSSH ed25519 private key to an AGE-SECRET-KEY-1 identity.
    #[arg(long = "private-key", alias = "private")]
    pub private_key: bool,
}

/// The key text, read through the wiping type (it may be a private key).
fn read_input(args: &SshToAgeArgs) -> anyhow::Result<SecretBytes> {
    let mut buf = SecretBytes::default();
    match &args.input {
        Some(p) => std::fs::File::open(p)
            .and_then(|mut f| buf.read_to_end(&mut f))
            .map_err(|e| anyhow::Error::msg(format!("{}: cannot read: {e}", p.display())))?,
        None => buf
            .read_to_end(&mut std::io::stdin().lock())
            .map_err(|e| anyhow::Error::msg(format!("cannot read stdin: {e}")))?,
    };
    Ok(buf)
}

pub fn run(args: SshToAgeArgs) -> anyhow::Result<()> {
    let input = read_input(&args)?;
    let source = args
        .input
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "stdin".into());
    let out = if args.private_key {
        let c = convert_private_key(input.expose())
            .map_err(|e| anyhow::Error::msg(format!("{source}: {e}")))?;
        // Sized once: a `format!` would grow past the identity and leave a copy behind.
        let id = c.identity_line.expose();
        let mut line = SecretBytes::with_capacity(id.len() + 1);
        line.extend_from_slice(id.as_bytes());
        line.push(b'\n');
        line
    } else {
        let text = String::from_utf8_lossy(input.expose());
        let mut lines = String::new();
        let mut skipped = 0;
        for line in text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            // `ssh-keyscan` output starts with the host name; the key starts at the key type.
            let key = line.find("ssh-").map(|i| &line[i..]).unwrap_or(line);
            match public_key_to_age(key) {
                Ok(r) => {
                    lines.push_str(&r);
                    lines.push('\n');
                }
                Err(SshToAgeError::NotEd25519(_)) => skipped += 1,
                Err(e) => {
                    return Err(anyhow::Error::msg(format!("{source}: {e}")));
                }
            }
        }
        if lines.is_empty() {
            return Err(anyhow::Error::msg(format!("{source}: no ssh-ed25519 public key found ({skipped} other keys skipped; only ed25519 keys convert to age)")));
        }
        SecretBytes::new(lines.into_bytes())
    };
    match &args.output {
        None => std::io::stdout()
            .write_all(out.expose())
            .map_err(|e| anyhow::Error::msg(format!("cannot write stdout: {e}"))),
        Some(p) => {
            let mode = if args.private_key { 0o600 } else { 0o644 };
            crate::cli::write_new_file(p, mode, out.expose(), "cannot create")
        }
    }
}
