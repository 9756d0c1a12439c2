//! ssh-to-age: an OpenSSH ed25519 key as an age X25519 identity, exactly as Mic92/ssh-to-age (and
//! so sops-nix's `sops.age.sshKeyPaths`) converts it.
//!
//! - private: the 32-byte ed25519 seed → SHA-512 → the first 32 bytes, bech32 `AGE-SECRET-KEY-1…`
//!   (unclamped, as ssh-to-age prints it; X25519 clamps when it multiplies);
//! - public: the Edwards point → its Montgomery u-coordinate, bech32 `age1…`.

use crate::secret::SecretString;
use bech32::{Bech32, Hrp};
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

/// Why an SSH key cannot be converted to age (as ssh-to-age refuses it).
#[derive(Debug, thiserror::Error)]
pub enum SshToAgeError {
    /// Not an OpenSSH private key file.
    #[error("not an OpenSSH private key: {0}")]
    Parse(String),
    #[error("the SSH key is passphrase-protected; nix-sops cannot ask for the passphrase")]
    /// A passphrase-protected private key.
    Encrypted,
    #[error("only ed25519 keys can be converted to age, this is a {0} key")]
    /// Another key type (its name).
    NotEd25519(String),
    #[error("not an OpenSSH public key line: {0}")]
    /// Not an `ssh-… AAAA…` public key line.
    PublicParse(String),
    #[error("the ed25519 public key is not a valid curve point")]
    /// An ed25519 public key that is not a point on the curve.
    InvalidPoint,
}

/// The result of converting a private key: the identity (secret) and its recipient.
pub struct Converted {
    /// `AGE-SECRET-KEY-1…`, the line ssh-to-age prints.
    pub identity_line: SecretString,
    /// The same key as an age identity, ready to decrypt.
    pub identity: ::age::x25519::Identity,
    /// `age1…`
    pub recipient: String,
}

/// Converts an OpenSSH ed25519 private key file's content.
pub fn convert_private_key(bytes: &[u8]) -> Result<Converted, SshToAgeError> {
    let key = ssh_key::PrivateKey::from_openssh(bytes)
        .map_err(|e| SshToAgeError::Parse(e.to_string()))?;
    let recipient = recipient_of(key.public_key().key_data())?;
    if key.is_encrypted() {
        return Err(SshToAgeError::Encrypted);
    }
    let pair = key
        .key_data()
        .ed25519()
        .ok_or_else(|| SshToAgeError::NotEd25519(key.algorithm().as_str().to_owned()))?;
    let seed = Zeroizing::new(pair.private.to_bytes());
    let hash = Zeroizing::new(Sha512::digest(seed.as_slice()));
    let scalar = Zeroizing::new(<[u8; 32]>::try_from(&hash[..32]).expect("64-byte hash"));
    let hrp = Hrp::parse("age-secret-key-").expect("valid HRP");
    let lower = Zeroizing::new(
        bech32::encode::<Bech32>(hrp, scalar.as_slice()).expect("32 bytes fit in bech32"),
    );
    let identity_line = SecretString::new(lower.to_uppercase());
    let identity: ::age::x25519::Identity = identity_line
        .expose()
        .parse()
        .expect("a bech32 AGE-SECRET-KEY-1 of 32 bytes parses");
    Ok(Converted {
        identity_line,
        identity,
        recipient,
    })
}

/// Converts an ed25519 public key line (`ssh-ed25519 AAAA… comment`) to its `age1…` recipient.
pub fn public_key_to_age(line: &str) -> Result<String, SshToAgeError> {
    let key = ssh_key::PublicKey::from_openssh(line.trim())
        .map_err(|e| SshToAgeError::PublicParse(e.to_string()))?;
    recipient_of(key.key_data())
}

fn recipient_of(data: &ssh_key::public::KeyData) -> Result<String, SshToAgeError> {
    let ed = data
        .ed25519()
        .ok_or_else(|| SshToAgeError::NotEd25519(data.algorithm().as_str().to_owned()))?;
    let point = curve25519_dalek::edwards::CompressedEdwardsY(ed.0)
        .decompress()
        .ok_or(SshToAgeError::InvalidPoint)?;
    let u = point.to_montgomery().to_bytes();
    Ok(
        bech32::encode::<Bech32>(Hrp::parse("age").expect("valid HRP"), &u)
            .expect("32 bytes fit in bech32"),
    )
}

/// `ssh-ed25519 AAAA…` / `ssh-rsa AAAA…` of an OpenSSH private key file (for descriptions).
pub(crate) fn public_key_line(bytes: &[u8]) -> Option<String> {
    let key = ssh_key::PrivateKey::from_openssh(bytes).ok()?;
    let mut line = key.public_key().to_openssh().ok()?;
    // Drop the comment: descriptions show the key, not the user@host it was made on.
    if let Some(i) = line.match_indices(' ').nth(1).map(|(i, _)| i) {
        line.truncate(i);
    }
    Some(line)
}
