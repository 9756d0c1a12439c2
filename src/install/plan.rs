//! The plan: everything an install will write, decided before anything is touched. Each sops file
//! is decrypted once, however many secrets it holds; its plaintext tree is dropped as soon as its
//! secrets are extracted.

use super::owners::{self, Owner, Policy};
use super::{Context, Error, ErrorKind, Result};
use crate::manifest::{Manifest, Secret, Target, RENDERED_DIR};
use crate::secret::SecretBytes;
use crate::sops::path::{lookup, parse_slash_key, render, Component, Found};
use crate::sops::tree::{map_get, MapItem};
use crate::sops::{Format, PlainTree, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    Secret,
    Template,
}

impl Kind {
    /// The word messages use for an entry of this kind.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Kind::Secret => "secret",
            Kind::Template => "template",
        }
    }
}

/// One file of the new generation.
#[derive(Debug)]
pub(crate) struct Entry {
    pub kind: Kind,
    pub name: String,
    /// Path relative to the generation directory (`db/pass`, `rendered/app.env`).
    pub rel: String,
    pub data: SecretBytes,
    pub owner: Owner,
    pub mode: u32,
    /// Out-of-tree path that gets a symlink, when `path` is not the default one.
    pub link: Option<PathBuf>,
    /// What that symlink points to (`symlinkPath/name`).
    pub link_target: PathBuf,
    pub restart_units: Vec<String>,
    pub reload_units: Vec<String>,
}

/// Where plaintext comes from: the real sops decryption, or a test double. The plan owns it.
pub trait Source {
    /// Called once, after the owners are checked and before the first `decrypt` (loads keys).
    fn prepare(&mut self, _m: &Manifest, _prog: &str) -> Result<()> {
        Ok(())
    }
    /// The plaintext of one sops file, decrypted with the keys `prepare` loaded.
    fn decrypt(&mut self, sops_file: &Path, format: Format) -> Result<PlainTree>;
    /// How many files were decrypted.
    fn decrypted(&self) -> usize {
        0
    }
}

/// Decrypts with the SOPS core and the keys the manifest names (loaded by `prepare`).
#[derive(Default)]
pub(crate) struct SopsSource {
    pub keyring: crate::keys::Keyring,
    /// How many files were decrypted (each file once).
    pub decrypted: usize,
}

impl Source for SopsSource {
    fn prepare(&mut self, m: &Manifest, prog: &str) -> Result<()> {
        let imported = super::keys::load(m, prog)?;
        for w in &imported.warnings {
            eprintln!("{prog}: warning: {w}");
        }
        if !m.secrets.is_empty() {
            imported.require_some()?;
        }
        self.keyring = imported.keyring;
        Ok(())
    }

    fn decrypted(&self) -> usize {
        self.decrypted
    }

    fn decrypt(&mut self, sops_file: &Path, format: Format) -> Result<PlainTree> {
        let file = load_sops_file(sops_file, format)?;
        let key = self.keyring.unwrap_data_key(&file.metadata).map_err(|e| {
            Error::new(
                ErrorKind::Decrypt,
                format!("failed to decrypt '{}': {e}", sops_file.display()),
            )
        })?;
        self.decrypted += 1;
        file.decrypt(&key, crate::sops::DecryptOptions::default())
            .map_err(|e| {
                Error::new(
                    ErrorKind::Decrypt,
                    format!("failed to decrypt '{}': {e}", sops_file.display()),
                )
            })
    }
}

/// The bytes a secret's file holds: a key's value, or the whole document.
/// A decrypted document with an index of its top-level keys, so that extracting thousands of
/// secrets from one file stays linear (the tree's maps are ordered lists).
pub(crate) struct Doc<'a> {
    pub plain: &'a PlainTree,
    top: HashMap<&'a str, &'a Value>,
}

impl<'a> Doc<'a> {
    pub(crate) fn new(plain: &'a PlainTree) -> Doc<'a> {
        let mut top = HashMap::new();
        if let Some(root) = plain.tree.branches.first() {
            for item in root {
                if let MapItem::Entry(k, v) = item {
                    // The first entry wins, as in SOPS.
                    top.entry(k.as_str()).or_insert(v);
                }
            }
        }
        Doc { plain, top }
    }

    fn find(&self, comps: &[Component]) -> Option<&'a Value> {
        let (Component::Key(first), rest) = comps.split_first()? else {
            return None;
        };
        let mut v = *self.top.get(first.as_str())?;
        for c in rest {
            let Component::Key(k) = c else { return None };
            v = map_get(v.as_map()?, k)?;
        }
        Some(v)
    }
}

pub(crate) fn extract(doc: &Doc<'_>, s: &Secret) -> Result<SecretBytes> {
    let plain = doc.plain;
    let whole =
        matches!(s.format, Format::Binary | Format::Dotenv | Format::Ini) || s.key.is_empty();
    if whole {
        return plain.emit(s.format).map_err(|e| {
            Error::new(
                ErrorKind::Decrypt,
                format!(
                    "secret {}: cannot write {} as {}: {e}",
                    s.name,
                    s.sops_file.display(),
                    s.format
                ),
            )
        });
    }
    let path = parse_slash_key(&s.key);
    let found = match doc.find(&path) {
        Some(v) => Ok(Found::Value(v)),
        // Not found through the index: the full lookup gives the precise error.
        None => lookup(&plain.tree, &path),
    };
    let found = found.map_err(|e| {
        Error::new(
            ErrorKind::Decrypt,
            format!(
                "secret {}: the key '{}' cannot be found in {} ({e})",
                s.name,
                s.key,
                s.sops_file.display()
            ),
        )
    })?;
    let value = match found {
        Found::Value(v) => v,
        Found::Comment(_) => {
            return Err(Error::new(
                ErrorKind::Decrypt,
                format!(
                    "secret {}: the key '{}' in {} is a comment",
                    s.name,
                    s.key,
                    s.sops_file.display()
                ),
            ))
        }
    };
    let cannot = |e: crate::sops::EmitError| {
        Error::new(
            ErrorKind::Decrypt,
            format!(
                "secret {}: cannot write the {} at {} of {}: {e}",
                s.name,
                value.kind(),
                render(&path),
                s.sops_file.display()
            ),
        )
    };
    match value {
        Value::Str(v) => Ok(SecretBytes::new(v.expose().as_bytes().to_vec())),
        Value::Bytes(b) => Ok(b.clone()),
        // A map is a whole document of the file's format (as `sops decrypt --extract` prints it).
        Value::Map(m) => crate::sops::stores::emit(
            s.format,
            &crate::sops::Tree {
                branches: vec![m.clone()],
            },
        )
        .map_err(cannot),
        // Everything else exactly as `sops decrypt --extract` prints it (numbers, bools, lists).
        other => crate::sops::stores::emit_value(s.format, other).map_err(cannot),
    }
}

/// Decrypts each sops file once and extracts all secrets; returns entries in manifest order.
pub(crate) fn secrets(m: &Manifest, source: &mut dyn Source, policy: Policy) -> Result<Vec<Entry>> {
    let mut by_file: BTreeMap<&Path, Vec<usize>> = BTreeMap::new();
    for (i, s) in m.secrets.iter().enumerate() {
        by_file.entry(s.sops_file.as_path()).or_default().push(i);
    }
    let mut values: Vec<Option<SecretBytes>> = (0..m.secrets.len()).map(|_| None).collect();
    for (file, idx) in by_file {
        let plain = source.decrypt(file, m.secrets[idx[0]].format)?;
        let doc = Doc::new(&plain);
        for i in idx {
            values[i] = Some(extract(&doc, &m.secrets[i])?);
        }
    }
    let mut out = Vec::with_capacity(m.secrets.len());
    for (s, v) in m.secrets.iter().zip(values) {
        let data = v.expect("every secret extracted");
        let link_target = m.symlink_path.join(&s.name);
        out.push(Entry::new(
            Kind::Secret,
            &s.name,
            s.name.clone(),
            data,
            &s.target,
            link_target,
            policy,
        )?);
    }
    Ok(out)
}

/// `kind name`'s owner under `policy`.
fn resolve_owner(kind: Kind, name: &str, t: &Target, policy: Policy) -> Result<Owner> {
    owners::resolve(
        &format!("{} {name}", kind.word()),
        t.owner.as_deref(),
        t.uid,
        t.group.as_deref(),
        t.gid,
        policy,
    )
}

impl Entry {
    /// The entry of a secret or template: its owner resolved, and a link when its path is not
    /// `link_target` (the default location).
    fn new(
        kind: Kind,
        name: &str,
        rel: String,
        data: SecretBytes,
        t: &Target,
        link_target: PathBuf,
        policy: Policy,
    ) -> Result<Entry> {
        Ok(Entry {
            kind,
            name: name.to_owned(),
            rel,
            data,
            owner: resolve_owner(kind, name, t, policy)?,
            mode: t.mode,
            link: (t.path != link_target).then(|| t.path.clone()),
            link_target,
            restart_units: t.restart_units.clone(),
            reload_units: t.reload_units.clone(),
        })
    }
}

/// Owners are checked before any key is loaded or file decrypted, so a typo in a user name fails
/// fast and names the entry.
pub(crate) fn check_owners(m: &Manifest, policy: Policy) -> Result<()> {
    let secrets = m.secrets.iter().map(|s| (Kind::Secret, &s.name, &s.target));
    let templates = m
        .templates
        .iter()
        .map(|t| (Kind::Template, &t.name, &t.target));
    for (kind, name, t) in secrets.chain(templates) {
        resolve_owner(kind, name, t, policy)?;
    }
    Ok(())
}

/// The rendered-template entries, from each template's text ([`super::templates::texts`]).
pub(crate) fn templates(
    m: &Manifest,
    texts: Vec<String>,
    secrets: &[Entry],
    policy: Policy,
) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let for_users = super::templates::for_users_dir(&m.symlink_path);
    for (t, text) in m.templates.iter().zip(texts) {
        let data = super::templates::render(m, &t.name, &text, secrets, &for_users)?;
        let link_target = m.symlink_path.join(RENDERED_DIR).join(&t.name);
        let rel = format!("{RENDERED_DIR}/{}", t.name);
        out.push(Entry::new(
            Kind::Template,
            &t.name,
            rel,
            data,
            &t.target,
            link_target,
            policy,
        )?);
    }
    Ok(out)
}

/// Reads and parses one `sopsFile` (for installing and for `-check-mode=sopsfile`). Regular and
/// bounded: a FIFO or a device here would hang or exhaust the machine at boot.
pub(crate) fn load_sops_file(path: &Path, format: Format) -> Result<crate::sops::EncryptedFile> {
    let bytes = super::input::read(path, super::input::SOPS_FILE).kind(ErrorKind::Decrypt)?;
    crate::sops::load(format, &bytes).map_err(|e| {
        Error::new(
            ErrorKind::Decrypt,
            format!("cannot parse {format} of '{}': {e}", path.display()),
        )
    })
}
