//! The `sops` metadata block: key groups, crypt rule, MAC, `lastmodified`, version.
//!
//! Every store hands over the block as a [`Value`] (dotenv and INI after [`unflatten`]), and this
//! one parser reads it, so the field rules live in one place.

use crate::sops::tree::{map_get, ListItem, Map, MapItem, Value};
use crate::sops::MetadataError;
use regex::Regex;

/// Which values are encrypted. SOPS allows at most one rule; `_unencrypted` suffix is the default.
#[derive(Debug, Clone)]
pub enum CryptRule {
    /// Keys ending in this are left plain (`--unencrypted-suffix`; the default, `_unencrypted`).
    UnencryptedSuffix(String),
    /// Only keys ending in this are encrypted (`--encrypted-suffix`).
    EncryptedSuffix(String),
    /// Keys matching this are left plain; `None`: a pattern Go accepts and Rust's regex does not.
    UnencryptedRegex(Option<Regex>),
    /// Only keys matching this are encrypted; `None` as above.
    EncryptedRegex(Option<Regex>),
    /// Comments matching this are left plain; `None` as above.
    UnencryptedCommentRegex(Option<Regex>),
    /// Only comments matching this are encrypted; `None` as above.
    EncryptedCommentRegex(Option<Regex>),
}

impl Default for CryptRule {
    fn default() -> Self {
        CryptRule::UnencryptedSuffix("_unencrypted".into())
    }
}

/// The metadata fields that hold a crypt rule (at most one may be set).
pub(crate) const CRYPT_RULE_FIELDS: [&str; 6] = [
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
];

/// One master key entry of a key group, as stored in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKey {
    /// An age recipient.
    Age {
        /// `age1…` (or an SSH public key, sops ≥ 3.10).
        recipient: String,
        /// The data key (or Shamir part) wrapped to it, armored.
        enc: String,
    },
    /// A PGP key.
    Pgp {
        /// The key's fingerprint, as sops writes it (40 hex digits).
        fingerprint: String,
        /// When it was added (RFC 3339), kept for byte-identical output.
        created_at: String,
        /// The wrapped data key, armored.
        enc: String,
    },
    /// Cloud and Vault keys (kms, gcp_kms, hckms, azure_kv, hc_vault): recognised so errors can
    /// list them, but nix-sops cannot use them.
    Other {
        /// `kms`, `gcp_kms`, `hckms`, `azure_kv` or `hc_vault`.
        kind: &'static str,
        /// The ARN, resource id or URL that names it.
        id: String,
    },
}

impl MasterKey {
    /// Type identifier as SOPS names it (`age`, `pgp`, `kms`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            MasterKey::Age { .. } => "age",
            MasterKey::Pgp { .. } => "pgp",
            MasterKey::Other { kind, .. } => kind,
        }
    }

    /// What identifies the key to a person: the age recipient, the PGP fingerprint, the ARN…
    pub fn describe(&self) -> String {
        match self {
            MasterKey::Age { recipient, .. } => format!("age recipient {recipient}"),
            MasterKey::Pgp { fingerprint, .. } => format!("pgp fingerprint {fingerprint}"),
            MasterKey::Other { kind, id } => format!("{kind} key {id}"),
        }
    }
}

/// The master keys of one key group, in SOPS' load order (kms, gcp_kms, hckms, azure_kv, hc_vault,
/// pgp, age).
pub type KeyGroup = Vec<MasterKey>;

/// The `sops` block of a file.
#[derive(Debug, Clone)]
pub struct Metadata {
    /// 0 when absent; SOPS then needs every group.
    pub shamir_threshold: usize,
    /// The key groups; each must give its part of the data key (one group: the whole key).
    pub key_groups: Vec<KeyGroup>,
    /// As written in the file.
    pub lastmodified: String,
    /// The encrypted MAC (`ENC[…]`), possibly empty.
    pub mac: String,
    /// Which values are encrypted.
    pub crypt_rule: CryptRule,
    /// `mac_only_encrypted`: the MAC covers only encrypted values.
    pub mac_only_encrypted: bool,
    /// The sops version that wrote the file (`3.11.0`), written back unchanged.
    pub version: String,
}

fn field<'a>(map: &'a Map, name: &str) -> Option<&'a Value> {
    // encoding/json matches field names case-insensitively; yaml.v3 does not. Files written by
    // sops always use the exact name, so exact first, then a case-insensitive fallback.
    map_get(map, name).or_else(|| {
        map.iter().find_map(|item| match item {
            MapItem::Entry(k, v) if k.eq_ignore_ascii_case(name) => Some(v),
            _ => None,
        })
    })
}

fn scalar_text(v: &Value, name: &str) -> Result<Option<String>, MetadataError> {
    Ok(match v {
        Value::Null => None,
        Value::Str(s) => Some(s.expose().to_owned()),
        Value::Time(t) => Some(t.expose().to_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(crate::sops::gofmt::format_float_f(*f)),
        Value::Bool(b) => Some(b.to_string()),
        other => {
            return Err(MetadataError::FieldType {
                field: name.to_owned(),
                expected: "a string",
                found: other.kind(),
            })
        }
    })
}

fn string_field(map: &Map, name: &str) -> Result<String, MetadataError> {
    match field(map, name) {
        None => Ok(String::new()),
        Some(v) => Ok(scalar_text(v, name)?.unwrap_or_default()),
    }
}

fn list_field<'a>(map: &'a Map, name: &str) -> Result<Vec<&'a Map>, MetadataError> {
    match field(map, name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|item| match item {
                ListItem::Value(v) => Some(v),
                ListItem::Comment(_) => None,
            })
            .map(|v| match v {
                Value::Map(m) => Ok(m),
                other => Err(MetadataError::FieldType {
                    field: name.to_owned(),
                    expected: "a list of maps",
                    found: other.kind(),
                }),
            })
            .collect(),
        Some(other) => Err(MetadataError::FieldType {
            field: name.to_owned(),
            expected: "a list",
            found: other.kind(),
        }),
    }
}

/// Reads the master keys of one group (or of the top level) in SOPS' load order.
fn read_group(map: &Map, ctx: &str) -> Result<KeyGroup, MetadataError> {
    let mut keys = Vec::new();
    let others: [(&'static str, &[&str]); 5] = [
        ("kms", &["arn"]),
        ("gcp_kms", &["resource_id"]),
        ("hckms", &["key_id"]),
        ("azure_kv", &["vault_url", "name", "version"]),
        ("hc_vault", &["vault_address", "engine_path", "key_name"]),
    ];
    for (kind, id_fields) in others {
        for entry in list_field(map, kind)? {
            let mut parts = Vec::new();
            for f in id_fields {
                let s = string_field(entry, f)?;
                if !s.is_empty() {
                    parts.push(s);
                }
            }
            keys.push(MasterKey::Other {
                kind,
                id: parts.join("/"),
            });
        }
    }
    for entry in list_field(map, "pgp")? {
        keys.push(MasterKey::Pgp {
            fingerprint: string_field(entry, "fp")?.replace(' ', ""),
            created_at: string_field(entry, "created_at")?,
            enc: string_field(entry, "enc")?,
        });
    }
    for entry in list_field(map, "age")? {
        let recipient = string_field(entry, "recipient")?;
        let enc = string_field(entry, "enc")?;
        if enc.is_empty() {
            return Err(MetadataError::Invalid(format!(
                "{ctx}: age entry for {recipient} has no `enc`"
            )));
        }
        keys.push(MasterKey::Age { recipient, enc });
    }
    Ok(keys)
}

fn compile(field: &str, pattern: &str) -> Option<Regex> {
    // SOPS ignores a regex that fails to compile (it counts as "no match"); say so.
    match Regex::new(pattern) {
        Ok(r) => Some(r),
        Err(_) => {
            log::warn!(
                "sops metadata: {field} {pattern:?} is not a valid regex; it matches nothing"
            );
            None
        }
    }
}

impl Metadata {
    /// Parses the `sops` block. `binary` files carry no crypt rule, and the default applies.
    pub fn from_value(value: &Value) -> Result<Metadata, MetadataError> {
        let map = match value {
            Value::Map(m) => m,
            other => {
                return Err(MetadataError::FieldType {
                    field: "sops".into(),
                    expected: "a map",
                    found: other.kind(),
                })
            }
        };

        let shamir_threshold = match field(map, "shamir_threshold") {
            None | Some(Value::Null) => 0,
            Some(Value::Int(i)) if *i >= 0 => *i as usize,
            Some(Value::Float(f)) if *f >= 0.0 && f.fract() == 0.0 => *f as usize,
            Some(Value::Str(s)) => parse_threshold(s.expose())?,
            Some(other) => {
                return Err(MetadataError::FieldType {
                    field: "shamir_threshold".into(),
                    expected: "a non-negative integer",
                    found: other.kind(),
                })
            }
        };

        let top = read_group(map, "sops")?;
        let key_groups = if !top.is_empty() {
            // SOPS ignores key_groups as soon as any top-level key list is non-empty.
            vec![top]
        } else {
            let mut groups = Vec::new();
            for (i, g) in list_field(map, "key_groups")?.into_iter().enumerate() {
                groups.push(read_group(g, &format!("key_groups[{i}]"))?);
            }
            groups
        };
        if key_groups.iter().all(|g| g.is_empty()) {
            return Err(MetadataError::NoKeys);
        }

        let mut rules = Vec::new();
        for name in CRYPT_RULE_FIELDS {
            let v = string_field(map, name)?;
            if !v.is_empty() {
                rules.push((name, v));
            }
        }
        if rules.len() > 1 {
            return Err(MetadataError::Invalid(format!(
                "more than one crypt rule is set ({}); SOPS allows only one",
                rules.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            )));
        }
        let crypt_rule = match rules.pop() {
            None => CryptRule::default(),
            Some((name, v)) => match name {
                "unencrypted_suffix" => CryptRule::UnencryptedSuffix(v),
                "encrypted_suffix" => CryptRule::EncryptedSuffix(v),
                "unencrypted_regex" => CryptRule::UnencryptedRegex(compile(name, &v)),
                "encrypted_regex" => CryptRule::EncryptedRegex(compile(name, &v)),
                "unencrypted_comment_regex" => {
                    CryptRule::UnencryptedCommentRegex(compile(name, &v))
                }
                _ => CryptRule::EncryptedCommentRegex(compile(name, &v)),
            },
        };

        let mac_only_encrypted = match field(map, "mac_only_encrypted") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::Str(s)) => s.expose() == "true",
            Some(other) => {
                return Err(MetadataError::FieldType {
                    field: "mac_only_encrypted".into(),
                    expected: "a bool",
                    found: other.kind(),
                })
            }
        };

        let lastmodified = string_field(map, "lastmodified")?;
        if crate::sops::gofmt::GoTime::parse_rfc3339(&lastmodified).is_none() {
            // SOPS parses it when loading, so a bad one fails before any key is tried.
            return Err(MetadataError::Invalid(format!(
                "lastmodified {:?} is not an RFC 3339 time",
                lastmodified.chars().take(64).collect::<String>()
            )));
        }
        Ok(Metadata {
            shamir_threshold,
            key_groups,
            lastmodified,
            mac: string_field(map, "mac")?,
            crypt_rule,
            mac_only_encrypted,
            version: string_field(map, "version")?,
        })
    }
}

fn parse_threshold(s: &str) -> Result<usize, MetadataError> {
    // dotenv/INI store it as text; SOPS accepts an integral float too.
    if let Ok(i) = s.parse::<usize>() {
        return Ok(i);
    }
    match s.parse::<f64>() {
        Ok(f) if f >= 0.0 && f.fract() == 0.0 => Ok(f as usize),
        _ => Err(MetadataError::Invalid(format!(
            "shamir_threshold {s:?} is not an integer"
        ))),
    }
}

/// Rebuilds the metadata tree from dotenv's `sops_*` keys (prefix already removed) or INI's
/// `[sops]` section: `a__map_b` is a nested key, `a__list_0` a list index, `\n` escapes a newline.
pub(crate) fn unflatten(pairs: &[(String, String)]) -> Result<Value, MetadataError> {
    let mut root = Value::Map(Vec::new());
    for (flat, raw) in pairs {
        let text = raw.replace("\\n", "\n");
        let mut parts: Vec<Segment> = Vec::new();
        let mut rest = flat.as_str();
        let first_end = rest.find("__").unwrap_or(rest.len());
        parts.push(Segment::Key(rest[..first_end].to_owned()));
        rest = &rest[first_end..];
        while !rest.is_empty() {
            let body = &rest[2..];
            let next = body.find("__").map(|i| i + 2).unwrap_or(rest.len());
            let seg = &rest[2..next];
            if let Some(k) = seg.strip_prefix("map_") {
                parts.push(Segment::Key(k.to_owned()));
            } else if let Some(i) = seg.strip_prefix("list_") {
                let idx = i.parse::<usize>().map_err(|_| {
                    MetadataError::Invalid(format!("bad list index in metadata key {flat:?}"))
                })?;
                parts.push(Segment::Index(idx));
            } else {
                return Err(MetadataError::Invalid(format!(
                    "cannot unflatten metadata key {flat:?}"
                )));
            }
            rest = &rest[next..];
        }
        insert(&mut root, &parts, Value::str(text), flat)?;
    }
    Ok(root)
}

enum Segment {
    Key(String),
    Index(usize),
}

fn insert(
    node: &mut Value,
    path: &[Segment],
    leaf: Value,
    flat: &str,
) -> Result<(), MetadataError> {
    let Some((head, tail)) = path.split_first() else {
        *node = leaf;
        return Ok(());
    };
    let conflict = || MetadataError::Invalid(format!("conflicting metadata key {flat:?}"));
    match head {
        Segment::Key(k) => {
            if matches!(node, Value::Null) {
                *node = Value::Map(Vec::new());
            }
            let Value::Map(map) = node else {
                return Err(conflict());
            };
            let pos = map
                .iter()
                .position(|item| matches!(item, MapItem::Entry(key, _) if key == k));
            let idx = match pos {
                Some(i) => i,
                None => {
                    map.push(MapItem::Entry(k.clone(), Value::Null));
                    map.len() - 1
                }
            };
            let MapItem::Entry(_, child) = &mut map[idx] else {
                return Err(conflict());
            };
            insert(child, tail, leaf, flat)
        }
        Segment::Index(i) => {
            if matches!(node, Value::Null) {
                *node = Value::List(Vec::new());
            }
            let Value::List(list) = node else {
                return Err(conflict());
            };
            while list.len() <= *i {
                list.push(ListItem::Value(Value::Null));
            }
            let ListItem::Value(child) = &mut list[*i] else {
                return Err(conflict());
            };
            insert(child, tail, leaf, flat)
        }
    }
}

impl CryptRule {
    /// The metadata field this rule is written as, and its value (`None` for a regex that did
    /// not compile: it cannot be written back faithfully).
    pub fn field(&self) -> (&'static str, Option<String>) {
        let re = |r: &Option<Regex>| r.as_ref().map(|r| r.as_str().to_owned());
        match self {
            CryptRule::UnencryptedSuffix(s) => ("unencrypted_suffix", Some(s.clone())),
            CryptRule::EncryptedSuffix(s) => ("encrypted_suffix", Some(s.clone())),
            CryptRule::UnencryptedRegex(r) => ("unencrypted_regex", re(r)),
            CryptRule::EncryptedRegex(r) => ("encrypted_regex", re(r)),
            CryptRule::UnencryptedCommentRegex(r) => ("unencrypted_comment_regex", re(r)),
            CryptRule::EncryptedCommentRegex(r) => ("encrypted_comment_regex", re(r)),
        }
    }

    /// Builds a rule from its metadata field name (as `.sops.yaml` and the CLI flags name it).
    pub fn from_field(name: &str, value: &str) -> Result<CryptRule, MetadataError> {
        let re = |v: &str| {
            Regex::new(v)
                .map(Some)
                .map_err(|e| MetadataError::Invalid(format!("{name} {v:?}: {e}")))
        };
        Ok(match name {
            "unencrypted_suffix" => CryptRule::UnencryptedSuffix(value.into()),
            "encrypted_suffix" => CryptRule::EncryptedSuffix(value.into()),
            "unencrypted_regex" => CryptRule::UnencryptedRegex(re(value)?),
            "encrypted_regex" => CryptRule::EncryptedRegex(re(value)?),
            "unencrypted_comment_regex" => CryptRule::UnencryptedCommentRegex(re(value)?),
            "encrypted_comment_regex" => CryptRule::EncryptedCommentRegex(re(value)?),
            other => {
                return Err(MetadataError::Invalid(format!(
                    "unknown crypt rule {other}"
                )))
            }
        })
    }
}

fn entry(map: &mut Map, key: &str, value: Value) {
    map.push(MapItem::Entry(key.to_owned(), value));
}

fn key_list(keys: &[&MasterKey], kind: &str) -> Vec<ListItem> {
    keys.iter()
        .filter(|k| k.kind() == kind)
        .map(|k| {
            let mut m = Vec::new();
            match k {
                MasterKey::Age { recipient, enc } => {
                    entry(&mut m, "recipient", Value::str(recipient.clone()));
                    entry(&mut m, "enc", Value::str(enc.clone()));
                }
                MasterKey::Pgp {
                    fingerprint,
                    created_at,
                    enc,
                } => {
                    entry(&mut m, "created_at", Value::str(created_at.clone()));
                    entry(&mut m, "enc", Value::str(enc.clone()));
                    entry(&mut m, "fp", Value::str(fingerprint.clone()));
                }
                MasterKey::Other { .. } => {}
            }
            ListItem::Value(Value::Map(m))
        })
        .collect()
}

impl Metadata {
    /// The `sops` block in SOPS' field order (its Go struct order), with its `omitempty` rules,
    /// so every store writes it as sops does. Cloud keys cannot be written (nix-sops keeps only
    /// their identity), so a file that has them cannot be re-encrypted by nix-sops.
    pub fn to_value(&self) -> Result<Value, MetadataError> {
        if self
            .key_groups
            .iter()
            .flatten()
            .any(|k| matches!(k, MasterKey::Other { .. }))
        {
            return Err(MetadataError::Invalid(
                "the file has cloud (kms/gcp/azure/vault) keys, which nix-sops cannot write".into(),
            ));
        }
        let mut m: Map = Vec::new();
        let single = self.key_groups.len() <= 1;
        if !single {
            let threshold = if self.shamir_threshold == 0 {
                self.key_groups.len()
            } else {
                self.shamir_threshold
            };
            entry(&mut m, "shamir_threshold", Value::Int(threshold as i64));
            let groups = self
                .key_groups
                .iter()
                .map(|g| {
                    let keys: Vec<&MasterKey> = g.iter().collect();
                    let mut gm = Vec::new();
                    let pgp = key_list(&keys, "pgp");
                    if !pgp.is_empty() {
                        entry(&mut gm, "pgp", Value::List(pgp));
                    }
                    // `hc_vault` and `age` have no omitempty inside a group.
                    entry(&mut gm, "hc_vault", Value::Null);
                    let age = key_list(&keys, "age");
                    entry(
                        &mut gm,
                        "age",
                        if age.is_empty() {
                            Value::Null
                        } else {
                            Value::List(age)
                        },
                    );
                    ListItem::Value(Value::Map(gm))
                })
                .collect();
            entry(&mut m, "key_groups", Value::List(groups));
        }
        let top: Vec<&MasterKey> = if single {
            self.key_groups.iter().flatten().collect()
        } else {
            Vec::new()
        };
        let age = key_list(&top, "age");
        if !age.is_empty() {
            entry(&mut m, "age", Value::List(age));
        }
        entry(
            &mut m,
            "lastmodified",
            Value::str(self.lastmodified.clone()),
        );
        entry(&mut m, "mac", Value::str(self.mac.clone()));
        let pgp = key_list(&top, "pgp");
        if !pgp.is_empty() {
            entry(&mut m, "pgp", Value::List(pgp));
        }
        let (name, value) = self.crypt_rule.field();
        let value = value.ok_or_else(|| {
            MetadataError::Invalid(format!("{name} does not compile and cannot be written"))
        })?;
        entry(&mut m, name, Value::str(value));
        if self.mac_only_encrypted {
            entry(&mut m, "mac_only_encrypted", Value::Bool(true));
        }
        entry(&mut m, "version", Value::str(self.version.clone()));
        Ok(Value::Map(m))
    }
}

/// The inverse of [`unflatten`]: dotenv `sops_*` keys (without the prefix) and INI `[sops]` keys,
/// sorted as Go's `sort.Strings` sorts them. Nulls are skipped; newlines become `\n`.
pub(crate) fn flatten(value: &Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Null => {}
            Value::Map(m) => {
                for item in m {
                    if let MapItem::Entry(k, v) = item {
                        let key = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}__map_{k}")
                        };
                        walk(&key, v, out);
                    }
                }
            }
            Value::List(l) => {
                for (i, item) in l.iter().enumerate() {
                    if let ListItem::Value(v) = item {
                        walk(&format!("{prefix}__list_{i}"), v, out);
                    }
                }
            }
            Value::Bool(b) => out.push((prefix.to_owned(), b.to_string())),
            Value::Int(i) => out.push((prefix.to_owned(), i.to_string())),
            Value::Float(f) => out.push((prefix.to_owned(), format!("{f:.0}"))),
            Value::Str(s) => out.push((prefix.to_owned(), s.expose().replace('\n', "\\n"))),
            Value::Time(t) => out.push((prefix.to_owned(), t.expose().to_owned())),
            Value::Bytes(b) => out.push((
                prefix.to_owned(),
                String::from_utf8_lossy(b.expose()).replace('\n', "\\n"),
            )),
        }
    }
    let mut out = Vec::new();
    walk("", value, &mut out);
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out
}
