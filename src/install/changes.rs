//! What changes against the live generation: new, modified (content, owner, group or mode) and
//! removed entries; the units to restart or reload; sops-nix's log lines; and `changes.json`, the
//! machine-readable record kept in each generation (it also lists the generation's out-of-tree
//! links, so the next install can remove the stale ones).

use super::fsutil;
use super::plan::{Entry, Kind};
use super::{Context, ErrorKind, Result};
use crate::manifest::{RENDERED_DIR, STATE_DIR};
use nix::sys::stat::{fstat, FileStat, Mode};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use zeroize::Zeroizing;

pub(crate) const CHANGES_FILE: &str = "changes.json";

/// A file present before and after, and what about it changed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Modified {
    /// The secret's or template's name.
    pub name: String,
    /// Its content.
    pub content: bool,
    /// Its owner or group.
    pub owner: bool,
    /// Its mode.
    pub mode: bool,
}

/// The changes of one kind of file (secrets, or templates).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Section {
    /// New names.
    pub added: Vec<String>,
    /// Names whose file changed.
    pub modified: Vec<Modified>,
    /// Names no longer installed.
    pub removed: Vec<String>,
}

impl Section {
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }
}

/// An out-of-tree symlink the install made (`path` → `target`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Link {
    /// The link.
    pub path: PathBuf,
    /// What it points to.
    pub target: PathBuf,
}

/// `changes.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// Format version of `changes.json`.
    pub version: u32,
    /// The generation this record belongs to.
    pub generation: u64,
    /// The generation it replaced, if any.
    pub previous: Option<u64>,
    /// A dry run: nothing was installed.
    pub dry_run: bool,
    /// Secrets added, modified, removed.
    pub secrets: Section,
    /// Templates added, modified, removed.
    pub templates: Section,
    /// Units to restart (sops-nix's `restartUnits`).
    pub restart_units: Vec<String>,
    /// Units to reload (sops-nix's `reloadUnits`).
    pub reload_units: Vec<String>,
    /// Out-of-tree links, so the next run can remove stale ones.
    pub links: Vec<Link>,
}

impl Record {
    /// Whether no secret or template changed.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty() && self.templates.is_empty()
    }
}

/// Compares the planned entries with the live generation (if any).
pub(crate) fn diff<Fd: AsFd>(entries: &[Entry], live: Option<Fd>) -> Result<Record> {
    let mut rec = Record {
        version: 1,
        ..Default::default()
    };
    let mut restart = Vec::new();
    let mut reload = Vec::new();
    for e in entries {
        let section = match e.kind {
            Kind::Secret => &mut rec.secrets,
            Kind::Template => &mut rec.templates,
        };
        let old = match &live {
            Some(d) => compare_live(d, &e.rel, e.data.expose())?,
            None => None,
        };
        let changed = match old {
            None => {
                section.added.push(e.name.clone());
                true
            }
            Some((same, st)) => {
                let m = Modified {
                    name: e.name.clone(),
                    content: !same,
                    owner: e.owner.known && (st.st_uid, st.st_gid) != (e.owner.uid, e.owner.gid),
                    mode: (st.st_mode & 0o7777) != e.mode,
                };
                let any = m.content || m.owner || m.mode;
                if any {
                    section.modified.push(m);
                }
                any
            }
        };
        if changed {
            restart.extend(e.restart_units.iter().cloned());
            reload.extend(e.reload_units.iter().cloned());
        }
    }
    if let Some(d) = &live {
        let mut old_secrets = BTreeSet::new();
        let mut old_templates = BTreeSet::new();
        walk(d, "", &mut |rel| {
            if let Some(t) = rel.strip_prefix(&format!("{RENDERED_DIR}/")) {
                old_templates.insert(t.to_owned());
            } else {
                old_secrets.insert(rel.to_owned());
            }
        })?;
        let mut names: BTreeMap<Kind, BTreeSet<&str>> = BTreeMap::new();
        for e in entries {
            names.entry(e.kind).or_default().insert(e.name.as_str());
        }
        let empty = BTreeSet::new();
        let cur_s = names.get(&Kind::Secret).unwrap_or(&empty);
        let cur_t = names.get(&Kind::Template).unwrap_or(&empty);
        // With no templates, `rendered/x` of the old generation may be a secret's name.
        let templates_now = !cur_t.is_empty();
        for t in old_templates {
            if cur_t.contains(t.as_str()) {
                continue;
            }
            let as_secret = format!("{RENDERED_DIR}/{t}");
            if !templates_now && cur_s.contains(as_secret.as_str()) {
                continue;
            }
            rec.templates.removed.push(t);
        }
        rec.secrets.removed = old_secrets
            .into_iter()
            .filter(|s| !cur_s.contains(s.as_str()))
            .collect();
    }
    for s in [&mut rec.secrets, &mut rec.templates] {
        s.added.sort();
        s.modified.sort_by(|a, b| a.name.cmp(&b.name));
        s.removed.sort();
    }
    rec.restart_units = super::units::dedup(restart);
    rec.reload_units = super::units::dedup(reload);
    Ok(rec)
}

/// The live generation's file `rel` (`None` when it is missing or not a regular file, as
/// [`fsutil::read_at`] has it): whether it holds exactly `new`, and its stat.
///
/// A secret's owner owns its file there and can `chmod u+w` it and make it any size (a sparse
/// 1 TiB file costs nothing on ramfs); reading it whole aborted every later activation. So a
/// file of another size differs unread, and one of the same size is read into a buffer of that
/// size (plus one byte, to see it grow), never more.
fn compare_live<Fd: AsFd>(live: Fd, rel: &str, new: &[u8]) -> Result<Option<(bool, FileStat)>> {
    use nix::errno::Errno;
    use nix::fcntl::{openat, OFlag};
    let (parents, name) = match rel.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, rel),
    };
    let gone = |e: Errno| matches!(e, Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP);
    let mut dir: Option<OwnedFd> = None;
    for c in parents.into_iter().flat_map(|p| p.split('/')) {
        let next = match &dir {
            Some(fd) => fsutil::open_dir_at(fd, c),
            None => fsutil::open_dir_at(&live, c),
        };
        match next {
            Ok(fd) => dir = Some(fd),
            Err(e) if gone(e) => return Ok(None),
            Err(e) => return Err(e).with_context(ErrorKind::Io, || format!("open {rel}")),
        }
    }
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
    let fd = match &dir {
        Some(d) => openat(d, name, flags, Mode::empty()),
        None => openat(&live, name, flags, Mode::empty()),
    };
    let fd = match fd {
        Ok(fd) => fd,
        Err(e) if gone(e) => return Ok(None),
        Err(e) => return Err(e).with_context(ErrorKind::Io, || format!("open {rel}")),
    };
    let st = fstat(&fd).with_context(ErrorKind::Io, || format!("stat {rel}"))?;
    if !fsutil::is_file(&st) {
        return Ok(None);
    }
    if u64::try_from(st.st_size).ok() != Some(new.len() as u64) {
        return Ok(Some((false, st)));
    }
    let mut buf = Zeroizing::new(vec![0u8; new.len() + 1]);
    let mut len = 0;
    while len < buf.len() {
        match nix::unistd::read(&fd, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e).with_context(ErrorKind::Io, || format!("read {rel}")),
        }
    }
    Ok(Some((&buf[..len] == new, st)))
}

/// Every file below `dir` (relative paths), skipping our own state directory.
fn walk<Fd: AsFd>(dir: Fd, prefix: &str, f: &mut dyn FnMut(&str)) -> Result<()> {
    for (name, ty) in fsutil::list(&dir)? {
        if prefix.is_empty() && name == STATE_DIR {
            continue;
        }
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let is_dir = match ty {
            Some(nix::dir::Type::Directory) => true,
            Some(_) => false,
            None => fsutil::lstat_at(&dir, name.as_str())?
                .map(|st| fsutil::is_dir(&st))
                .unwrap_or(false),
        };
        if is_dir {
            let sub = fsutil::open_dir_at(&dir, name.as_str())?;
            walk(&sub, &rel, f)?;
        } else {
            f(&rel);
        }
    }
    Ok(())
}

/// sops-nix's lines, on stdout: "adding secrets: a, b", "would modify rendered secret: t", …
pub fn log_lines(rec: &Record, dry: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = |noun: &str, names: Vec<&str>, verb: &str, dry_verb: &str| {
        if names.is_empty() {
            return;
        }
        let s = if names.len() == 1 { "" } else { "s" };
        let v = if dry { dry_verb } else { verb };
        out.push(format!("{v} {noun}{s}: {}", names.join(", ")));
    };
    for (noun, sec) in [
        ("secret", &rec.secrets),
        ("rendered secret", &rec.templates),
    ] {
        line(
            noun,
            sec.added.iter().map(String::as_str).collect(),
            "adding",
            "would add",
        );
        line(
            noun,
            sec.modified.iter().map(|m| m.name.as_str()).collect(),
            "modifying",
            "would modify",
        );
        line(
            noun,
            sec.removed.iter().map(String::as_str).collect(),
            "removing",
            "would remove",
        );
    }
    out
}

/// The record of a generation, if it has one (generations made by sops-nix do not).
pub(crate) fn read_record<Fd: AsFd>(gen: Fd) -> Option<Record> {
    let (data, _) = fsutil::read_at(gen, &format!("{STATE_DIR}/{CHANGES_FILE}")).ok()??;
    serde_json::from_slice(data.expose()).ok()
}
