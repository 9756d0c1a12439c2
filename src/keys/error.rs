//! The errors of [`super`]: a source that could not be loaded ([`KeyError`]), a master key that
//! could not be unwrapped ([`UnwrapError`]), and no data key at all ([`NoDataKey`], which lists
//! both). Messages name the source (file, variable, command) or key and never contain key
//! material.

/// A key source (file, environment variable, command, host key entry) that could not be loaded.
/// The message names the source and says why; the variant says what kind of problem it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The source could not be read or run (a key file, `SOPS_AGE_KEY_CMD`).
    #[error("{0}")]
    Unreadable(String),
    /// The content is not a key nix-sops can use (malformed, another algorithm, unsupported type).
    #[error("{0}")]
    Invalid(String),
    /// The key is passphrase-protected and the passphrase is wrong or cannot be asked for.
    #[error("{0}")]
    Locked(String),
    /// An age plugin identity whose plugin binary is not on `PATH`.
    #[error("{0}")]
    MissingPlugin(String),
    /// `--decryption-order` / `SOPS_DECRYPTION_ORDER` names a key type twice (sops exits 112).
    /// `prefix` is empty or names the setting (`"--decryption-order: "`).
    #[error("{prefix}Duplicate decryption key type: {key_type}")]
    DuplicateKeyType {
        /// Empty, or the setting with its `: `.
        prefix: String,
        /// The key type named twice (`age`, `pgp`).
        key_type: String,
    },
    /// A setting the sources depend on (`$XDG_CONFIG_HOME`, `$HOME`) or a build feature.
    #[error("{0}")]
    Setting(String),
}

impl KeyError {
    /// The same error with `prefix: ` in front of its message (e.g. the flag that gave it).
    pub fn prefixed(self, prefix: &str) -> KeyError {
        let p = |m: String| format!("{prefix}: {m}");
        match self {
            KeyError::Unreadable(m) => KeyError::Unreadable(p(m)),
            KeyError::Invalid(m) => KeyError::Invalid(p(m)),
            KeyError::Locked(m) => KeyError::Locked(p(m)),
            KeyError::MissingPlugin(m) => KeyError::MissingPlugin(p(m)),
            KeyError::Setting(m) => KeyError::Setting(p(m)),
            KeyError::DuplicateKeyType {
                prefix: inner,
                key_type,
            } => KeyError::DuplicateKeyType {
                prefix: format!("{prefix}: {inner}"),
                key_type,
            },
        }
    }
}

/// Why one master key of a file could not be unwrapped with the identities at hand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnwrapError {
    /// No age identity was loaded.
    #[error("no age identity available")]
    NoAgeIdentity,
    /// No in-memory PGP secret key was loaded.
    #[error("no PGP secret key loaded")]
    NoPgpKey,
    /// Neither a PGP key nor a GnuPG home to try.
    #[error("no PGP key or GnuPG home available")]
    NoPgp,
    /// The age identities were tried; none is a recipient.
    #[error("no identity matches")]
    NoMatchingAgeIdentity,
    /// The PGP keys were tried; none is a recipient.
    #[error("no loaded PGP secret key matches")]
    NoMatchingPgpKey,
    /// The wrapped key is malformed, or decryption failed for another reason (gpg's own words).
    #[error("{0}")]
    Failed(String),
    /// A key type nix-sops does not implement (kms, vault, …).
    #[error("{0} keys are not supported by nix-sops")]
    Unsupported(String),
    /// Several ways were tried (in-memory PGP keys, then gpg): each one's reason.
    #[error("{}", join(.0))]
    Each(Vec<UnwrapError>),
}

fn join(reasons: &[UnwrapError]) -> String {
    reasons
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why one master key of the file could not be used.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// `age recipient age1…`, `pgp fingerprint …`.
    pub key: String,
    /// Key group index (0-based).
    pub group: usize,
    /// Why it did not unwrap (the identity's error, or "no identity for this key type").
    pub reason: UnwrapError,
}

/// No data key could be recovered: SOPS exits 128.
#[derive(Debug, thiserror::Error)]
pub struct NoDataKey {
    /// One entry per master key of the file, in the order tried.
    pub attempts: Vec<Attempt>,
    /// The identities that were available (descriptions: source and public key, never secrets).
    pub identities: Vec<String>,
    /// For each of `identities`, why it did not fit, judged from the public key its description
    /// shows ("not a recipient of this file"); `None` when it shows none.
    pub identity_verdicts: Vec<Option<String>>,
    /// Sources that could not be loaded and why.
    pub load_errors: Vec<KeyError>,
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
            for (n, i) in self.identities.iter().enumerate() {
                match self.identity_verdicts.get(n).and_then(Option::as_deref) {
                    Some(v) => writeln!(f, "  {i}: {v}")?,
                    None => writeln!(f, "  {i}")?,
                }
            }
        }
        if !self.load_errors.is_empty() {
            writeln!(f, "sources that could not be loaded:")?;
            for e in &self.load_errors {
                writeln!(f, "  {e}")?;
            }
        }
        write!(
            f,
            "give a matching key with --identity/--ssh-key, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, \
             ~/.config/sops/age/keys.txt, or a GnuPG key; on a machine whose key is not a \
             recipient: add its key to .sops.yaml, run `nix-sops updatekeys FILE` and redeploy"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_reasons_are_joined_as_before() {
        let e = UnwrapError::Each(vec![
            UnwrapError::NoMatchingPgpKey,
            UnwrapError::Failed("GnuPG default home (via gpg): gpg: decryption failed".into()),
        ]);
        assert_eq!(
            e.to_string(),
            "no loaded PGP secret key matches; GnuPG default home (via gpg): gpg: decryption failed"
        );
        assert_eq!(
            UnwrapError::Unsupported("kms".into()).to_string(),
            "kms keys are not supported by nix-sops"
        );
    }

    #[test]
    fn prefix_keeps_the_kind_and_sops_words() {
        let e =
            KeyError::Locked("k.age: wrong or missing passphrase".into()).prefixed("--identity");
        assert_eq!(
            e,
            KeyError::Locked("--identity: k.age: wrong or missing passphrase".into())
        );
        let d = KeyError::DuplicateKeyType {
            prefix: String::new(),
            key_type: "age".into(),
        }
        .prefixed("SOPS_DECRYPTION_ORDER");
        assert!(matches!(d, KeyError::DuplicateKeyType { .. }));
        assert_eq!(
            d.to_string(),
            "SOPS_DECRYPTION_ORDER: Duplicate decryption key type: age"
        );
    }
}
