//! Identities: everything a user or host has that can unwrap a SOPS data key.
//!
//! [`Keyring`] gathers age identities (X25519 key files, SSH keys, plugins, the ssh-to-age
//! conversion of an ed25519 host key) and PGP keys (armored secret keys, a GnuPG home) into one
//! list. [`crate::sops`] never knows where a key came from: it asks [`Keyring::unwrap_data_key`].

pub mod age;
pub mod shamir;
pub mod sources;

use crate::secret::SecretBytes;
use crate::sops::{DataKey, MasterKey, Metadata};

/// Why one master key of the file could not be used.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// `age recipient age1…`, `pgp fingerprint …`.
    pub key: String,
    /// Key group index (0-based).
    pub group: usize,
    pub reason: String,
}

/// No data key could be recovered: SOPS exits 128.
#[derive(Debug, thiserror::Error)]
pub struct NoDataKey {
    pub attempts: Vec<Attempt>,
    /// The identities that were available (descriptions: source and public key, never secrets).
    pub identities: Vec<String>,
    /// Sources that could not be loaded and why.
    pub load_errors: Vec<String>,
    /// e.g. "2 of 3 key groups are needed (Shamir threshold); 1 decrypted".
    pub summary: String,
}

impl std::fmt::Display for NoDataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "failed to get the data key required to decrypt the SOPS file: {}",
            self.summary
        )?;
        writeln!(f, "keys in the file:")?;
        for a in &self.attempts {
            writeln!(f, "  group {}: {}: {}", a.group, a.key, a.reason)?;
        }
        if self.identities.is_empty() {
            writeln!(f, "no identities were available")?;
        } else {
            writeln!(f, "identities tried:")?;
            for i in &self.identities {
                writeln!(f, "  {i}")?;
            }
        }
        for e in &self.load_errors {
            writeln!(f, "  could not load {e}")?;
        }
        write!(
            f,
            "give a matching key with --identity/--ssh-key, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, \
             ~/.config/sops/age/keys.txt, or a GnuPG key"
        )
    }
}

/// A loaded identity with a human description (source and public key).
pub struct AgeIdentity {
    pub description: String,
    pub identity: Box<dyn ::age::Identity + Send + Sync>,
}

#[derive(Default)]
pub struct Keyring {
    pub age: Vec<AgeIdentity>,
    pub load_errors: Vec<String>,
}

impl Keyring {
    pub fn new() -> Keyring {
        Keyring::default()
    }

    pub fn is_empty(&self) -> bool {
        self.age.is_empty()
    }

    /// Unwraps one master key: the data key (one group) or a Shamir share (several groups).
    fn unwrap_one(&self, key: &MasterKey) -> Result<SecretBytes, String> {
        match key {
            MasterKey::Age { enc, .. } => age::unwrap(&self.age, enc),
            MasterKey::Pgp { .. } => Err("PGP keys are not supported yet".into()),
            MasterKey::Other { kind, .. } => {
                Err(format!("{kind} keys are not supported by nix-sops"))
            }
        }
    }

    /// Tries every group, each key in SOPS' decryption order (age, then pgp), and combines Shamir
    /// shares when there is more than one group.
    pub fn unwrap_data_key(&self, metadata: &Metadata) -> Result<DataKey, NoDataKey> {
        let mut attempts = Vec::new();
        let mut parts = Vec::new();
        for (gi, group) in metadata.key_groups.iter().enumerate() {
            let mut ordered: Vec<&MasterKey> = group.iter().collect();
            ordered.sort_by_key(|k| match k.kind() {
                "age" => 0,
                "pgp" => 1,
                _ => 2,
            });
            for key in ordered {
                match self.unwrap_one(key) {
                    Ok(part) => {
                        parts.push(part);
                        break;
                    }
                    Err(reason) => attempts.push(Attempt {
                        key: key.describe(),
                        group: gi,
                        reason,
                    }),
                }
            }
        }
        let fail = |summary: String| NoDataKey {
            attempts: attempts.clone(),
            identities: self.age.iter().map(|i| i.description.clone()).collect(),
            load_errors: self.load_errors.clone(),
            summary,
        };
        let groups = metadata.key_groups.len();
        if groups <= 1 {
            let Some(key) = parts.pop() else {
                return Err(fail("no key could decrypt it".into()));
            };
            return DataKey::from_bytes(key)
                .ok_or_else(|| fail("the decrypted data key is not 32 bytes".into()));
        }
        let threshold = if metadata.shamir_threshold == 0 {
            groups
        } else {
            metadata.shamir_threshold
        };
        if parts.len() < threshold.max(2) {
            return Err(fail(format!(
                "{threshold} of {groups} key groups are needed (Shamir threshold); {} decrypted",
                parts.len()
            )));
        }
        let secret = shamir::combine(&parts).map_err(|e| fail(e.to_string()))?;
        DataKey::from_bytes(secret)
            .ok_or_else(|| fail("the combined data key is not 32 bytes".into()))
    }
}
