//! Key import: the manifest's key sources (and the SOPS environment) into one in-memory
//! [`Keyring`]. Nothing is written to disk: sops-nix's `age-keys.txt` is not needed, since
//! decryption happens in this process.

use crate::keys::{age as agekeys, AgeIdentity, Keyring};
use crate::manifest::Manifest;
use crate::secret::SecretString;
use anyhow::{anyhow, Result};
use sha2::{Digest, Sha512};
use std::path::Path;

/// What was loaded, for messages.
pub struct Imported {
    pub keyring: Keyring,
    pub warnings: Vec<String>,
    /// Key sources that are configured but not usable by this build (PGP), so that a
    /// missing data key can say why.
    pub unsupported: Vec<String>,
}

fn read_secret(path: &Path) -> std::io::Result<SecretString> {
    let bytes = crate::secret::SecretBytes::new(std::fs::read(path)?);
    bytes
        .into_text()
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"))
}

/// ssh-to-age: an OpenSSH ed25519 private key becomes the X25519 identity whose scalar is the
/// first half of SHA-512(seed) (the Ed25519 → Curve25519 map), encoded as `AGE-SECRET-KEY-1…`.
pub fn ssh_ed25519_to_age(text: &str) -> Result<::age::x25519::Identity, String> {
    let key = ssh_key::PrivateKey::from_openssh(text)
        .map_err(|e| format!("not an OpenSSH private key: {e}"))?;
    if key.is_encrypted() {
        return Err("the key is passphrase-protected".into());
    }
    let kp = key
        .key_data()
        .ed25519()
        .ok_or_else(|| format!("not an ed25519 key ({})", key.algorithm()))?;
    let seed = zeroize::Zeroizing::new(kp.private.to_bytes());
    let hash = zeroize::Zeroizing::new(Sha512::digest(seed.as_slice()));
    let scalar = zeroize::Zeroizing::new(hash[..32].to_vec());
    let hrp = bech32::Hrp::parse("age-secret-key-").expect("valid hrp");
    let encoded = zeroize::Zeroizing::new(
        bech32::encode::<bech32::Bech32>(hrp, &scalar)
            .map_err(|e| format!("bech32: {e}"))?
            .to_uppercase(),
    );
    encoded
        .parse::<::age::x25519::Identity>()
        .map_err(|e| format!("cannot build the age identity: {e}"))
}

fn add_age_file(kr: &mut Keyring, warnings: &mut Vec<String>, source: &str, path: &Path) {
    match read_secret(path) {
        Err(e) => warnings.push(format!(
            "cannot read age key file {source} {}: {e}",
            path.display()
        )),
        Ok(text) => {
            match agekeys::parse_identity_file(&path.display().to_string(), text.expose()) {
                Ok(ids) => kr.age.extend(ids),
                Err(e) => warnings.push(format!("cannot use age key file {source}: {e}")),
            }
        }
    }
}

/// Loads every key source. `prog` prefixes the import log lines, as sops-nix does.
pub fn load(m: &Manifest, prog: &str) -> Result<Imported> {
    let mut kr = Keyring::new();
    let mut warnings = Vec::new();
    let mut unsupported = Vec::new();

    for p in &m.age_ssh_key_paths {
        let text = match read_secret(p) {
            Ok(t) => t,
            Err(e) => {
                warnings.push(format!("cannot read ssh key '{}': {e}", p.display()));
                continue;
            }
        };
        match ssh_ed25519_to_age(text.expose()) {
            Ok(id) => {
                let recipient = id.to_public().to_string();
                if m.logging.key_import {
                    eprintln!(
                        "{prog}: Imported {} as age key with fingerprint {recipient}",
                        p.display()
                    );
                }
                kr.age.push(AgeIdentity {
                    description: format!("{} (ssh-to-age): {recipient}", p.display()),
                    identity: Box::new(id),
                });
            }
            Err(e) => warnings.push(format!("cannot convert ssh key '{}': {e}", p.display())),
        }
    }
    if let Some(f) = &m.age_key_file {
        add_age_file(&mut kr, &mut warnings, "ageKeyFile", f);
    }
    // The SOPS environment, as `sops` itself reads it.
    if let Some(f) = std::env::var_os("SOPS_AGE_KEY_FILE").filter(|f| !f.is_empty()) {
        add_age_file(&mut kr, &mut warnings, "SOPS_AGE_KEY_FILE", Path::new(&f));
    }
    if let Ok(v) = std::env::var("SOPS_AGE_KEY") {
        let v = SecretString::new(v);
        match agekeys::parse_identity_file("SOPS_AGE_KEY", v.expose()) {
            Ok(ids) => kr.age.extend(ids),
            Err(e) => warnings.push(e),
        }
    }
    for p in &m.ssh_key_paths {
        unsupported.push(format!(
            "sshKeyPaths {} (RSA host key as PGP): PGP decryption is not in this build yet",
            p.display()
        ));
    }
    if let Some(h) = &m.gnupg_home {
        unsupported.push(format!(
            "gnupgHome {}: PGP decryption is not in this build yet",
            h.display()
        ));
    }
    Ok(Imported {
        keyring: kr,
        warnings,
        unsupported,
    })
}

impl Imported {
    /// Fails when secrets must be decrypted and no key at all could be loaded.
    pub fn require_some(&self) -> Result<()> {
        if !self.keyring.is_empty() {
            return Ok(());
        }
        let mut msg = String::from("no usable decryption key");
        for w in self.warnings.iter().chain(&self.unsupported) {
            msg.push_str("\n  ");
            msg.push_str(w);
        }
        if self.warnings.is_empty() && self.unsupported.is_empty() {
            msg.push_str(": set ageKeyFile or ageSshKeyPaths in the manifest (sops.age.keyFile / sops.age.sshKeyPaths), or SOPS_AGE_KEY_FILE");
        }
        Err(anyhow!(msg))
    }
}
