//! age identities: X25519 and plugin identity files (as SOPS parses them), passphrase-encrypted
//! identity files, and native age-ssh identities from OpenSSH private keys.

use super::{AgeIdentity, KeyError, UnwrapError};
use crate::secret::SecretBytes;
use std::sync::Arc;

/// Asks for a passphrase (an encrypted identity file, a plugin PIN). `None` means "cannot ask".
pub(crate) type PassphraseFn = dyn Fn(&str) -> Option<crate::secret::SecretString> + Send + Sync;

/// age callbacks for plugins and encrypted identities. Plugin messages go to the log (they are
/// prompts such as "touch your YubiKey", never key material); nothing is ever read from a
/// terminal, so activation can't hang.
#[derive(Clone, Default)]
pub(crate) struct Callbacks {
    pub passphrase: Option<Arc<PassphraseFn>>,
}

impl ::age::Callbacks for Callbacks {
    fn display_message(&self, message: &str) {
        log::info!("age plugin: {message}");
    }

    fn confirm(&self, message: &str, _yes: &str, _no: Option<&str>) -> Option<bool> {
        log::warn!("age plugin asks for a confirmation nix-sops cannot give: {message}");
        None
    }

    fn request_public_string(&self, description: &str) -> Option<String> {
        log::warn!("age plugin asks for input nix-sops cannot give: {description}");
        None
    }

    fn request_passphrase(&self, description: &str) -> Option<::age::secrecy::SecretString> {
        let f = self.passphrase.as_ref()?;
        let pass = f(description)?;
        Some(::age::secrecy::SecretString::from(pass.expose().to_owned()))
    }
}

/// Decrypts an armored age file (the `enc` of an age master key) with any of the identities.
pub(crate) fn unwrap(identities: &[AgeIdentity], enc: &str) -> Result<SecretBytes, UnwrapError> {
    if identities.is_empty() {
        return Err(UnwrapError::NoAgeIdentity);
    }
    let reader = ::age::armor::ArmoredReader::new(enc.as_bytes());
    let decryptor = ::age::Decryptor::new(reader)
        .map_err(|e| UnwrapError::Failed(format!("malformed age ciphertext: {e}")))?;
    let mut out = decryptor
        .decrypt(
            identities
                .iter()
                .map(|i| i.identity.as_ref() as &dyn ::age::Identity),
        )
        .map_err(|e| match e {
            ::age::DecryptError::NoMatchingKeys => UnwrapError::NoMatchingAgeIdentity,
            other => UnwrapError::Failed(format!("age decryption failed: {other}")),
        })?;
    let mut buf = SecretBytes::with_capacity(64);
    buf.read_to_end(&mut out)
        .map_err(|e| UnwrapError::Failed(format!("age decryption failed: {e}")))?;
    Ok(buf)
}

/// What loading one identity source gave: the identities, and lines that could not be used
/// without making the whole source fail (a plugin whose binary is missing).
pub(crate) struct Parsed {
    pub identities: Vec<AgeIdentity>,
    pub problems: Vec<KeyError>,
}

/// Parses an identity file's text (`AGE-SECRET-KEY-1…`, `AGE-PLUGIN-…` lines, `#` comments,
/// blank lines). As SOPS: any other line makes the whole source fail. A plugin line whose binary
/// is not on `PATH` also fails here, naming the binary.
pub fn parse_identity_file(source: &str, text: &str) -> Result<Vec<AgeIdentity>, KeyError> {
    let parsed = parse_source(source, text.as_bytes(), &Callbacks::default())?;
    match parsed.problems.into_iter().next() {
        Some(p) => Err(p),
        None => Ok(parsed.identities),
    }
}

/// Parses one source as SOPS' `unwrapIdentities` does: a passphrase-encrypted identity file if
/// it starts with `age-encryption` or `-----BEGIN AGE`, else identity lines.
pub(crate) fn parse_source(
    source: &str,
    bytes: &[u8],
    callbacks: &Callbacks,
) -> Result<Parsed, KeyError> {
    if bytes.starts_with(b"age-encryption") || bytes.starts_with(b"-----BEGIN AGE") {
        return parse_encrypted(source, bytes, callbacks);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| {
        KeyError::Invalid(format!(
            "{source}: not UTF-8 text, so not an age identity file"
        ))
    })?;
    let mut out = Parsed {
        identities: Vec::new(),
        problems: Vec::new(),
    };
    // Go's bufio.Scanner splits on \n and drops one trailing \r; nothing else is trimmed.
    for (n, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let lineno = n + 1;
        if line.starts_with("AGE-PLUGIN-") {
            match parse_plugin(source, lineno, line, callbacks) {
                Ok(id) => out.identities.push(id),
                // A missing plugin spoils only its own line.
                Err(e @ KeyError::MissingPlugin(_)) => out.problems.push(e),
                Err(e) => return Err(e),
            }
        } else if line.starts_with("AGE-SECRET-KEY-PQ-1") {
            return Err(KeyError::Invalid(format!(
                "{source}: line {lineno} is a post-quantum (ML-KEM) age identity, which nix-sops \
                 does not support yet"
            )));
        } else if line.starts_with("AGE-SECRET-KEY-1") {
            let id: ::age::x25519::Identity = line.parse().map_err(|_| {
                KeyError::Invalid(format!(
                    "{source}: line {lineno} is not a valid AGE-SECRET-KEY-1 identity"
                ))
            })?;
            let recipient = id.to_public().to_string();
            out.identities.push(AgeIdentity {
                description: format!("{source}: {recipient}"),
                identity: Box::new(id),
            });
        } else {
            // Never echo the line: it may be a mangled secret key.
            return Err(KeyError::Invalid(format!(
                "{source}: line {lineno} is not an age identity (unknown identity type; expected \
                 AGE-SECRET-KEY-1… or AGE-PLUGIN-…)"
            )));
        }
    }
    Ok(out)
}

fn parse_plugin(
    source: &str,
    lineno: usize,
    line: &str,
    callbacks: &Callbacks,
) -> Result<AgeIdentity, KeyError> {
    let id: ::age::plugin::Identity = line.parse().map_err(|e| {
        KeyError::Invalid(format!(
            "{source}: line {lineno} is not a valid age plugin identity ({e})"
        ))
    })?;
    let name = id.plugin().to_owned();
    match ::age::plugin::IdentityPluginV1::new(&name, &[id], callbacks.clone()) {
        Ok(plugin) => Ok(AgeIdentity {
            description: format!("{source}: age plugin identity (age-plugin-{name})"),
            identity: Box::new(plugin),
        }),
        Err(::age::plugin::ResolveError::MissingPlugin { binary_name }) => {
            Err(KeyError::MissingPlugin(format!(
                "{source}: line {lineno} needs the age plugin binary `{binary_name}`, which is \
                 not on PATH (install it, or add it to sops.age.plugins)"
            )))
        }
        Err(e) => Err(KeyError::Invalid(format!(
            "{source}: line {lineno}: age plugin `{name}`: {e}"
        ))),
    }
}

fn parse_encrypted(source: &str, bytes: &[u8], callbacks: &Callbacks) -> Result<Parsed, KeyError> {
    if callbacks.passphrase.is_none() {
        return Err(KeyError::Locked(format!(
            "{source} is a passphrase-encrypted age identity file; nix-sops runs unattended and \
             cannot ask for the passphrase: decrypt it (`age -d`) into a file only root can read"
        )));
    }
    let reader = ::age::armor::ArmoredReader::new(bytes);
    let decryptor = ::age::Decryptor::new(reader).map_err(|e| {
        KeyError::Invalid(format!(
            "{source}: malformed passphrase-encrypted identity file: {e}"
        ))
    })?;
    let encrypted = ::age::encrypted::EncryptedIdentity::new(decryptor, callbacks.clone(), None)
        .ok_or_else(|| {
            KeyError::Invalid(format!(
                "{source}: an age-encrypted file that is not passphrase-encrypted"
            ))
        })?;
    let file = encrypted.decrypt(Some(source)).map_err(|e| match e {
        ::age::DecryptError::KeyDecryptionFailed => KeyError::Locked(format!(
            "{source}: wrong or missing passphrase for the encrypted identity file (nix-sops \
                 asks on the terminal, /dev/tty; without one, decrypt it with `age -d` first)"
        )),
        other => KeyError::Invalid(format!(
            "{source}: cannot decrypt the identity file: {other}"
        )),
    })?;
    let ids = file
        .into_identities()
        .map_err(|e| KeyError::Invalid(format!("{source}: {e}")))?;
    Ok(Parsed {
        identities: ids
            .into_iter()
            .map(|identity| AgeIdentity {
                description: format!("{source}: identity from a passphrase-encrypted file"),
                identity,
            })
            .collect(),
        problems: Vec::new(),
    })
}

/// A native age-ssh identity (`ssh-ed25519` / `ssh-rsa` stanzas, SOPS >= 3.10) from an OpenSSH
/// private key file's content. `source` names the file in descriptions and errors.
#[cfg(feature = "ssh")]
pub(crate) fn ssh_identity(
    source: &str,
    bytes: &[u8],
    callbacks: &Callbacks,
) -> Result<AgeIdentity, KeyError> {
    let identity =
        ::age::ssh::Identity::from_buffer(std::io::BufReader::new(bytes), Some(source.into()))
            .map_err(|e| KeyError::Invalid(format!("{source}: malformed SSH identity: {e}")))?;
    let public = super::ssh_to_age::public_key_line(bytes)
        .or_else(|| {
            std::fs::read_to_string(format!("{source}.pub"))
                .ok()
                .map(|s| s.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "ssh key".into());
    let identity: Box<dyn ::age::Identity + Send + Sync> = match identity {
        ::age::ssh::Identity::Unencrypted(_) => Box::new(identity),
        ::age::ssh::Identity::Encrypted(_) => {
            if callbacks.passphrase.is_none() {
                return Err(KeyError::Locked(format!(
                    "{source}: the SSH key is passphrase-protected; nix-sops runs unattended and \
                     cannot ask for the passphrase"
                )));
            }
            Box::new(identity.with_callbacks(callbacks.clone()))
        }
        ::age::ssh::Identity::Unsupported(k) => {
            return Err(KeyError::Invalid(format!(
                "{source}: unsupported SSH key for age: {k:?}"
            )));
        }
    };
    Ok(AgeIdentity {
        description: format!("{source}: {public} (age-ssh)"),
        identity,
    })
}

#[cfg(not(feature = "ssh"))]
pub(crate) fn ssh_identity(source: &str, _: &[u8], _: &Callbacks) -> Result<AgeIdentity, KeyError> {
    Err(KeyError::Setting(format!(
        "{source}: SSH age identities need nix-sops built with the `ssh` feature"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blank_lines_and_crlf() {
        let key = ::age::x25519::Identity::generate();
        let text = format!(
            "# created: now\r\n\r\n{}\r\n# public key\n",
            age::secrecy::ExposeSecret::expose_secret(&key.to_string())
        );
        let ids = parse_identity_file("test", &text).unwrap();
        assert_eq!(ids.len(), 1);
        assert!(ids[0].description.contains(&key.to_public().to_string()));
    }

    #[test]
    fn other_lines_fail_the_source_without_echoing() {
        let err =
            parse_identity_file("keys.txt", "# c\nAGE-SECRET-KEY-1SECRETSTUFF\n").unwrap_err();
        assert!(matches!(err, KeyError::Invalid(_)), "{err:?}");
        let err = err.to_string();
        assert!(err.contains("keys.txt: line 2"), "{err}");
        assert!(!err.contains("SECRETSTUFF"), "{err}");
        let err = parse_identity_file("keys.txt", "  AGE-SECRET-KEY-1X\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown identity type"), "{err}");
        assert!(!err.contains("AGE-SECRET-KEY-1X"), "{err}");
    }

    #[test]
    fn encrypted_identity_file_without_passphrase_is_a_clear_error() {
        let err =
            parse_identity_file("k.age", "age-encryption.org/v1\n-> scrypt x 10\n").unwrap_err();
        assert!(matches!(err, KeyError::Locked(_)), "{err:?}");
        assert!(err.to_string().contains("passphrase-encrypted"), "{err}");
    }
}
