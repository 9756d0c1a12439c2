//! Wrapping a data key (or a Shamir share) for a recipient, as sops writes the `enc` fields.

use crate::secret::SecretBytes;
use std::io::Write;

/// A master key to encrypt to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// `age1…` or an SSH public key line (`ssh-ed25519 AAAA…`, `ssh-rsa AAAA…`).
    Age(String),
    /// A PGP fingerprint, encrypted to with the `gpg` binary (`SOPS_GPG_EXEC`, `GNUPGHOME`).
    Pgp(String),
}

/// Why a data key cannot be encrypted to a recipient.
#[derive(Debug, thiserror::Error)]
pub enum WrapError {
    /// Neither an age recipient nor an SSH public key.
    #[error("{0:?} is not an age recipient (age1…) or an SSH public key (ssh-ed25519/ssh-rsa)")]
    BadAgeRecipient(String),
    #[error("cannot encrypt to age recipient {recipient}: {message}")]
    /// age refused the recipient.
    Age {
        /// The recipient as written.
        recipient: String,
        /// age's reason.
        message: String,
    },
    #[error("cannot encrypt to PGP key {fingerprint}: {message}")]
    /// The PGP key could not encrypt.
    Pgp {
        /// The key's fingerprint.
        fingerprint: String,
        /// Why.
        message: String,
    },
}

fn age_recipient(r: &str) -> Result<Box<dyn ::age::Recipient + Send>, WrapError> {
    if r.starts_with("age1") {
        return r
            .parse::<::age::x25519::Recipient>()
            .map(|r| Box::new(r) as Box<dyn ::age::Recipient + Send>)
            .map_err(|_| WrapError::BadAgeRecipient(r.to_owned()));
    }
    #[cfg(feature = "ssh")]
    if r.starts_with("ssh-") {
        return r
            .parse::<::age::ssh::Recipient>()
            .map(|r| Box::new(r) as Box<dyn ::age::Recipient + Send>)
            .map_err(|_| WrapError::BadAgeRecipient(r.to_owned()));
    }
    Err(WrapError::BadAgeRecipient(r.to_owned()))
}

/// An armored age file holding `part`, encrypted to one recipient (sops writes one stanza).
pub fn wrap_age(recipient: &str, part: &SecretBytes) -> Result<String, WrapError> {
    let fail = |message: String| WrapError::Age {
        recipient: recipient.to_owned(),
        message,
    };
    let r = age_recipient(recipient)?;
    let encryptor = ::age::Encryptor::with_recipients(std::iter::once(r.as_ref() as _))
        .map_err(|e| fail(e.to_string()))?;
    let mut out = Vec::new();
    let armor =
        ::age::armor::ArmoredWriter::wrap_output(&mut out, ::age::armor::Format::AsciiArmor)
            .map_err(|e| fail(e.to_string()))?;
    let mut w = encryptor
        .wrap_output(armor)
        .map_err(|e| fail(e.to_string()))?;
    w.write_all(part.expose())
        .map_err(|e| fail(e.to_string()))?;
    w.finish()
        .and_then(|armor| armor.finish())
        .map_err(|e| fail(e.to_string()))?;
    String::from_utf8(out).map_err(|e| fail(e.to_string()))
}

/// `gpg --encrypt -a -r FP`, output without the trailing newline (sops trims it).
pub fn wrap_pgp(fingerprint: &str, part: &SecretBytes) -> Result<String, WrapError> {
    let fail = |message: String| WrapError::Pgp {
        fingerprint: fingerprint.to_owned(),
        message,
    };
    let exe = std::env::var_os("SOPS_GPG_EXEC").unwrap_or_else(|| "gpg".into());
    let mut child = std::process::Command::new(&exe)
        .args([
            "--batch",
            "--no-tty",
            "--quiet",
            "--trust-model",
            "always",
            "--encrypt",
            "-a",
            "-r",
            fingerprint,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run {}: {e}", exe.to_string_lossy())))?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(part.expose())
        .map_err(|e| fail(e.to_string()))?;
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        return Err(fail(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
    }
    let text = String::from_utf8(out.stdout).map_err(|e| fail(e.to_string()))?;
    Ok(text.trim_end().to_owned())
}

/// A fresh random data key, wrapped for every recipient (see [`wrap_data_key`]).
pub fn new_data_key(
    groups: &[Vec<Recipient>],
    threshold: usize,
) -> Result<(crate::sops::DataKey, Vec<crate::sops::KeyGroup>), WrapError> {
    use rand::RngCore;
    let mut raw = SecretBytes::new(vec![0u8; 32]);
    rand::rngs::OsRng.fill_bytes(raw.as_mut_slice());
    let key = crate::sops::DataKey::from_bytes(raw).expect("32 random bytes");
    let groups = wrap_data_key(&key, groups, threshold)?;
    Ok((key, groups))
}

/// Wraps `key` for every recipient: one group → every key gets the whole data key; several
/// groups → Shamir shares, any `threshold` groups recover it (`updatekeys` reuses the key).
pub fn wrap_data_key(
    key: &crate::sops::DataKey,
    groups: &[Vec<Recipient>],
    threshold: usize,
) -> Result<Vec<crate::sops::KeyGroup>, WrapError> {
    let raw = SecretBytes::new(key.as_array().to_vec());
    let parts: Vec<SecretBytes> = if groups.len() <= 1 {
        vec![raw]
    } else {
        let threshold = if threshold == 0 {
            groups.len()
        } else {
            threshold
        };
        super::shamir::split(raw.expose(), groups.len(), threshold).map_err(|e| WrapError::Age {
            recipient: "(key groups)".into(),
            message: format!("cannot split the data key: {e}"),
        })?
    };
    let mut out = Vec::new();
    for (group, part) in groups.iter().zip(&parts) {
        let mut keys = Vec::new();
        // SOPS' load order within a group: pgp before age.
        for r in group.iter().filter(|r| matches!(r, Recipient::Pgp(_))) {
            if let Recipient::Pgp(fp) = r {
                keys.push(crate::sops::MasterKey::Pgp {
                    fingerprint: fp.clone(),
                    created_at: crate::sops::gofmt::now_rfc3339(),
                    enc: wrap_pgp(fp, part)?,
                });
            }
        }
        for r in group {
            if let Recipient::Age(a) = r {
                keys.push(crate::sops::MasterKey::Age {
                    recipient: a.clone(),
                    enc: wrap_age(a, part)?,
                });
            }
        }
        out.push(keys);
    }
    Ok(out)
}
