//! Identities: everything a user or host has that can unwrap a SOPS data key.
//!
//! [`Keyring`] gathers age identities (X25519 key files, SSH keys, plugins, the ssh-to-age
//! conversion of an ed25519 host key) and PGP keys (armored secret keys, RSA SSH keys converted as
//! sops-nix does, a GnuPG home through the `gpg` binary) into one list. [`crate::sops`] never
//! knows where a key came from: it asks [`Keyring::unwrap_data_key`]. Where identities come from
//! (environment, default paths, explicit files) is [`from_sops_env`] and the `Keyring::add_*`
//! methods.

mod age;
mod gpg;
#[cfg(feature = "pgp")]
mod pgp;
pub(crate) mod recipients;
mod shamir;
pub(crate) mod sources;
mod ssh_to_age;
pub(crate) mod wrap;

// The surface. Decrypting: a [`Keyring`] (from the environment or files) unwraps a file's data
// key, or says in [`NoDataKey`] why it could not.
pub use age::parse_identity_file;
pub use gpg::Gpg;
#[cfg(feature = "pgp")]
pub use pgp::PgpKey;
pub use sources::{from_sops_env, from_sops_env_prompting, Env};
// Encrypting: wrap a new or existing data key for each recipient of the key groups.
pub use shamir::{combine as shamir_combine, split as shamir_split, ShamirError};
pub use wrap::{new_data_key, wrap_age, wrap_data_key, wrap_pgp, Recipient, WrapError};
// `ssh-to-age`: an ed25519 SSH key as an age identity or recipient.
pub use ssh_to_age::{convert_private_key, public_key_to_age, Converted, SshToAgeError};

mod error;
pub use error::{Attempt, KeyError, NoDataKey, UnwrapError};

use crate::secret::SecretBytes;
use crate::sops::{DataKey, MasterKey, Metadata};

/// A loaded identity with a human description (source and public key).
pub struct AgeIdentity {
    /// Where it came from and its recipient (`age key file /…: age1…`); never the secret.
    pub description: String,
    /// The identity, for `age`'s decryptor.
    pub identity: Box<dyn ::age::Identity + Send + Sync>,
}

impl std::fmt::Debug for AgeIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgeIdentity({})", self.description)
    }
}

/// SOPS' default decryption order within a key group.
pub(crate) const DEFAULT_DECRYPTION_ORDER: [&str; 2] = ["age", "pgp"];

/// Parses `--decryption-order` / `SOPS_DECRYPTION_ORDER` as sops does: comma-separated, empty
/// means the default, a repeated type is an error (sops exits 112, `DuplicateDecryptionKeyType`).
pub fn parse_decryption_order(s: &str) -> Result<Vec<String>, KeyError> {
    if s.is_empty() {
        return Ok(DEFAULT_DECRYPTION_ORDER
            .iter()
            .map(|t| t.to_string())
            .collect());
    }
    let mut out: Vec<String> = Vec::new();
    for t in s.split(',') {
        if out.iter().any(|o| o == t) {
            return Err(KeyError::DuplicateKeyType {
                prefix: String::new(),
                key_type: t.to_owned(),
            });
        }
        out.push(t.to_owned());
    }
    Ok(out)
}

/// Every identity that unwraps a file's data key, tried in [`Keyring::decryption_order`].
pub struct Keyring {
    /// age identities: X25519 keys, SSH keys, plugins.
    pub age: Vec<AgeIdentity>,
    /// OpenPGP secret keys held in memory (armored keys, RSA host keys).
    #[cfg(feature = "pgp")]
    pub pgp: Vec<pgp::PgpKey>,
    /// The gpg binary and home, tried for pgp keys the in-memory keys cannot open.
    pub gpg: Option<gpg::Gpg>,
    /// Sources that could not be loaded: reported if no key fits, never fatal on their own.
    pub load_errors: Vec<KeyError>,
    /// Key types in the order they are tried within a group: the sops CLI's `age,pgp` by default
    /// (`--decryption-order`, `SOPS_DECRYPTION_ORDER`). Empty means the file's load order (kms …
    /// pgp, age), which is what the sops library, and so sops-nix's installer, uses.
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
    /// An empty key ring: add sources with the `add_*` methods, or use [`Keyring::from_env`].
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// Whether no identity at all was loaded (the error then says where keys are looked for).
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

    /// Tries keys in the order SOPS loads them (pgp before age), as `decrypt.File` in the sops
    /// library does; sops-nix's `sops-install-secrets` goes through it.
    pub fn use_load_order(&mut self) {
        self.decryption_order.clear();
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

    fn unwrap_pgp(&self, enc: &str) -> Result<SecretBytes, UnwrapError> {
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
        match reasons.len() {
            0 => Err(UnwrapError::NoPgp),
            1 => Err(reasons.remove(0)),
            _ => Err(UnwrapError::Each(reasons)),
        }
    }

    /// Unwraps one master key: the data key (one group) or a Shamir share (several groups).
    fn unwrap_one(&self, key: &MasterKey) -> Result<SecretBytes, UnwrapError> {
        match key {
            MasterKey::Age { enc, .. } => age::unwrap(&self.age, enc),
            MasterKey::Pgp { enc, .. } => self.unwrap_pgp(enc),
            MasterKey::Other { kind, .. } => Err(UnwrapError::Unsupported(kind.to_string())),
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
            identity_verdicts: self
                .descriptions()
                .iter()
                .map(|d| recipients::identity_verdict(d, metadata))
                .collect(),
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
        if parts.len() < threshold {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretString;
    use crate::sops::{MapItem, Value};

    fn age_group(recipient: &str, enc: &str) -> Value {
        let entry = Value::Map(vec![
            MapItem::Entry(
                "recipient".into(),
                Value::Str(SecretString::from(recipient)),
            ),
            MapItem::Entry("enc".into(), Value::Str(SecretString::from(enc))),
        ]);
        Value::Map(vec![MapItem::Entry(
            "age".into(),
            Value::List(vec![crate::sops::ListItem::Value(entry)]),
        )])
    }

    /// Metadata with `groups` one-key age groups, each key wrapping `shares[i]` for `identity`.
    fn metadata(
        shares: &[SecretBytes],
        identity: &::age::x25519::Identity,
        threshold: i64,
    ) -> Metadata {
        let groups: Vec<crate::sops::ListItem> = shares
            .iter()
            .map(|share| {
                let recipient = identity.to_public();
                let enc = {
                    let mut out = Vec::new();
                    let e = ::age::Encryptor::with_recipients(std::iter::once(
                        &recipient as &dyn ::age::Recipient,
                    ))
                    .unwrap();
                    let armor = ::age::armor::ArmoredWriter::wrap_output(
                        &mut out,
                        ::age::armor::Format::AsciiArmor,
                    )
                    .unwrap();
                    let mut w = e.wrap_output(armor).unwrap();
                    std::io::Write::write_all(&mut w, share.expose()).unwrap();
                    w.finish().unwrap().finish().unwrap();
                    String::from_utf8(out).unwrap()
                };
                crate::sops::ListItem::Value(age_group(&recipient.to_string(), &enc))
            })
            .collect();
        let mut map = vec![
            MapItem::Entry("key_groups".into(), Value::List(groups)),
            MapItem::Entry(
                "lastmodified".into(),
                Value::Str(SecretString::from("2026-01-01T00:00:00Z")),
            ),
            MapItem::Entry("mac".into(), Value::Str(SecretString::from(""))),
            MapItem::Entry("version".into(), Value::Str(SecretString::from("3.11.0"))),
        ];
        if threshold > 0 {
            map.push(MapItem::Entry(
                "shamir_threshold".into(),
                Value::Int(threshold),
            ));
        }
        Metadata::from_value(&Value::Map(map)).unwrap()
    }

    fn ring(identity: &::age::x25519::Identity) -> Keyring {
        let mut k = Keyring::new();
        k.age.push(AgeIdentity {
            description: "test".into(),
            identity: Box::new(identity.clone()),
        });
        k
    }

    // The sops-made Shamir files are in tests/keys.rs; these pin the edge rules that sops cannot
    // be made to write (a missing or too low threshold).
    #[test]
    fn threshold_zero_needs_every_group() {
        // sops always writes the threshold for several groups (3 for 3 groups, checked with the
        // real sops); a file without one is read as "every group".
        let id = ::age::x25519::Identity::generate();
        let other = ::age::x25519::Identity::generate();
        let shares = shamir::split(&[7u8; 32], 3, 2).unwrap();
        let mut md = metadata(&shares, &id, 0);
        assert_eq!(
            ring(&id).unwrap_data_key(&md).unwrap().as_array(),
            &[7u8; 32]
        );
        md.key_groups[2] = metadata(&shares[2..], &other, 0).key_groups[0].clone();
        let err = ring(&id).unwrap_data_key(&md).unwrap_err();
        assert!(err.summary.contains("3 of 3"), "{}", err.summary);
    }

    #[test]
    fn threshold_one_still_needs_two_shares() {
        let id = ::age::x25519::Identity::generate();
        let other = ::age::x25519::Identity::generate();
        let shares = shamir::split(&[9u8; 32], 2, 2).unwrap();
        let mut md = metadata(&shares, &id, 1);
        // Make the second group undecryptable.
        md.key_groups[1] = metadata(&shares[1..], &other, 0).key_groups[0].clone();
        let err = ring(&id).unwrap_data_key(&md).unwrap_err();
        assert!(
            err.summary.contains("less than two parts"),
            "{}",
            err.summary
        );
    }
}
