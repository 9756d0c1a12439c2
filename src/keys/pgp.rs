//! PGP keys held in memory (rPGP): armored secret keys, and RSA SSH host keys turned into OpenPGP
//! keys as sops-nix's `sshkeys/convert.go` does for `sops.gnupg.sshKeyPaths`.

use super::{KeyError, UnwrapError};
use crate::secret::SecretBytes;
use pgp::composed::{KeyDetails, Message, PublicOrSecret, SignedKeyDetails, SignedSecretKey};
use pgp::packet::{Features, KeyFlags, PubKeyInner, UserId};
use pgp::types::{
    KeyDetails as _, KeyVersion, Password, PlainSecretParams, PublicParams, SecretParams, Timestamp,
};

/// A secret key that can open PKESK packets, with a description (source and fingerprint).
pub struct PgpKey {
    /// Where it came from and its fingerprint; never the secret.
    pub description: String,
    /// Uppercase hex fingerprint of the primary key (what `.sops.yaml` and `fp` use).
    pub fingerprint: String,
    key: SignedSecretKey,
}

impl PgpKey {
    fn new(source: &str, key: SignedSecretKey) -> PgpKey {
        let fingerprint = format!("{:X}", key.primary_key.fingerprint());
        PgpKey {
            description: format!("{source}: pgp {fingerprint}"),
            fingerprint,
            key,
        }
    }

    /// The armored public key, e.g. to import the ssh-derived key into a GnuPG keyring.
    pub fn public_key_armored(&self) -> Result<String, KeyError> {
        let public = self.key.to_public_key();
        public.to_armored_string(Default::default()).map_err(|e| {
            KeyError::Invalid(format!(
                "cannot armor the public key {}: {e}",
                self.fingerprint
            ))
        })
    }
}

impl std::fmt::Debug for PgpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgpKey({})", self.description)
    }
}

/// Secret keys from armored text (`gpg --export-secret-keys -a`). Public keys in the same text
/// are ignored; passphrase-protected keys are an error (nothing can ask for the passphrase).
pub(crate) fn parse_armored(source: &str, text: &[u8]) -> Result<Vec<PgpKey>, KeyError> {
    let (iter, _) = PublicOrSecret::from_armor_many(text)
        .map_err(|e| KeyError::Invalid(format!("{source}: not an armored OpenPGP key: {e}")))?;
    collect_secret_keys(source, iter)
}

/// Secret keys from a binary keyring (`secring.gpg`, which SOPS reads with go-crypto before it
/// falls back to the gpg binary).
pub(crate) fn parse_binary(source: &str, bytes: &[u8]) -> Result<Vec<PgpKey>, KeyError> {
    let iter = PublicOrSecret::from_bytes_many(bytes)
        .map_err(|e| KeyError::Invalid(format!("{source}: not an OpenPGP keyring: {e}")))?;
    collect_secret_keys(source, iter)
}

fn collect_secret_keys(
    source: &str,
    iter: Box<dyn Iterator<Item = pgp::errors::Result<PublicOrSecret>> + '_>,
) -> Result<Vec<PgpKey>, KeyError> {
    let mut keys = Vec::new();
    for item in iter {
        match item
            .map_err(|e| KeyError::Invalid(format!("{source}: malformed OpenPGP key: {e}")))?
        {
            PublicOrSecret::Secret(k) => {
                if k.primary_key.secret_params().is_encrypted()
                    || k.secret_subkeys
                        .iter()
                        .any(|s| s.key.secret_params().is_encrypted())
                {
                    return Err(KeyError::Locked(format!(
                        "{source}: the secret key {:X} is passphrase-protected; nix-sops cannot \
                         ask for the passphrase (export it without one, or use a GnuPG home)",
                        k.primary_key.fingerprint()
                    )));
                }
                keys.push(PgpKey::new(source, k))
            }
            PublicOrSecret::Public(_) => {}
        }
    }
    if keys.is_empty() {
        return Err(KeyError::Invalid(format!(
            "{source}: holds no OpenPGP secret key"
        )));
    }
    Ok(keys)
}

/// The user ID sops-nix gives keys converted from SSH.
pub(crate) const SSH_UID: &str = "root (Imported from SSH) <root@localhost>";

/// An RSA OpenSSH private key as the OpenPGP key sops-nix builds from it: a v4 RSA primary key
/// created at time 0 (so the fingerprint depends on the RSA key alone), uid [`SSH_UID`], flags
/// sign/certify/encrypt.
pub(crate) fn from_ssh_rsa(source: &str, bytes: &[u8]) -> Result<PgpKey, KeyError> {
    let rsa_key = rsa_from_ssh_file(source, bytes)?;
    let secret = PlainSecretParams::RSA(rsa_key.into());
    let public =
        PublicParams::try_from(&secret).map_err(|e| KeyError::Invalid(format!("{source}: {e}")))?;
    let inner = PubKeyInner::new(
        KeyVersion::V4,
        pgp::crypto::public_key::PublicKeyAlgorithm::RSA,
        Timestamp::from_secs(0),
        None,
        public,
    )
    .map_err(|e| KeyError::Invalid(format!("{source}: {e}")))?;
    let primary_pub = pgp::packet::PublicKey::from_inner(inner)
        .map_err(|e| KeyError::Invalid(format!("{source}: {e}")))?;
    let primary = pgp::packet::SecretKey::new(primary_pub, SecretParams::Plain(secret))
        .map_err(|e| KeyError::Invalid(format!("{source}: {e}")))?;
    let mut flags = KeyFlags::default();
    flags.set_sign(true);
    flags.set_certify(true);
    flags.set_encrypt_comms(true);
    flags.set_encrypt_storage(true);
    let uid = UserId::from_str(Default::default(), SSH_UID)
        .map_err(|e| KeyError::Invalid(format!("{source}: {e}")))?;
    let details = KeyDetails::new(
        Some(uid),
        vec![],
        vec![],
        flags,
        Features::default(),
        Default::default(),
        [pgp::crypto::hash::HashAlgorithm::Sha256]
            .into_iter()
            .collect(),
        Default::default(),
        Default::default(),
    );
    // The self-signature only matters for exporting the public key (gpg refuses keys without
    // one); decryption uses the key packet alone.
    let signed: SignedKeyDetails = details
        .sign(
            rand::thread_rng(),
            &primary,
            primary.public_key(),
            &Password::empty(),
        )
        .map_err(|e| {
            KeyError::Invalid(format!("{source}: cannot self-sign the converted key: {e}"))
        })?;
    Ok(PgpKey::new(
        source,
        SignedSecretKey::new(primary, signed, vec![], vec![]),
    ))
}

/// The RSA key of an SSH private key file: OpenSSH format, or PEM (`BEGIN RSA PRIVATE KEY`,
/// `BEGIN PRIVATE KEY`) as older `ssh-keygen -m PEM` writes and Go's `ssh.ParseRawPrivateKey`
/// also reads.
fn rsa_from_ssh_file(source: &str, bytes: &[u8]) -> Result<rsa::RsaPrivateKey, KeyError> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    let text = std::str::from_utf8(bytes).map_err(|_| {
        KeyError::Invalid(format!(
            "{source}: failed to parse private ssh key: not text"
        ))
    })?;
    let pem_err = |e: &dyn std::fmt::Display| {
        if text.contains("ENCRYPTED") {
            KeyError::Locked(format!(
                "{source}: the SSH key is passphrase-protected; nix-sops cannot ask for the \
                 passphrase"
            ))
        } else {
            KeyError::Invalid(format!("{source}: failed to parse private ssh key: {e}"))
        }
    };
    if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
        return rsa::RsaPrivateKey::from_pkcs1_pem(text).map_err(|e| pem_err(&e));
    }
    if text.contains("-----BEGIN PRIVATE KEY-----") {
        return rsa::RsaPrivateKey::from_pkcs8_pem(text).map_err(|e| pem_err(&e));
    }
    let ssh = ssh_key::PrivateKey::from_openssh(bytes).map_err(|e| {
        KeyError::Invalid(format!("{source}: failed to parse private ssh key: {e}"))
    })?;
    if ssh.is_encrypted() {
        return Err(KeyError::Locked(format!(
            "{source}: the SSH key is passphrase-protected; nix-sops cannot ask for the passphrase"
        )));
    }
    let pair = ssh.key_data().rsa().ok_or_else(|| {
        KeyError::Invalid(format!(
            "{source}: only RSA keys are supported right now, got {}",
            ssh.algorithm().as_str()
        ))
    })?;
    rsa_private_key(pair).map_err(|e| KeyError::Invalid(format!("{source}: invalid RSA key: {e}")))
}

/// ssh-key 0.6.7's own `TryFrom<&RsaKeypair>` passes `p` twice instead of `p, q`, so the key is
/// assembled here from its components.
fn rsa_private_key(pair: &ssh_key::private::RsaKeypair) -> Result<rsa::RsaPrivateKey, KeyError> {
    let big = |m: &ssh_key::Mpint, what: &str| {
        m.as_positive_bytes()
            .map(rsa::BigUint::from_bytes_be)
            .ok_or_else(|| KeyError::Invalid(format!("the RSA {what} is not a positive integer")))
    };
    let key = rsa::RsaPrivateKey::from_components(
        big(&pair.public.n, "modulus")?,
        big(&pair.public.e, "exponent")?,
        big(&pair.private.d, "private exponent")?,
        vec![
            big(&pair.private.p, "prime p")?,
            big(&pair.private.q, "prime q")?,
        ],
    )
    .map_err(|e| KeyError::Invalid(e.to_string()))?;
    key.validate()
        .map_err(|e| KeyError::Invalid(e.to_string()))?;
    Ok(key)
}

/// Decrypts the armored `enc` of a pgp master key with any of the keys.
pub(crate) fn unwrap(keys: &[PgpKey], enc: &str) -> Result<SecretBytes, UnwrapError> {
    if keys.is_empty() {
        return Err(UnwrapError::NoPgpKey);
    }
    let (msg, _) = Message::from_string(enc)
        .map_err(|e| UnwrapError::Failed(format!("malformed PGP message: {e}")))?;
    let passwords: Vec<Password> = keys.iter().map(|_| Password::empty()).collect();
    let msg = msg
        .decrypt_with_keys(
            passwords.iter().collect(),
            keys.iter().map(|k| &k.key).collect(),
        )
        .map_err(|e| match e {
            pgp::errors::Error::MissingKey => UnwrapError::NoMatchingPgpKey,
            other => UnwrapError::Failed(format!("PGP decryption failed: {other}")),
        })?;
    let mut msg = if msg.is_compressed() {
        msg.decompress()
            .map_err(|e| UnwrapError::Failed(format!("PGP decompression failed: {e}")))?
    } else {
        msg
    };
    let data = msg
        .as_data_vec()
        .map_err(|e| UnwrapError::Failed(format!("PGP decryption failed: {e}")))?;
    Ok(SecretBytes::new(data))
}
