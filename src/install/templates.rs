//! Templates: placeholders replaced by secret values in one left-to-right pass (so a secret value
//! that happens to contain another placeholder is never substituted again).
//!
//! Secrets with `neededForUsers` are not in this manifest (they are in the for-users manifest,
//! installed earlier in activation: `users.deps = [ "setupSecretsForUsers" ]`), but their
//! placeholders are in `placeholderBySecretName`. sops-nix left those placeholders in the output.
//! We read their values from the live for-users generation, `<symlinkPath>-for-users/<name>`
//! (`/run/secrets-for-users/<name>`), which is root-only and already installed; when it is
//! missing, the install fails naming the template and the secret instead of writing a literal
//! placeholder.

use super::plan::Entry;
use super::{Error, ErrorKind, Result};
use crate::manifest::Manifest;
use crate::secret::SecretBytes;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `/run/secrets` → `/run/secrets-for-users`.
pub(crate) fn for_users_dir(symlink_path: &Path) -> PathBuf {
    let mut s = symlink_path.as_os_str().to_owned();
    s.push("-for-users");
    PathBuf::from(s)
}

/// Each template's text: `content` if non-empty, else the `file` (as sops-nix).
pub(crate) fn texts(m: &Manifest) -> Result<Vec<String>> {
    m.templates
        .iter()
        .map(|t| {
            if !t.content.is_empty() {
                return Ok(t.content.clone());
            }
            let f = t.file.as_ref().expect("validated: content or file");
            // Not followed if it is a link (the module gives store paths): whoever owns the file
            // must not be able to swap in a link to a root-only file and get its text rendered.
            let bytes = super::input::read(f, super::input::TEMPLATE_FILE).map_err(|e| {
                Error::new(ErrorKind::Template, format!("template {}: {e}", t.name))
            })?;
            String::from_utf8(bytes.to_vec()).map_err(|_| {
                Error::new(
                    ErrorKind::Template,
                    format!("template {}: {} is not UTF-8 text", t.name, f.display()),
                )
            })
        })
        .collect()
}

pub(crate) fn render(
    m: &Manifest,
    name: &str,
    text: &str,
    secrets: &[Entry],
    for_users: &Path,
) -> Result<SecretBytes> {
    let by_name: HashMap<&str, &Entry> = secrets.iter().map(|e| (e.name.as_str(), e)).collect();
    // Longest placeholder first, so one that is a prefix of another never wins.
    let mut placeholders: Vec<(&str, &str)> = m
        .placeholder_by_secret_name
        .iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(n, p)| (p.as_str(), n.as_str()))
        .collect();
    placeholders.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    let mut out = SecretBytes::new(Vec::with_capacity(text.len()));
    let mut external: HashMap<&str, SecretBytes> = HashMap::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut last = 0;
    while i < bytes.len() {
        let hit = placeholders
            .iter()
            .find(|(p, _)| bytes[i..].starts_with(p.as_bytes()));
        let Some((p, secret)) = hit else {
            i += 1;
            continue;
        };
        out.extend_from_slice(&bytes[last..i]);
        if let Some(e) = by_name.get(secret) {
            out.extend_from_slice(e.data.expose());
        } else {
            if !external.contains_key(secret) {
                let v = read_for_users(for_users, name, secret)?;
                external.insert(secret, v);
            }
            out.extend_from_slice(external[secret].expose());
        }
        i += p.len();
        last = i;
    }
    out.extend_from_slice(&bytes[last..]);
    Ok(out)
}

/// The neededForUsers copy of `secret`, which `template` uses but this manifest does not hold.
fn read_for_users(dir: &Path, template: &str, secret: &str) -> Result<SecretBytes> {
    let fail = |why: String| {
        Error::new(ErrorKind::Template, format!(
            "template {template} uses the placeholder of secret {secret}, which is not in this manifest, and {why}"
        ))
    };
    crate::manifest::check_name("secret", secret).map_err(|e| fail(e.to_string()))?;
    let p = dir.join(secret);
    std::fs::read(&p).map(SecretBytes::new).map_err(|e| {
        fail(format!(
            "its neededForUsers copy {} cannot be read ({e}); the for-users secrets must be installed first",
            p.display()
        ))
    })
}
