//! The sops-nix manifest: the JSON contract between the NixOS module and `sops-install-secrets`.
//!
//! Parsing follows Go's `encoding/json` as sops-nix uses it: unknown fields are ignored and `null`
//! means the field's default. Unlike sops-nix, an unknown `format` is an error (Go silently used
//! yaml), and everything that can be checked without the filesystem is checked in [`Manifest::parse`]:
//! names, paths, modes, formats, placeholders, template text.

use crate::sops::Format;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The directory inside a generation that holds nix-sops' own records (`changes.json`). No secret
/// may be named under it.
pub(crate) const STATE_DIR: &str = ".nix-sops";
/// Where templates are rendered inside a generation (sops-nix's `RenderedSubdir`).
pub(crate) const RENDERED_DIR: &str = "rendered";

/// `logging`: which of sops-nix's log lines are printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logging {
    /// `keyImport`: the "imported … key" lines.
    pub key_import: bool,
    /// `secretChanges`: the added/modified/removed lines.
    pub secret_changes: bool,
}

/// Where and how an installed file lands: the options secrets and templates share.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where the file is installed (inside the generation unless a custom path).
    pub path: PathBuf,
    /// Permissions, parsed from the octal string (`"0400"`).
    pub mode: u32,
    /// Owner by name (resolved against the system's users), if given.
    pub owner: Option<String>,
    /// Owner by id, used when no name is given.
    pub uid: u32,
    /// Group by name, if given.
    pub group: Option<String>,
    /// Group by id, used when no name is given.
    pub gid: u32,
    /// systemd units restarted when the file changes.
    pub restart_units: Vec<String>,
    /// systemd units reloaded when the file changes.
    pub reload_units: Vec<String>,
}

/// One `sops.secrets.<name>`: a value taken from an encrypted file.
#[derive(Debug, Clone)]
pub struct Secret {
    /// The attribute name; also its file's name under the mount point.
    pub name: String,
    /// The key path in the file (`a/b`); empty for the whole file.
    pub key: String,
    /// The encrypted file.
    pub sops_file: PathBuf,
    /// Its store.
    pub format: Format,
    /// Where and how it is installed.
    pub target: Target,
}

/// One `sops.templates.<name>`: text with placeholders for secret values.
#[derive(Debug, Clone)]
pub struct Template {
    /// The attribute name; also its file's name under `rendered/`.
    pub name: String,
    /// The text (empty when `file` is given).
    pub content: String,
    /// A file holding the text instead.
    pub file: Option<PathBuf>,
    /// Where and how it is installed.
    pub target: Target,
}

/// The whole manifest, validated: [`Manifest::parse`] refuses what the installer could not do.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Every secret, in manifest order.
    pub secrets: Vec<Secret>,
    /// Every template.
    pub templates: Vec<Template>,
    /// The placeholder text standing for each secret in templates.
    pub placeholder_by_secret_name: BTreeMap<String, String>,
    /// `secretsMountPoint`: where the ramfs with the generations is mounted (`/run/secrets.d`).
    pub secrets_mount_point: PathBuf,
    /// `symlinkPath`: the link to the live generation (`/run/secrets`).
    pub symlink_path: PathBuf,
    /// `keepGenerations`: older generations kept (0: all).
    pub keep_generations: u64,
    /// `sshKeyPaths`: RSA host keys used as PGP keys.
    pub ssh_key_paths: Vec<PathBuf>,
    /// `gnupgHome`: a GnuPG home used through `gpg`.
    pub gnupg_home: Option<PathBuf>,
    /// `ageKeyFile`: age identities.
    pub age_key_file: Option<PathBuf>,
    /// `ageSshKeyPaths`: ed25519 host keys used as age identities.
    pub age_ssh_key_paths: Vec<PathBuf>,
    /// `useTmpfs`: tmpfs instead of ramfs (may swap).
    pub use_tmpfs: bool,
    /// `userMode`: a home-manager install (no mount, no chown).
    pub user_mode: bool,
    /// What to log.
    pub logging: Logging,
    /// `sops.hostPubKeys` (not in sops-nix): the machine's public keys, for the build-time
    /// "can this host decrypt it" check of `-check-mode=sopsfile`.
    pub host_pub_keys: Vec<String>,
}

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not JSON, or JSON of the wrong shape.
    #[error("failed to parse manifest: {0}")]
    Parse(String),
    /// Well-formed, but not installable; the text names the secret or template and the option.
    #[error("manifest is not valid: {0}")]
    Invalid(String),
}

/// One value of the manifest (a name, mode, path or unit) that is not valid; the message names
/// the field and the value and says what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

impl From<InvalidValue> for ManifestError {
    fn from(e: InvalidValue) -> ManifestError {
        ManifestError::Invalid(e.0)
    }
}

fn invalid(msg: impl Into<String>) -> ManifestError {
    ManifestError::Invalid(msg.into())
}

// Raw, as Go decodes it: every field optional, so that `null` and absence both give the default.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    secrets: Option<Vec<RawSecret>>,
    templates: Option<Vec<RawTemplate>>,
    placeholder_by_secret_name: Option<BTreeMap<String, String>>,
    secrets_mount_point: Option<String>,
    symlink_path: Option<String>,
    keep_generations: Option<u64>,
    ssh_key_paths: Option<Vec<String>>,
    gnupg_home: Option<String>,
    age_key_file: Option<String>,
    age_ssh_key_paths: Option<Vec<String>>,
    use_tmpfs: Option<bool>,
    user_mode: Option<bool>,
    logging: Option<RawLogging>,
    host_pub_keys: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawLogging {
    key_import: Option<bool>,
    secret_changes: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawSecret {
    name: Option<String>,
    key: Option<String>,
    path: Option<String>,
    owner: Option<String>,
    uid: Option<u32>,
    group: Option<String>,
    gid: Option<u32>,
    sops_file: Option<String>,
    format: Option<String>,
    mode: Option<String>,
    restart_units: Option<Vec<String>>,
    reload_units: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawTemplate {
    name: Option<String>,
    content: Option<String>,
    file: Option<String>,
    path: Option<String>,
    mode: Option<String>,
    owner: Option<String>,
    uid: Option<u32>,
    group: Option<String>,
    gid: Option<u32>,
    restart_units: Option<Vec<String>>,
    reload_units: Option<Vec<String>>,
}

/// Parses an octal mode string as sops-nix does, but only file permission bits (≤ 07777).
pub(crate) fn parse_mode(mode: &str) -> Result<u32, InvalidValue> {
    if mode.is_empty() || !mode.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(InvalidValue(format!(
            "invalid number in mode: {mode:?} is not an octal number"
        )));
    }
    match u32::from_str_radix(mode, 8) {
        Ok(m) if m <= 0o7777 => Ok(m),
        _ => Err(InvalidValue(format!(
            "invalid number in mode: {mode:?} is larger than 07777"
        ))),
    }
}

/// A secret or template `name`: a relative path of plain components.
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), InvalidValue> {
    if name.is_empty() {
        return Err(InvalidValue(format!("{what} has an empty name")));
    }
    if name.contains('\0') {
        return Err(InvalidValue(format!(
            "{what} {name:?}: the name contains a NUL byte"
        )));
    }
    // A newline would start a new log line or restart-list line; other controls garble terminals.
    if name.chars().any(char::is_control) {
        return Err(InvalidValue(format!(
            "{what} {name:?}: the name contains a control character (newline, tab, …); rename it"
        )));
    }
    if name.starts_with('/') {
        return Err(InvalidValue(format!(
            "{what} {name:?}: the name must be relative, not an absolute path"
        )));
    }
    for c in name.split('/') {
        match c {
            "" => {
                return Err(InvalidValue(format!(
                    "{what} {name:?}: the name has an empty path component"
                )))
            }
            "." | ".." => {
                return Err(InvalidValue(format!(
                    "{what} {name:?}: the name must not contain `{c}` components"
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The unit types systemd knows (`unit_type_from_string`).
const UNIT_SUFFIXES: [&str; 11] = [
    "service",
    "socket",
    "target",
    "device",
    "mount",
    "automount",
    "swap",
    "timer",
    "path",
    "slice",
    "scope",
];

/// A name in `restartUnits`/`reloadUnits`: a plain or instance unit name as systemd's
/// `unit_name_is_valid` accepts it (below 256 bytes; `[A-Za-z0-9:_.\\-]` and `@`, not first;
/// a known type suffix). A template (`foo@.service`) cannot be restarted. Checked so that nothing
/// else reaches systemctl's command line or the activation's restart list.
///
/// A name without a type suffix (`nginx`) is accepted, as sops-nix accepts it: systemctl (and so
/// switch-to-configuration) completes it to `nginx.service`. It must not start with `-`, so it
/// can never read as an option even where `--` is not used.
pub(crate) fn check_unit(what: &str, unit: &str) -> Result<(), InvalidValue> {
    let bad = |why: &str| {
        Err(InvalidValue(format!(
            "{what}: {unit:?} is not a systemd unit name ({why}); write the full unit name, e.g. \"nginx.service\""
        )))
    };
    if unit.is_empty() {
        return bad("it is empty");
    }
    if unit.len() > 255 {
        return bad("it is longer than 255 bytes");
    }
    let stem = match unit.rsplit_once('.') {
        Some(("", _)) => return bad("it has nothing before its type suffix"),
        Some((stem, suffix)) if UNIT_SUFFIXES.contains(&suffix) => stem,
        Some(_) => return bad("its type suffix is not one systemd knows"),
        // systemctl appends `.service`.
        None if unit.starts_with('-') => return bad("it starts with -"),
        None => unit,
    };
    if let Some(c) = stem
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.' | '\\' | '@')))
    {
        return bad(&format!("it contains {c:?}"));
    }
    if stem.starts_with('@') {
        return bad("it starts with @");
    }
    if stem.ends_with('@') {
        return bad("it is a template without an instance");
    }
    Ok(())
}

/// An absolute filesystem path from the manifest: no `..`, `.`, NUL or empty components.
pub(crate) fn check_path(what: &str, path: &str) -> Result<PathBuf, InvalidValue> {
    if path.contains('\0') {
        return Err(InvalidValue(format!("{what} {path:?} contains a NUL byte")));
    }
    // As in names: a newline in a path would start a new log line.
    if path.chars().any(char::is_control) {
        return Err(InvalidValue(format!(
            "{what} {path:?} contains a control character (newline, tab, …)"
        )));
    }
    if !path.starts_with('/') {
        return Err(InvalidValue(format!(
            "{what} {path:?} must be an absolute path"
        )));
    }
    if path.len() > 1 {
        for c in path[1..].split('/') {
            match c {
                "" => {
                    return Err(InvalidValue(format!(
                        "{what} {path:?} has an empty path component"
                    )))
                }
                "." | ".." => {
                    return Err(InvalidValue(format!(
                        "{what} {path:?} must not contain `{c}` components"
                    )))
                }
                _ => {}
            }
        }
    }
    Ok(PathBuf::from(path))
}

/// sops-nix's `%r` → runtime dir, `%%` → `%`.
pub(crate) fn replace_runtime_dir(path: &str, rundir: &str) -> String {
    path.split("%%")
        .map(|part| part.replace("%r", rundir))
        .collect::<Vec<_>>()
        .join("%")
}

/// The [`Target`] of a `RawSecret` or `RawTemplate` (both have these fields), with its already
/// checked path and mode; absent numbers are 0, absent lists empty (Go's zero values).
macro_rules! target_of {
    ($raw:ident, $path:expr, $mode:expr) => {
        Target {
            path: $path,
            mode: $mode,
            owner: $raw.owner,
            uid: $raw.uid.unwrap_or(0),
            group: $raw.group,
            gid: $raw.gid.unwrap_or(0),
            restart_units: $raw.restart_units.unwrap_or_default(),
            reload_units: $raw.reload_units.unwrap_or_default(),
        }
    };
}

fn path_opt(s: Option<String>) -> Option<PathBuf> {
    s.filter(|s| !s.is_empty()).map(PathBuf::from)
}

impl Manifest {
    /// Parses the JSON and validates everything that needs no filesystem. `runtime_dir` is used
    /// for `%r` in user mode (it must be given when the manifest is in user mode and paths use
    /// `%r`).
    pub fn parse(bytes: &[u8], runtime_dir: Option<&str>) -> Result<Manifest, ManifestError> {
        let raw: RawManifest =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Parse(e.to_string()))?;
        let user_mode = raw.user_mode.unwrap_or(false);
        let subst = |s: String| -> Result<String, ManifestError> {
            if !user_mode || !s.contains('%') {
                return Ok(s);
            }
            if s.contains("%r") && runtime_dir.is_none() {
                return Err(invalid(format!(
                    "{s:?} uses %r but no runtime directory is known"
                )));
            }
            Ok(replace_runtime_dir(&s, runtime_dir.unwrap_or("")))
        };
        let mount = subst(
            raw.secrets_mount_point
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/run/secrets.d".into()),
        )?;
        let link = subst(
            raw.symlink_path
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/run/secrets".into()),
        )?;
        let secrets_mount_point = check_path("secretsMountPoint", &mount)?;
        let symlink_path = check_path("symlinkPath", &link)?;
        if secrets_mount_point == Path::new("/") || symlink_path == Path::new("/") {
            return Err(invalid("secretsMountPoint and symlinkPath must not be `/`"));
        }
        if symlink_path.starts_with(&secrets_mount_point)
            || secrets_mount_point.starts_with(&symlink_path)
        {
            return Err(invalid(format!(
                "symlinkPath {} and secretsMountPoint {} must not contain each other",
                symlink_path.display(),
                secrets_mount_point.display()
            )));
        }

        let mut secrets = Vec::new();
        for (i, s) in raw.secrets.unwrap_or_default().into_iter().enumerate() {
            let name = s.name.unwrap_or_default();
            check_name(&format!("secret #{i}"), &name)?;
            let what = format!("secret {name}");
            let format = match s.format.as_deref().unwrap_or("") {
                "" => Format::Yaml,
                f => Format::from_name(f).ok_or_else(|| {
                    invalid(format!(
                        "unsupported format {f:?} for {what} (use yaml, json, binary, dotenv or ini)"
                    ))
                })?,
            };
            let mode = parse_mode(s.mode.as_deref().unwrap_or("0400"))
                .map_err(|e| invalid(format!("{what}: {e}")))?;
            let default_path = symlink_path.join(&name);
            let path = match s.path.filter(|p| !p.is_empty()) {
                Some(p) => check_path(&format!("path of {what}"), &subst(p)?)?,
                None => default_path,
            };
            let sops_file = s
                .sops_file
                .filter(|p| !p.is_empty())
                .ok_or_else(|| invalid(format!("{what} has no sopsFile")))?;
            if sops_file.contains('\0') {
                return Err(invalid(format!("sopsFile of {what} contains a NUL byte")));
            }
            if sops_file.chars().any(char::is_control) {
                return Err(invalid(format!(
                    "sopsFile {sops_file:?} of {what} contains a control character (newline, tab, …)"
                )));
            }
            secrets.push(Secret {
                key: s.key.unwrap_or_else(|| name.clone()),
                sops_file: PathBuf::from(sops_file),
                format,
                target: target_of!(s, path, mode),
                name,
            });
        }

        let mut templates = Vec::new();
        for (i, t) in raw.templates.unwrap_or_default().into_iter().enumerate() {
            let name = t.name.unwrap_or_default();
            check_name(&format!("template #{i}"), &name)?;
            let what = format!("template {name}");
            let mode = parse_mode(t.mode.as_deref().unwrap_or("0400"))
                .map_err(|e| invalid(format!("{what}: {e}")))?;
            let path = match t.path.filter(|p| !p.is_empty()) {
                Some(p) => check_path(&format!("path of {what}"), &subst(p)?)?,
                None => symlink_path.join(RENDERED_DIR).join(&name),
            };
            let content = t.content.unwrap_or_default();
            let file = path_opt(t.file);
            if content.is_empty() && file.is_none() {
                return Err(invalid(format!(
                    "neither content nor file was specified for template {name}"
                )));
            }
            templates.push(Template {
                content,
                file,
                target: target_of!(t, path, mode),
                name,
            });
        }

        let logging = raw.logging.unwrap_or_default();
        let m = Manifest {
            secrets,
            templates,
            placeholder_by_secret_name: raw.placeholder_by_secret_name.unwrap_or_default(),
            secrets_mount_point,
            symlink_path,
            keep_generations: raw.keep_generations.unwrap_or(0),
            ssh_key_paths: raw
                .ssh_key_paths
                .unwrap_or_default()
                .into_iter()
                .map(PathBuf::from)
                .collect(),
            gnupg_home: path_opt(raw.gnupg_home),
            age_key_file: path_opt(raw.age_key_file),
            age_ssh_key_paths: raw
                .age_ssh_key_paths
                .unwrap_or_default()
                .into_iter()
                .map(PathBuf::from)
                .collect(),
            use_tmpfs: raw.use_tmpfs.unwrap_or(false),
            user_mode,
            logging: Logging {
                key_import: logging.key_import.unwrap_or(false),
                secret_changes: logging.secret_changes.unwrap_or(false),
            },
            host_pub_keys: raw.host_pub_keys.unwrap_or_default(),
        };
        m.validate()?;
        Ok(m)
    }

    /// The cross-field rules.
    fn validate(&self) -> Result<(), ManifestError> {
        // sops-nix reads it into a Go `int`.
        if self.keep_generations > i64::MAX as u64 {
            return Err(invalid(format!(
                "keepGenerations {} is larger than sops-nix accepts (at most {}); use a small number of generations, or 0 to keep all",
                self.keep_generations,
                i64::MAX
            )));
        }
        if self.gnupg_home.is_some() {
            let fmt = |o: &str| {
                invalid(format!(
                    "gnupgHome and {o} were specified in the manifest. Both options are mutually exclusive."
                ))
            };
            if !self.ssh_key_paths.is_empty() {
                return Err(fmt("sshKeyPaths"));
            }
            if self.age_key_file.is_some() {
                return Err(fmt("ageKeyFile"));
            }
        }
        let mut names = std::collections::HashSet::new();
        let mut formats: BTreeMap<&Path, &Secret> = BTreeMap::new();
        for s in &self.secrets {
            if !names.insert(s.name.as_str()) {
                return Err(invalid(format!("secret {} is defined twice", s.name)));
            }
            let first = s.name.split('/').next().unwrap_or("");
            if first == STATE_DIR {
                return Err(invalid(format!(
                    "secret {}: names under {STATE_DIR}/ are reserved for nix-sops",
                    s.name
                )));
            }
            if first == RENDERED_DIR && !self.templates.is_empty() {
                return Err(invalid(format!(
                    "secret {}: names under {RENDERED_DIR}/ collide with the rendered templates",
                    s.name
                )));
            }
            if let Some(prev) = formats.get(s.sops_file.as_path()) {
                if prev.format != s.format {
                    return Err(invalid(format!(
                        "secret {} defined the format of {} as {}, but it was specified as {} in {} before",
                        s.name,
                        s.sops_file.display(),
                        s.format,
                        prev.format,
                        prev.name
                    )));
                }
            } else {
                formats.insert(&s.sops_file, s);
            }
            if !self.templates.is_empty() && !self.placeholder_by_secret_name.contains_key(&s.name)
            {
                return Err(invalid(format!(
                    "placeholder for {} not found in manifest",
                    s.name
                )));
            }
        }
        // A name that is a file for one entry and a directory for another cannot be written.
        for s in &self.secrets {
            let mut prefix = String::new();
            for c in s
                .name
                .split('/')
                .collect::<Vec<_>>()
                .split_last()
                .map(|x| x.1)
                .unwrap_or(&[])
            {
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(c);
                if names.contains(prefix.as_str()) {
                    return Err(invalid(format!(
                        "secret {} needs {prefix} to be a directory, but {prefix} is also a secret",
                        s.name
                    )));
                }
            }
        }
        let secrets = self.secrets.iter().map(|s| ("secret", &s.name, &s.target));
        let templates = self
            .templates
            .iter()
            .map(|t| ("template", &t.name, &t.target));
        for (kind, name, t) in secrets.chain(templates) {
            for (field, units) in [
                ("restartUnits", &t.restart_units),
                ("reloadUnits", &t.reload_units),
            ] {
                for u in units {
                    check_unit(&format!("{field} of {kind} {name}"), u)?;
                }
            }
            // (uid_t)-1 means "leave unchanged" to chown(2): the file would stay root's.
            for (field, id) in [("uid", t.uid), ("gid", t.gid)] {
                if id == u32::MAX {
                    return Err(invalid(format!(
                        "{kind} {name}: {field} {id} is the \"do not change\" value of chown, not an id; use a real {field} or owner/group name"
                    )));
                }
            }
        }
        let mut tnames = std::collections::HashSet::new();
        for t in &self.templates {
            if !tnames.insert(t.name.as_str()) {
                return Err(invalid(format!("template {} is defined twice", t.name)));
            }
        }
        // Two entries may not claim the same out-of-tree path.
        let mut paths: BTreeMap<&Path, &str> = BTreeMap::new();
        for (p, n) in self
            .secrets
            .iter()
            .map(|s| (&s.target.path, &s.name))
            .chain(self.templates.iter().map(|t| (&t.target.path, &t.name)))
        {
            if let Some(other) = paths.insert(p, n) {
                return Err(invalid(format!(
                    "{} and {n} both use the path {}",
                    other,
                    p.display()
                )));
            }
            let default_secret = self.symlink_path.join(n);
            let default_template = self.symlink_path.join(RENDERED_DIR).join(n);
            if p.starts_with(&self.symlink_path) && *p != default_secret && *p != default_template {
                return Err(invalid(format!(
                    "path {} of {n} is inside symlinkPath {} but is not its own default location; \
                     a link there would be written into the generation",
                    p.display(),
                    self.symlink_path.display()
                )));
            }
            if p.starts_with(&self.secrets_mount_point) {
                return Err(invalid(format!(
                    "path {} of {n} is inside secretsMountPoint {}",
                    p.display(),
                    self.secrets_mount_point.display()
                )));
            }
        }
        Ok(())
    }

    /// The sops files in first-use order, each with its format.
    pub(crate) fn sops_files(&self) -> Vec<(&Path, Format)> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for s in &self.secrets {
            if seen.insert(s.sops_file.as_path()) {
                out.push((s.sops_file.as_path(), s.format));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(j: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(j.as_bytes(), Some("/run/user/1000"))
    }

    #[test]
    fn defaults_and_nulls() {
        let m = parse(
            r#"{"secrets":[{"name":"a","sopsFile":"/s.yaml","owner":null,"format":null,"mode":null,
               "restartUnits":null,"sopsFileHash":"x","neededForUsers":true,"extra":1}],
               "gnupgHome":null,"keepGenerations":null,"unknownTop":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(m.secrets_mount_point, Path::new("/run/secrets.d"));
        assert_eq!(m.symlink_path, Path::new("/run/secrets"));
        let s = &m.secrets[0];
        assert_eq!(s.key, "a");
        assert_eq!(s.target.mode, 0o400);
        assert_eq!(s.format, Format::Yaml);
        assert_eq!(s.target.path, Path::new("/run/secrets/a"));
        assert!(m.gnupg_home.is_none());
        assert_eq!(m.keep_generations, 0);
    }

    #[test]
    fn every_field() {
        let m = parse(
            r#"{"secrets":[{"name":"db/pass","key":"db/pass","path":"/run/secrets/db/pass","format":"json",
            "mode":"0440","owner":"postgres","uid":0,"group":"postgres","gid":0,"sopsFile":"/nix/store/x.json",
            "sopsFileHash":"9f","restartUnits":["postgresql.service"],"reloadUnits":["x.service"],"neededForUsers":false}],
            "templates":[{"name":"app.env","content":"PW=<P>\n","file":"/nix/store/y","path":"/etc/app.env",
            "mode":"0400","owner":null,"uid":5,"group":null,"gid":6,"restartUnits":["a.service"],"reloadUnits":[]}],
            "placeholderBySecretName":{"db/pass":"<P>"},"secretsMountPoint":"/run/secrets.d","symlinkPath":"/run/secrets",
            "keepGenerations":3,"gnupgHome":null,"sshKeyPaths":["/etc/ssh/rsa"],"ageKeyFile":"/k.txt",
            "ageSshKeyPaths":["/etc/ssh/ed"],"useTmpfs":true,"userMode":false,"logging":{"keyImport":true,"secretChanges":false}}"#,
        )
        .unwrap();
        let s = &m.secrets[0];
        assert_eq!(
            (s.target.mode, s.format, s.target.owner.as_deref()),
            (0o440, Format::Json, Some("postgres"))
        );
        assert_eq!(s.target.reload_units, ["x.service"]);
        let t = &m.templates[0];
        assert_eq!((t.target.uid, t.target.gid, t.target.mode), (5, 6, 0o400));
        assert_eq!(t.target.path, Path::new("/etc/app.env"));
        assert_eq!(m.keep_generations, 3);
        assert!(m.use_tmpfs && m.logging.key_import && !m.logging.secret_changes);
        assert_eq!(m.ssh_key_paths, [PathBuf::from("/etc/ssh/rsa")]);
        assert_eq!(m.age_key_file.as_deref(), Some(Path::new("/k.txt")));
    }

    #[test]
    fn unknown_format_is_an_error() {
        let e = parse(r#"{"secrets":[{"name":"a","sopsFile":"/s","format":"toml"}]}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("unsupported format \"toml\" for secret a"),
            "{e}"
        );
    }

    #[test]
    fn bad_names_and_paths() {
        for (name, needle) in [
            ("../x", "`..`"),
            ("a/../b", "`..`"),
            ("/abs", "relative"),
            ("a//b", "empty path component"),
            ("a\u{0000}b", "NUL"),
            ("", "empty name"),
            (".nix-sops/x", "reserved"),
        ] {
            let j = serde_json::json!({"secrets":[{"name":name,"sopsFile":"/s"}]}).to_string();
            let e = parse(&j).unwrap_err().to_string();
            assert!(e.contains(needle), "{name:?}: {e}");
        }
        for (path, needle) in [
            ("/etc/../x", "`..`"),
            ("rel/x", "absolute"),
            ("/a//b", "empty"),
            ("/run/secrets.d/x", "inside secretsMountPoint"),
            ("/run/secrets/other", "inside symlinkPath"),
            ("/etc/a\nb", "control character"),
        ] {
            let j = serde_json::json!({"secrets":[{"name":"a","sopsFile":"/s","path":path}]})
                .to_string();
            let e = parse(&j).unwrap_err().to_string();
            assert!(e.contains(needle), "{path:?}: {e}");
        }
    }

    #[test]
    fn unit_names_follow_systemd() {
        // As `systemctl --root=EMPTY is-enabled -- NAME` (systemd 252) judged them: accepted
        // as given, or refused/mangled (no type suffix gets `.service` appended by systemctl,
        // which the restart list never does).
        for ok in [
            "a.service",
            "getty@tty1.service",
            "--help.service",
            "a\\x2db.service",
            "a:b_c-d.e.timer",
            "x.socket",
            "-.mount",
            "sys-devices-x.device",
            // No suffix: systemctl completes it to .service, as with sops-nix.
            "nginx",
            "getty@tty1",
        ] {
            assert_eq!(check_unit("u", ok), Ok(()), "{ok}");
        }
        let long = format!("{}.service", "a".repeat(248));
        assert_eq!(long.len(), 256);
        for (bad, why) in [
            ("@x.service", "starts with @"),
            ("a b.service", "contains ' '"),
            ("ä.service", "contains 'ä'"),
            ("a.foo", "not one systemd knows"),
            (".service", "nothing before its type suffix"),
            ("--help", "starts with -"),
            ("-x", "starts with -"),
            ("x@.service", "template without an instance"),
            ("a.service\nb.service", "contains '\\n'"),
            ("", "empty"),
            (long.as_str(), "longer than 255"),
        ] {
            let e = check_unit("restartUnits of secret s", bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
            assert!(e.starts_with("restartUnits of secret s: "), "{e}");
        }
        assert_eq!(check_unit("u", &long[1..]), Ok(()));
    }

    #[test]
    fn control_characters_keep_generations_and_ids() {
        for name in ["a\nb", "a\tb", "a\u{7f}", "a\u{1b}[31m", "a\u{9b}1m", "\r"] {
            let j = serde_json::json!({"secrets":[{"name":name,"sopsFile":"/s"}]}).to_string();
            let e = parse(&j).unwrap_err().to_string();
            assert!(e.contains("control character"), "{name:?}: {e}");
        }
        let max = i64::MAX as u64;
        assert_eq!(
            parse(&format!(r#"{{"keepGenerations":{max}}}"#))
                .unwrap()
                .keep_generations,
            max
        );
        let e = parse(&format!(r#"{{"keepGenerations":{}}}"#, max + 1)).unwrap_err();
        assert!(
            e.to_string()
                .contains("keepGenerations 9223372036854775808 is larger"),
            "{e}"
        );
        for (field, needle) in [
            ("uid", "secret a: uid 4294967295"),
            ("gid", "secret a: gid 4294967295"),
        ] {
            let j =
                format!(r#"{{"secrets":[{{"name":"a","sopsFile":"/s","{field}":4294967295}}]}}"#);
            let e = parse(&j).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
        assert_eq!(
            parse(r#"{"secrets":[{"name":"a","sopsFile":"/s","uid":4294967294}]}"#)
                .unwrap()
                .secrets[0]
                .target
                .uid,
            4294967294
        );
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0440"), Ok(0o440));
        assert_eq!(parse_mode("7777"), Ok(0o7777));
        for bad in ["", "0x12", "0888", "10000", "-1", "+1", " 0400"] {
            assert!(parse_mode(bad).is_err(), "{bad}");
        }
        let e = parse(r#"{"secrets":[{"name":"a","sopsFile":"/s","mode":"0999"}]}"#).unwrap_err();
        assert!(
            e.to_string().contains("secret a: invalid number in mode"),
            "{e}"
        );
    }

    #[test]
    fn placeholders_and_templates() {
        let e = parse(
            r#"{"secrets":[{"name":"a","sopsFile":"/s"}],"templates":[{"name":"t","content":"x"}]}"#,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("placeholder for a not found in manifest"),
            "{e}"
        );
        let e = parse(r#"{"templates":[{"name":"t"}]}"#).unwrap_err();
        assert!(e.to_string().contains("neither content nor file"), "{e}");
    }

    #[test]
    fn format_agreement_and_gnupg_exclusion() {
        let e = parse(
            r#"{"secrets":[{"name":"a","sopsFile":"/s","format":"yaml"},{"name":"b","sopsFile":"/s","format":"json"}]}"#,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("secret b defined the format of /s as json, but it was specified as yaml in a before"),
            "{e}"
        );
        let e = parse(r#"{"gnupgHome":"/g","ageKeyFile":"/k"}"#).unwrap_err();
        assert!(e.to_string().contains("gnupgHome and ageKeyFile"), "{e}");
        let e = parse(r#"{"gnupgHome":"/g","sshKeyPaths":["/k"]}"#).unwrap_err();
        assert!(e.to_string().contains("gnupgHome and sshKeyPaths"), "{e}");
    }

    #[test]
    fn user_mode_runtime_dir() {
        assert_eq!(replace_runtime_dir("%r/a%%r/%%%r", "/R"), "/R/a%r/%/R");
        let m = parse(
            r#"{"userMode":true,"secretsMountPoint":"%r/secrets.d","symlinkPath":"%r/secrets",
               "secrets":[{"name":"a","sopsFile":"/s","path":"%r/x/a"}]}"#,
        )
        .unwrap();
        assert_eq!(m.secrets_mount_point, Path::new("/run/user/1000/secrets.d"));
        assert_eq!(m.secrets[0].target.path, Path::new("/run/user/1000/x/a"));
        // Outside user mode `%r` is literal (as in sops-nix).
        let m = parse(r#"{"symlinkPath":"/x%r"}"#).unwrap();
        assert_eq!(m.symlink_path, Path::new("/x%r"));
    }

    #[test]
    fn duplicates_and_file_dir_clash() {
        let e = parse(r#"{"secrets":[{"name":"a","sopsFile":"/s"},{"name":"a","sopsFile":"/s"}]}"#)
            .unwrap_err();
        assert!(e.to_string().contains("defined twice"), "{e}");
        let e =
            parse(r#"{"secrets":[{"name":"a","sopsFile":"/s"},{"name":"a/b","sopsFile":"/s"}]}"#)
                .unwrap_err();
        assert!(e.to_string().contains("also a secret"), "{e}");
    }
}
