//! age identities: X25519 key files. (SSH, plugins and ssh-to-age are being written.)

use super::AgeIdentity;
use crate::secret::SecretBytes;
use std::io::Read;

/// Decrypts an armored age file (the `enc` of an age master key) with any of the identities.
pub fn unwrap(identities: &[AgeIdentity], enc: &str) -> Result<SecretBytes, String> {
    if identities.is_empty() {
        return Err("no age identity available".into());
    }
    let reader = ::age::armor::ArmoredReader::new(enc.as_bytes());
    let decryptor =
        ::age::Decryptor::new(reader).map_err(|e| format!("malformed age ciphertext: {e}"))?;
    let mut out = decryptor
        .decrypt(
            identities
                .iter()
                .map(|i| i.identity.as_ref() as &dyn ::age::Identity),
        )
        .map_err(|e| match e {
            ::age::DecryptError::NoMatchingKeys => {
                "none of the age identities matches this recipient".to_owned()
            }
            other => format!("age decryption failed: {other}"),
        })?;
    let mut buf = SecretBytes::new(Vec::with_capacity(64));
    out.read_to_end(buf.expose_mut())
        .map_err(|e| format!("age decryption failed: {e}"))?;
    Ok(buf)
}

/// Parses an identity file's text (`AGE-SECRET-KEY-1…` lines, comments, blank lines).
pub fn parse_identity_file(source: &str, text: &str) -> Result<Vec<AgeIdentity>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let id: ::age::x25519::Identity = line
            .parse()
            .map_err(|_| format!("{source}: line {} is not an age identity", n + 1))?;
        let recipient = id.to_public().to_string();
        out.push(AgeIdentity {
            description: format!("{source}: {recipient}"),
            identity: Box::new(id),
        });
    }
    Ok(out)
}
