//! Can a holder of these *public* keys recover a file's data key? Decided from the plaintext
//! `sops` metadata alone (recipients, key groups, Shamir threshold), so a build can catch "this
//! host cannot decrypt that file" before the system is deployed.
//!
//! A host key opens a master key when:
//! - an `age1…` recipient equals a listed `age1…` key, or the ssh-to-age conversion of a listed
//!   `ssh-ed25519` key (what `sops.age.sshKeyPaths` gives the installer);
//! - an `ssh-ed25519 …` recipient (SOPS ≥ 3.10 files) is the same key as a listed `ssh-ed25519`.
//!
//! PGP keys cannot be decided from an age or SSH key: a group that only PGP could open makes the
//! answer "unknown", never "no". Cloud keys (KMS, Vault…) never open anything here: nix-sops
//! cannot use them at boot.

use crate::sops::{MasterKey, Metadata};

/// One public key of the host, as `sops.hostPubKeys` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostKey {
    /// An age recipient (`age1…`, lowercased: bech32 is case-insensitive).
    Age(String),
    /// An `ssh-ed25519` key: the key text without comment, and its ssh-to-age recipient.
    SshEd25519 { line: String, age: String },
}

impl HostKey {
    /// Parses `age1…` or `ssh-ed25519 AAAA… [comment]`. The error names the entry and says how
    /// to get a valid one.
    pub(crate) fn parse(entry: &str) -> Result<HostKey, super::KeyError> {
        use super::KeyError::Invalid;
        let s = entry.trim();
        let age_prefix = s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("age1"));
        if age_prefix && s.len() > 4 && !s.contains(char::is_whitespace) {
            let lower = s.to_ascii_lowercase();
            // A typo would otherwise only show as "not a recipient".
            bech32::decode(&lower).map_err(|e| {
                Invalid(format!(
                    "host key {s:?} is not a valid age recipient (bech32: {e})"
                ))
            })?;
            return Ok(HostKey::Age(lower));
        }
        if s.starts_with("ssh-ed25519 ") {
            let age = super::ssh_to_age::public_key_to_age(s).map_err(|e| {
                Invalid(format!(
                    "host key {s:?} is not a valid ssh-ed25519 key: {e}"
                ))
            })?;
            return Ok(HostKey::SshEd25519 {
                line: key_text(s),
                age,
            });
        }
        Err(Invalid(format!(
            "host key {s:?} is neither an age recipient (age1…) nor an ssh-ed25519 public key; \
             use the host's `ssh-ed25519 AAAA…` (`ssh-keyscan -t ed25519 HOST | cut -d' ' -f2-`) \
             or its age recipient (`nix-sops ssh-to-age`)"
        )))
    }

    /// How messages show it: the key, and its age recipient for an SSH key.
    pub(crate) fn describe(&self) -> String {
        match self {
            HostKey::Age(a) => a.clone(),
            HostKey::SshEd25519 { line, age } => format!("{line} (as age: {age})"),
        }
    }

    /// Whether this key opens an age master key with `recipient`.
    pub(crate) fn opens(&self, recipient: &str) -> bool {
        let r = recipient.trim();
        match self {
            HostKey::Age(a) => r.eq_ignore_ascii_case(a),
            HostKey::SshEd25519 { line, age } => {
                r.eq_ignore_ascii_case(age)
                    || (r.starts_with("ssh-ed25519 ") && key_text(r) == *line)
            }
        }
    }
}

/// `type base64` of an OpenSSH public key line, without the comment.
fn key_text(line: &str) -> String {
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses every entry; the first bad one is the error.
pub(crate) fn parse_host_keys(entries: &[String]) -> Result<Vec<HostKey>, super::KeyError> {
    entries.iter().map(|e| HostKey::parse(e)).collect()
}

/// The answer for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Enough groups are openable; which ones (0-based).
    Opens { groups: Vec<usize> },
    /// Only with PGP keys, which cannot be checked from age/SSH keys: `pgp_groups` could make up
    /// the difference.
    Unknown {
        needed: usize,
        openable: usize,
        pgp_groups: Vec<usize>,
    },
    /// Not enough groups can be opened, whatever the PGP keys.
    Cannot { needed: usize, openable: usize },
}

/// How many groups the installer needs: every key opens a single group; several groups need
/// the Shamir threshold (all of them when it is absent) and at least two shares, as
/// [`super::Keyring::unwrap_data_key`] combines them.
pub(crate) fn groups_needed(metadata: &Metadata) -> usize {
    let n = metadata.key_groups.len();
    if n <= 1 {
        return 1;
    }
    let t = if metadata.shamir_threshold == 0 {
        n
    } else {
        metadata.shamir_threshold
    };
    t.max(2)
}

/// Decides whether `host` can recover the data key of a file with `metadata`.
pub(crate) fn decide(metadata: &Metadata, host: &[HostKey]) -> Verdict {
    let mut open = Vec::new();
    let mut pgp = Vec::new();
    for (i, group) in metadata.key_groups.iter().enumerate() {
        let opens = group.iter().any(|k| match k {
            MasterKey::Age { recipient, .. } => host.iter().any(|h| h.opens(recipient)),
            _ => false,
        });
        if opens {
            open.push(i);
        } else if group.iter().any(|k| matches!(k, MasterKey::Pgp { .. })) {
            pgp.push(i);
        }
    }
    let needed = groups_needed(metadata);
    if open.len() >= needed {
        Verdict::Opens { groups: open }
    } else if open.len() + pgp.len() >= needed {
        Verdict::Unknown {
            needed,
            openable: open.len(),
            pgp_groups: pgp,
        }
    } else {
        Verdict::Cannot {
            needed,
            openable: open.len(),
        }
    }
}

/// The file's master keys, one line each (`group 0: age recipient age1…`), for messages.
pub(crate) fn recipient_lines(metadata: &Metadata) -> Vec<String> {
    metadata
        .key_groups
        .iter()
        .enumerate()
        .flat_map(|(i, g)| {
            g.iter()
                .map(move |k| format!("group {i}: {}", k.describe()))
        })
        .collect()
}

/// Why an identity (as [`super::Keyring::descriptions`] describes it: source and public key)
/// did or did not fit the file, from the public key its description shows. `None` when the
/// description shows no public key (a plugin, a passphrase-encrypted file, a GnuPG home).
pub(crate) fn identity_verdict(description: &str, metadata: &Metadata) -> Option<String> {
    let words: Vec<&str> = description.split_whitespace().collect();
    let mut keys: Vec<HostKey> = Vec::new();
    let mut pgp: Option<String> = None;
    for (i, w) in words.iter().enumerate() {
        let w = w.trim_end_matches([',', ')', ';']);
        if w.starts_with("age1") {
            keys.push(HostKey::Age(w.to_ascii_lowercase()));
        } else if w == "ssh-ed25519" {
            if let Some(b64) = words.get(i + 1) {
                // The description's own text only: an age-ssh identity opens `ssh-ed25519`
                // stanzas, not the X25519 recipient of its conversion (that is another identity).
                keys.push(HostKey::SshEd25519 {
                    line: format!("ssh-ed25519 {b64}"),
                    age: String::new(),
                });
            }
        } else if w == "pgp" {
            pgp = words.get(i + 1).map(|f| f.to_ascii_uppercase());
        }
    }
    if keys.is_empty() && pgp.is_none() {
        return None;
    }
    let mut hits = Vec::new();
    for (gi, group) in metadata.key_groups.iter().enumerate() {
        for k in group {
            let hit = match k {
                MasterKey::Age { recipient, .. } => keys.iter().any(|h| h.opens(recipient)),
                MasterKey::Pgp { fingerprint, .. } => pgp.as_deref().is_some_and(|p| {
                    let f = fingerprint.to_ascii_uppercase();
                    !p.is_empty() && (f.ends_with(p) || p.ends_with(&f))
                }),
                MasterKey::Other { .. } => false,
            };
            if hit {
                hits.push(format!("group {gi}"));
            }
        }
    }
    Some(if hits.is_empty() {
        "not a recipient of this file".to_owned()
    } else {
        format!("a recipient in {}", hits.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // sops-nix's test vector: its ssh-ed25519-key.pub is the recipient age1a8pk4… (made by the Go
    // ssh-to-age) of its secrets.yaml (also nix/checks/test-assets/).
    const SSH: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBI1+Q+ntzANebtnicCiAY29uqLGWOaOGLEa8bUqOVmS x@y";
    const AGE: &str = "age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs";

    fn group(keys: &[&str], pgp: bool) -> crate::sops::KeyGroup {
        let mut g: crate::sops::KeyGroup = keys
            .iter()
            .map(|r| MasterKey::Age {
                recipient: r.to_string(),
                enc: String::new(),
            })
            .collect();
        if pgp {
            g.push(MasterKey::Pgp {
                fingerprint: "AB".into(),
                created_at: String::new(),
                enc: String::new(),
            });
        }
        g
    }

    fn metadata(groups: Vec<crate::sops::KeyGroup>, threshold: usize) -> Metadata {
        Metadata {
            shamir_threshold: threshold,
            key_groups: groups,
            lastmodified: String::new(),
            mac: String::new(),
            crypt_rule: Default::default(),
            mac_only_encrypted: false,
            version: String::new(),
        }
    }

    // The rules sops cannot be made to write (the real files are in tests/install/hostcheck.rs): an
    // absent threshold needs every group; a threshold of 1 still needs two shares, as
    // Keyring::unwrap_data_key combines them; cloud keys open nothing.
    #[test]
    fn thresholds_the_real_files_do_not_show() {
        let host = [HostKey::parse(AGE).unwrap()];
        let two = metadata(vec![group(&[AGE], false), group(&["age1other"], false)], 0);
        assert_eq!(
            decide(&two, &host),
            Verdict::Cannot {
                needed: 2,
                openable: 1
            }
        );
        let one = metadata(two.key_groups.clone(), 1);
        assert_eq!(groups_needed(&one), 2);
        let with_pgp = metadata(vec![group(&[AGE], false), group(&[], true)], 2);
        assert_eq!(
            decide(&with_pgp, &host),
            Verdict::Unknown {
                needed: 2,
                openable: 1,
                pgp_groups: vec![1]
            }
        );
        let both = metadata(vec![group(&[AGE], false), group(&["x", AGE], false)], 2);
        assert_eq!(decide(&both, &host), Verdict::Opens { groups: vec![0, 1] });
        let cloud = metadata(
            vec![vec![MasterKey::Other {
                kind: "kms",
                id: "arn".into(),
            }]],
            0,
        );
        assert!(matches!(decide(&cloud, &host), Verdict::Cannot { .. }));
    }

    #[test]
    fn parse_rejects_what_cannot_be_a_host_key() {
        assert!(HostKey::parse("ssh-rsa AAAAB3NzaC1yc2E").is_err());
        assert!(HostKey::parse("age1 with spaces").is_err());
        let e = HostKey::parse("hostname ssh-ed25519 AAAA")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ssh-keyscan"), "{e}");
        assert!(HostKey::parse("ssh-ed25519 notbase64").is_err());
        // One character changed: the checksum fails.
        assert!(HostKey::parse(&AGE.replace('q', "p")).is_err());
    }

    #[test]
    fn ssh_key_opens_itself_and_its_age_conversion() {
        let k = HostKey::parse(SSH).unwrap();
        let bare = SSH.rsplit_once(' ').unwrap().0;
        assert!(k.opens(bare));
        assert!(k.opens(&format!("{bare} other@comment")));
        assert!(k.opens(AGE));
        assert!(k.opens(&AGE.to_uppercase()));
        assert!(!k.opens("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther"));
        assert!(!k.opens("age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw"));
        let a = HostKey::parse(AGE).unwrap();
        assert!(a.opens(AGE));
        // An age key cannot open an ssh-ed25519 stanza, even of the key it was converted from.
        assert!(!a.opens(bare));
    }
}
