//! `-check-mode=sopsfile`: proves, without keys, that every secret's key exists in its (still
//! encrypted) sops file, and, when the manifest lists the machine's public keys
//! (`hostPubKeys`), that the machine can recover each file's data key. Each file is read and
//! parsed once.

use super::{Error, ErrorKind, Result};
use crate::keys::recipients::{self, HostKey, Verdict};
use crate::manifest::Manifest;
use crate::sops::path::{lookup, parse_slash_key};
use crate::sops::Format;
use std::collections::HashMap;
use std::path::Path;

pub(crate) fn sops_files(m: &Manifest) -> Result<()> {
    let host = recipients::parse_host_keys(&m.host_pub_keys)
        .map_err(|e| Error::new(ErrorKind::Manifest, format!("hostPubKeys: {e}")))?;
    let mut loaded: HashMap<&Path, crate::sops::EncryptedFile> = HashMap::new();
    for (file, format) in m.sops_files() {
        loaded.insert(file, super::plan::load_sops_file(file, format)?);
    }
    for s in &m.secrets {
        if matches!(s.format, Format::Binary | Format::Dotenv | Format::Ini) || s.key.is_empty() {
            continue;
        }
        let f = &loaded[s.sops_file.as_path()];
        lookup(&f.tree, &parse_slash_key(&s.key)).map_err(|e| {
            Error::new(
                ErrorKind::Decrypt,
                format!(
                    "secret {} in {} is not valid: the key '{}' cannot be found ({e})",
                    s.name,
                    s.sops_file.display(),
                    s.key
                ),
            )
        })?;
    }
    if !host.is_empty() {
        host_can_decrypt(m, &loaded, &host)?;
    }
    Ok(())
}

/// Every file must be openable with the host's keys; all files that are not are reported at
/// once. Files only PGP could open are a warning (on stderr): an age/SSH key says nothing
/// about them.
fn host_can_decrypt(
    m: &Manifest,
    loaded: &HashMap<&Path, crate::sops::EncryptedFile>,
    host: &[HostKey],
) -> Result<()> {
    let mut failures = Vec::new();
    for (file, _) in m.sops_files() {
        let metadata = &loaded[file].metadata;
        let secrets = || {
            m.secrets
                .iter()
                .filter(|s| s.sops_file == file)
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match recipients::decide(metadata, host) {
            Verdict::Opens { .. } => {}
            Verdict::Unknown {
                needed,
                openable,
                pgp_groups,
            } => eprintln!(
                "warning: cannot tell whether this host can decrypt {} (secrets: {}): the host's \
                 age/ssh keys open {openable} of the {needed} key groups needed, and groups {:?} \
                 hold only PGP keys, which hostPubKeys cannot describe",
                file.display(),
                secrets(),
                pgp_groups
            ),
            Verdict::Cannot { needed, openable } => {
                let mut msg = format!(
                    "{} (secrets: {}) cannot be decrypted by this host: ",
                    file.display(),
                    secrets()
                );
                if metadata.key_groups.len() > 1 {
                    msg.push_str(&format!(
                        "{needed} of its {} key groups are needed (Shamir threshold), the host's \
                         keys open {openable}",
                        metadata.key_groups.len()
                    ));
                } else {
                    msg.push_str("none of its recipients is a key of this host");
                }
                msg.push_str("\n  the file's recipients:");
                for line in recipients::recipient_lines(metadata) {
                    msg.push_str(&format!("\n    {line}"));
                }
                msg.push_str("\n  the host's keys (sops.hostPubKeys):");
                for k in host {
                    msg.push_str(&format!("\n    {}", k.describe()));
                }
                failures.push(msg);
            }
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Decrypt,
        format!(
        "{}\nfix: add the host's key to the file's creation rule in .sops.yaml (for an ssh-ed25519 \
         host key, its age recipient from `nix-sops ssh-to-age`; with key groups, in as many \
         groups as the threshold needs), then run `nix-sops updatekeys -y FILE` and rebuild",
        failures.join("\n")
    ),
    ))
}
