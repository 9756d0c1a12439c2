//! Where sops finds identities. (Minimal until the keys work lands: key files only.)

use super::Keyring;
use std::path::PathBuf;

/// Loads `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`, the XDG `sops/age/keys.txt`, and explicit files.
pub fn from_sops_env(identities: &[PathBuf], _ssh_keys: &[PathBuf]) -> Keyring {
    let mut ring = Keyring::new();
    let add_text =
        |ring: &mut Keyring, source: String, text: &str| match super::age::parse_identity_file(
            &source, text,
        ) {
            Ok(ids) => ring.age.extend(ids),
            Err(e) => ring.load_errors.push(e),
        };
    if let Ok(text) = std::env::var("SOPS_AGE_KEY") {
        add_text(&mut ring, "SOPS_AGE_KEY".into(), &text);
    }
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(f) = std::env::var_os("SOPS_AGE_KEY_FILE") {
        files.push(f.into());
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(c) = config {
        let p = c.join("sops/age/keys.txt");
        if p.exists() {
            files.push(p);
        }
    }
    files.extend(identities.iter().cloned());
    for f in files {
        match std::fs::read_to_string(&f) {
            Ok(text) => add_text(&mut ring, f.display().to_string(), &text),
            Err(e) => ring.load_errors.push(format!("{}: {e}", f.display())),
        }
    }
    ring
}
