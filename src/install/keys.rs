//! Key import: the manifest's key sources and the SOPS environment into one in-memory
//! [`Keyring`]. Nothing is written to disk: sops-nix's `age-keys.txt` and temporary GnuPG home
//! are not needed, since decryption happens in this process.

use super::input;
use super::{Error, ErrorKind, Result};
use crate::keys::sources::ProcessEnv;
use crate::keys::{KeyError, Keyring};
use crate::manifest::Manifest;
use crate::secret::SecretBytes;
use std::path::Path;

/// What was loaded, for messages.
pub(crate) struct Imported {
    pub keyring: Keyring,
    /// Sources that could not be loaded (unreadable, wrong type, passphrase-protected).
    pub warnings: Vec<String>,
    /// Whether any key at all is usable (an age or PGP identity, or a GnuPG home).
    pub any: bool,
}

/// Loads every key source, printing sops-nix's import lines when `logging.keyImport` is set:
/// age on stderr, GPG on stdout (as sops-nix does). `prog` prefixes them.
pub(crate) fn load(m: &Manifest, prog: &str) -> Result<Imported> {
    let mut kr = Keyring::new();
    let mut warnings = Vec::new();

    for p in &m.age_ssh_key_paths {
        match read_key(&mut kr, p, input::SSH_KEY)
            .and_then(|k| kr.add_ssh_host_key_text(&p.display().to_string(), k.expose()))
        {
            Ok(recipient) => {
                if m.logging.key_import {
                    eprintln!(
                        "{prog}: Imported {} as age key with fingerprint {recipient}",
                        p.display()
                    );
                }
            }
            Err(e) => warnings.push(format!("cannot import ssh key '{}': {e}", p.display())),
        }
    }
    if let Some(f) = &m.age_key_file {
        let added = read_key(&mut kr, f, input::AGE_KEY_FILE)
            .and_then(|k| kr.add_identity_text(&f.display().to_string(), k.expose()));
        if let Err(e) = added {
            warnings.push(format!("cannot use ageKeyFile: {e}"));
        }
    }
    for p in &m.ssh_key_paths {
        match rsa_as_pgp(&mut kr, p) {
            Ok(fp) => {
                if m.logging.key_import {
                    println!(
                        "{prog}: Imported {} as GPG key with fingerprint {}",
                        p.display(),
                        fp.to_lowercase()
                    );
                }
            }
            Err(e) => warnings.push(format!("cannot import ssh key '{}': {e}", p.display())),
        }
    }
    let own_keys = key_count(&kr);
    // What the sops library itself reads (SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD,
    // SOPS_AGE_SSH_PRIVATE_KEY_FILE, ~/.config/sops/age/keys.txt, gpg), after the manifest's.
    let before = kr.load_errors.len();
    kr.load_env(&ProcessEnv);
    let env_errors: Vec<String> = kr.load_errors[before..]
        .iter()
        .map(ToString::to_string)
        .collect();
    if let Some(h) = &m.gnupg_home {
        kr.set_gnupg_home(h);
    }
    let any = key_count(&kr) > 0 || m.gnupg_home.is_some();
    if own_keys == 0 && !any {
        warnings.extend(env_errors);
    }
    Ok(Imported {
        keyring: kr,
        warnings,
        any,
    })
}

/// A key file the manifest names, regular and bounded ([`input`]); a symlinked host key is
/// followed (impermanence setups link them). A failure is kept with the keyring's load errors,
/// as a failed parse is.
fn read_key(kr: &mut Keyring, p: &Path, kind: input::Kind) -> Result<SecretBytes, KeyError> {
    input::read_secret(p, kind).map_err(|e| {
        let e = KeyError::Unreadable(e.to_string());
        kr.load_errors.push(e.clone());
        e
    })
}

fn key_count(kr: &Keyring) -> usize {
    #[cfg(feature = "pgp")]
    let pgp = kr.pgp.len();
    #[cfg(not(feature = "pgp"))]
    let pgp = 0;
    kr.age.len() + pgp
}

#[cfg(feature = "pgp")]
fn rsa_as_pgp(kr: &mut Keyring, p: &Path) -> Result<String, KeyError> {
    let key = read_key(kr, p, input::SSH_KEY)?;
    kr.add_rsa_ssh_key_text_as_pgp(&p.display().to_string(), key.expose())
}

#[cfg(not(feature = "pgp"))]
fn rsa_as_pgp(_: &mut Keyring, _: &Path) -> Result<String, KeyError> {
    Err(KeyError::Setting(
        "this build has no PGP support (feature `pgp`)".into(),
    ))
}

impl Imported {
    /// Fails when secrets must be decrypted and no key at all could be loaded.
    pub(crate) fn require_some(&self) -> Result<()> {
        if self.any {
            return Ok(());
        }
        let mut msg = String::from("no usable decryption key");
        for w in &self.warnings {
            msg.push_str("\n  ");
            msg.push_str(w);
        }
        msg.push_str("\n  set sops.age.keyFile, sops.age.sshKeyPaths, sops.gnupg.sshKeyPaths or sops.gnupg.home");
        Err(Error::new(ErrorKind::Keys, msg))
    }
}
