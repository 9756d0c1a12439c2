//! The GnuPG binary, as SOPS' `decryptWithGnuPG` uses it: `gpg [--homedir H] -d` with the armored
//! data key on stdin. rPGP cannot read `private-keys-v1.d`, so a GnuPG home needs the binary.

use crate::secret::SecretBytes;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// How to run gpg: the binary (`SOPS_GPG_EXEC` or `gpg`) and an optional `--homedir`.
#[derive(Debug, Clone)]
pub struct Gpg {
    /// The `gpg` program (`SOPS_GPG_EXEC`).
    pub binary: String,
    /// `None`: gpg's own default (`$GNUPGHOME`, else `~/.gnupg`).
    pub home: Option<PathBuf>,
}

impl Gpg {
    /// `SOPS_GPG_EXEC` (if set and non-empty) or `gpg`.
    pub fn from_env(home: Option<PathBuf>) -> Gpg {
        let binary = std::env::var("SOPS_GPG_EXEC")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "gpg".into());
        Gpg { binary, home }
    }

    /// `GnuPG home … (via gpg)`, for the list of identities tried.
    pub fn describe(&self) -> String {
        match &self.home {
            Some(h) => format!("GnuPG home {} (via {})", h.display(), self.binary),
            None => format!("GnuPG default home (via {})", self.binary),
        }
    }

    /// Decrypts the armored message. `--batch --no-tty` and a closed stdin (after the message)
    /// make a missing key or a passphrase prompt fail instead of waiting for a terminal.
    pub fn decrypt(&self, enc: &str) -> Result<SecretBytes, super::UnwrapError> {
        use super::UnwrapError::Failed;
        let mut cmd = Command::new(&self.binary);
        if let Some(h) = &self.home {
            cmd.arg("--homedir").arg(h);
        }
        cmd.args(["--batch", "--no-tty", "--quiet", "-d"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| Failed(format!("cannot run `{}`: {e}", self.binary)))?;
        // Write from a thread: gpg may fill its stdout before reading all of stdin.
        let mut stdin = child.stdin.take().expect("piped");
        let input = enc.as_bytes().to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
            // stdin is dropped (closed) here.
        });
        let out = child
            .wait_with_output()
            .map_err(|e| Failed(format!("`{}` failed: {e}", self.binary)))?;
        let _ = writer.join();
        let stdout = SecretBytes::new(out.stdout);
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let msg = stderr
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Failed(format!(
                "{}: {}",
                self.describe(),
                if msg.is_empty() {
                    format!("exited with {}", out.status)
                } else {
                    msg
                }
            )));
        }
        if stdout.is_empty() {
            return Err(Failed(format!(
                "{}: gpg returned zero bytes",
                self.describe()
            )));
        }
        Ok(stdout)
    }
}
