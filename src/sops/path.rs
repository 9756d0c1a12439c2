//! Tree paths: SOPS' `--extract '["a"]["b"][0]'` syntax and sops-nix's `a/b` keys.

use crate::sops::tree::{map_get, ListItem, Tree, Value};

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Component {
    /// A map key (`["a"]`, or one part of sops-nix's `a/b`).
    Key(String),
    /// A list index (`[0]`), comments counted as sops counts them.
    Index(usize),
}

/// Why a path could not be parsed or followed (the messages are sops').
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    /// A `[` part without its `]`.
    #[error("invalid --extract path: component {0:?} doesn't end with ]")]
    Unterminated(String),
    /// A part that is neither `"key"`/`'key'` nor a number.
    #[error("invalid --extract path: component {0:?} is neither a quoted key nor an index")]
    BadComponent(String),
    /// No such key.
    #[error("component [{0:?}] not found")]
    NotFound(String),
    /// The list is shorter.
    #[error("component [{0}] accesses out of bounds")]
    OutOfBounds(usize),
    /// An index into something that is not a list.
    #[error("component [{0}] is an index, but that part of the tree is not a list")]
    NotAList(usize),
    /// A key into something that is not a map (the kind it is).
    #[error("component [{0:?}] is a key, but that part of the tree is a {1}, not a map")]
    NotAMap(String, &'static str),
}

/// Parses `["a"]['b'][0]` as SOPS does: split on `[`, each part ends with `]`, quoted parts are
/// keys (quotes dropped, no escapes), the rest are indices.
pub fn parse_extract(arg: &str) -> Result<Vec<Component>, PathError> {
    let mut out = Vec::new();
    for part in arg.split('[') {
        if part.is_empty() {
            continue;
        }
        let inner = part
            .strip_suffix(']')
            .ok_or_else(|| PathError::Unterminated(part.to_owned()))?;
        if inner.starts_with('"') || inner.starts_with('\'') {
            if inner.len() < 2 {
                return Err(PathError::BadComponent(part.to_owned()));
            }
            out.push(Component::Key(inner[1..inner.len() - 1].to_owned()));
        } else {
            let i = inner
                .parse::<usize>()
                .map_err(|_| PathError::BadComponent(part.to_owned()))?;
            out.push(Component::Index(i));
        }
    }
    Ok(out)
}

/// sops-nix's `key`: components split on `/`, all map keys.
pub(crate) fn parse_slash_key(key: &str) -> Vec<Component> {
    key.split('/')
        .map(|k| Component::Key(k.to_owned()))
        .collect()
}

/// Renders a path in `--extract` syntax, for messages.
pub fn render(path: &[Component]) -> String {
    path.iter()
        .map(|c| match c {
            Component::Key(k) => format!("[{k:?}]"),
            Component::Index(i) => format!("[{i}]"),
        })
        .collect()
}

/// What a path leads to: a value, or a comment item inside a list.
pub enum Found<'a> {
    /// A value.
    Value(&'a Value),
    /// A comment inside a list.
    Comment(&'a crate::secret::SecretString),
}

/// SOPS' `Truncate`: walks the first document only. List indices count comment items too.
pub fn lookup<'a>(tree: &'a Tree, path: &[Component]) -> Result<Found<'a>, PathError> {
    static EMPTY: Vec<crate::sops::tree::MapItem> = Vec::new();
    let root = tree.branches.first().unwrap_or(&EMPTY);
    let mut map = Some(root);
    let mut current: Option<&Value> = None;
    for comp in path {
        match comp {
            Component::Key(k) => {
                let m = match (map, current) {
                    (Some(m), _) => m,
                    (None, Some(Value::Map(m))) => m,
                    (None, Some(other)) => return Err(PathError::NotAMap(k.clone(), other.kind())),
                    (None, None) => return Err(PathError::NotFound(k.clone())),
                };
                let v = map_get(m, k).ok_or_else(|| PathError::NotFound(k.clone()))?;
                current = Some(v);
                map = None;
            }
            Component::Index(i) => {
                let list = match current {
                    Some(Value::List(l)) if map.is_none() => l,
                    _ => return Err(PathError::NotAList(*i)),
                };
                match list.get(*i) {
                    None => return Err(PathError::OutOfBounds(*i)),
                    Some(ListItem::Value(v)) => {
                        current = Some(v);
                        map = None;
                    }
                    Some(ListItem::Comment(c)) => return Ok(Found::Comment(c)),
                }
            }
        }
    }
    match current {
        Some(v) => Ok(Found::Value(v)),
        None => Err(PathError::NotFound(String::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sops_syntax() {
        assert_eq!(
            parse_extract(r#"["a"]['b'][0]"#).unwrap(),
            vec![
                Component::Key("a".into()),
                Component::Key("b".into()),
                Component::Index(0)
            ]
        );
        assert!(matches!(
            parse_extract(r#"["a""#),
            Err(PathError::Unterminated(_))
        ));
        assert!(matches!(
            parse_extract("[x]"),
            Err(PathError::BadComponent(_))
        ));
    }
}
