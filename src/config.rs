//! `.sops.yaml`: the creation rules that say which keys and crypt rule a new file gets.

use crate::keys::wrap::Recipient;
use crate::sops::metadata::{CryptRule, CRYPT_RULE_FIELDS};
use crate::sops::tree::{map_get, ListItem, Map, Tree, Value};
use std::path::{Path, PathBuf};

/// What a matching creation rule asks for.
#[derive(Debug)]
pub struct CreationRule {
    /// The recipients, per key group (`key_groups`, or one group of `age`/`pgp`).
    pub key_groups: Vec<Vec<Recipient>>,
    /// `shamir_threshold`: groups needed to decrypt (0: all).
    pub shamir_threshold: usize,
    /// `encrypted_regex` and the like, if the rule sets one.
    pub crypt_rule: Option<CryptRule>,
    /// `mac_only_encrypted`.
    pub mac_only_encrypted: bool,
}

/// Why `.sops.yaml` gave no rule.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be used; the message says which rule and field.
    #[error("{file}: {message}")]
    Invalid {
        /// The `.sops.yaml`.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// No rule's `path_regex` matches the file being encrypted.
    #[error("{file}: no creation rule matches {path:?}; add one (e.g. with `path_regex`) or pass --age/--pgp")]
    NoMatch {
        /// The `.sops.yaml`.
        file: String,
        /// The file being encrypted, as matched.
        path: String,
    },
}

/// Looks for `.sops.yaml` in `start` and its parents, as sops does.
pub fn find(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let candidate = d.join(".sops.yaml");
        if candidate.is_file() {
            return Some(candidate);
        }
        dir = d.parent();
    }
    None
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.expose().to_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A key list: a comma-separated string or a YAML list of strings.
fn keys(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Str(s)) => s
            .expose()
            .split(',')
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect(),
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|i| match i {
                ListItem::Value(v) => text(v),
                ListItem::Comment(_) => None,
            })
            .map(|k| k.trim().to_owned())
            .collect(),
        _ => Vec::new(),
    }
}

fn group(map: &Map) -> Vec<Recipient> {
    let mut out: Vec<Recipient> = keys(map_get(map, "pgp"))
        .into_iter()
        .map(|fp| Recipient::Pgp(fp.replace(' ', "")))
        .collect();
    out.extend(keys(map_get(map, "age")).into_iter().map(Recipient::Age));
    out
}

/// Picks the first rule whose `path_regex` matches `file` (relative to the config's folder), or
/// that has none, and reads its keys and crypt rule.
pub fn rule_for(
    config_path: &Path,
    config: &Tree,
    file: &Path,
) -> Result<CreationRule, ConfigError> {
    let shown = config_path.display().to_string();
    let invalid = |message: String| ConfigError::Invalid {
        file: shown.clone(),
        message,
    };
    let root = config
        .branches
        .first()
        .ok_or_else(|| invalid("empty file".into()))?;
    let rules = match map_get(root, "creation_rules") {
        Some(Value::List(items)) => items,
        _ => return Err(invalid("no `creation_rules` list".into())),
    };
    let dir = config_path
        .parent()
        .map(|d| std::path::absolute(d).unwrap_or_else(|_| d.to_path_buf()))
        .unwrap_or_default();
    let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let relative = abs
        .strip_prefix(&dir)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| abs.to_string_lossy().into_owned());

    for item in rules {
        let ListItem::Value(Value::Map(rule)) = item else {
            continue;
        };
        let regex = map_get(rule, "path_regex")
            .or_else(|| map_get(rule, "filename_regex"))
            .and_then(text)
            .unwrap_or_default();
        if !regex.is_empty() {
            let re = regex::Regex::new(&regex)
                .map_err(|e| invalid(format!("path_regex {regex:?} does not compile: {e}")))?;
            if !re.is_match(&relative) {
                continue;
            }
        }
        let mut key_groups = Vec::new();
        if let Some(Value::List(groups)) = map_get(rule, "key_groups") {
            for g in groups {
                if let ListItem::Value(Value::Map(m)) = g {
                    key_groups.push(group(m));
                }
            }
        } else {
            key_groups.push(group(rule));
        }
        if key_groups.iter().all(|g| g.is_empty()) {
            return Err(invalid(format!(
                "the creation rule for {relative:?} lists no age or pgp keys"
            )));
        }
        let mut crypt_rule = None;
        for name in CRYPT_RULE_FIELDS {
            if let Some(v) = map_get(rule, name).and_then(text).filter(|v| !v.is_empty()) {
                if crypt_rule.is_some() {
                    return Err(invalid(format!(
                        "the creation rule for {relative:?} sets more than one crypt rule"
                    )));
                }
                crypt_rule =
                    Some(CryptRule::from_field(name, &v).map_err(|e| invalid(e.to_string()))?);
            }
        }
        let shamir_threshold = match map_get(rule, "shamir_threshold") {
            Some(Value::Int(i)) if *i >= 0 => *i as usize,
            None | Some(Value::Null) => 0,
            Some(_) => return Err(invalid("shamir_threshold must be a number".into())),
        };
        let mac_only_encrypted =
            matches!(map_get(rule, "mac_only_encrypted"), Some(Value::Bool(true)));
        return Ok(CreationRule {
            key_groups,
            shamir_threshold,
            crypt_rule,
            mac_only_encrypted,
        });
    }
    Err(ConfigError::NoMatch {
        file: shown,
        path: relative,
    })
}
