//! Identities: everything a user or host has that can unwrap a SOPS data key.
//!
//! [`Keyring`] gathers age identities (X25519 key files, SSH keys, plugins, the ssh-to-age
//! conversion of an ed25519 host key) and PGP keys (armored secret keys, RSA SSH keys converted as
//! sops-nix does, a GnuPG home through the `gpg` binary) into one list. [`crate::sops`] never
//! knows where a key came from: it asks [`Keyring::unwrap_data_key`]. Where identities come from
//! (environment, default paths, explicit files) is [`sources`].

pub mod age;
pub mod gpg;
#[cfg(feature = "pgp")]
pub mod pgp;
pub mod shamir;
pub mod sources;
pub mod ssh_to_age;
pub mod wrap;

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

impl std::fmt::Debug for AgeIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgeIdentity({})", self.description)
    }
}

/// SOPS' default decryption order within a key group.
pub const DEFAULT_DECRYPTION_ORDER: [&str; 2] = ["age", "pgp"];

pub struct Keyring {
    pub age: Vec<AgeIdentity>,
    #[cfg(feature = "pgp")]
    pub pgp: Vec<pgp::PgpKey>,
    /// The gpg binary and home, tried for pgp keys the in-memory keys cannot open.
    pub gpg: Option<gpg::Gpg>,
    pub load_errors: Vec<String>,
    /// Key types in the order they are tried within a group (`SOPS_DECRYPTION_ORDER`).
    pub decryption_order: Vec<String>,
    pub(crate) callbacks: age::Callbacks,
}

impl Default for Keyring {
    fn default() -> Self {
        Keyring {
            age: Vec::new(),
            #[cfg(feature = "pgp")]
            pgp: Vec::new(),
            gpg: None,
            load_errors: Vec::new(),
            decryption_order: DEFAULT_DECRYPTION_ORDER
                .iter()
                .map(|s| s.to_string())
                .collect(),
            callbacks: age::Callbacks::default(),
        }
    }
}

impl Keyring {
    /// An empty key ring: add sources with [`sources`]' methods, or use [`Keyring::from_env`].
    pub fn new() -> Keyring {
        Keyring::default()
    }

    pub fn is_empty(&self) -> bool {
        self.age.is_empty() && self.pgp_is_empty() && self.gpg.is_none()
    }

    #[cfg(feature = "pgp")]
    fn pgp_is_empty(&self) -> bool {
        self.pgp.is_empty()
    }
    #[cfg(not(feature = "pgp"))]
    fn pgp_is_empty(&self) -> bool {
        true
    }

    /// Descriptions of every identity (source and public key or fingerprint).
    pub fn descriptions(&self) -> Vec<String> {
        let mut out: Vec<String> = self.age.iter().map(|i| i.description.clone()).collect();
        #[cfg(feature = "pgp")]
        out.extend(self.pgp.iter().map(|k| k.description.clone()));
        if let Some(g) = &self.gpg {
            out.push(g.describe());
        }
        out
    }

    fn unwrap_pgp(&self, enc: &str) -> Result<SecretBytes, String> {
        let mut reasons = Vec::new();
        #[cfg(feature = "pgp")]
        if !self.pgp.is_empty() {
            match pgp::unwrap(&self.pgp, enc) {
                Ok(k) => return Ok(k),
                Err(e) => reasons.push(e),
            }
        }
        if let Some(g) = &self.gpg {
            match g.decrypt(enc) {
                Ok(k) => return Ok(k),
                Err(e) => reasons.push(e),
            }
        }
        if reasons.is_empty() {
            reasons.push("no PGP key or GnuPG home available".into());
        }
        Err(reasons.join("; "))
    }

    /// Unwraps one master key: the data key (one group) or a Shamir share (several groups).
    fn unwrap_one(&self, key: &MasterKey) -> Result<SecretBytes, String> {
        match key {
            MasterKey::Age { enc, .. } => age::unwrap(&self.age, enc),
            MasterKey::Pgp { enc, .. } => self.unwrap_pgp(enc),
            MasterKey::Other { kind, .. } => {
                Err(format!("{kind} keys are not supported by nix-sops"))
            }
        }
    }

    /// The keys of a group in the order SOPS tries them: stably sorted by `decryption_order`,
    /// unlisted types last.
    fn ordered<'a>(&self, group: &'a [MasterKey]) -> Vec<&'a MasterKey> {
        let mut ordered: Vec<&MasterKey> = group.iter().collect();
        let rank = |k: &&MasterKey| {
            self.decryption_order
                .iter()
                .position(|t| t == k.kind())
                .unwrap_or(self.decryption_order.len())
        };
        ordered.sort_by_key(rank);
        ordered
    }

    /// Tries every group, each key in SOPS' decryption order (age, then pgp), and combines Shamir
    /// shares when there is more than one group.
    pub fn unwrap_data_key(&self, metadata: &Metadata) -> Result<DataKey, NoDataKey> {
        let mut attempts = Vec::new();
        let mut parts = Vec::new();
        for (gi, group) in metadata.key_groups.iter().enumerate() {
            for key in self.ordered(group) {
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
            identities: self.descriptions(),
            load_errors: self.load_errors.clone(),
            summary,
        };
        let groups = metadata.key_groups.len();
        if groups <= 1 {
            let Some(key) = parts.pop() else {
                return Err(fail("no master key could be decrypted".into()));
            };
            return DataKey::from_bytes(key)
                .ok_or_else(|| fail("the decrypted data key is not 32 bytes".into()));
        }
        // SOPS writes the threshold whenever there are several groups; a file without one needs
        // every group (stricter than SOPS, which would combine too few shares into a wrong key).
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
        let secret = shamir::combine(&parts)
            .map_err(|e| fail(format!("could not get data key from shamir parts: {e}")))?;
        DataKey::from_bytes(secret)
            .ok_or_else(|| fail("the combined data key is not 32 bytes".into()))
    }
}
