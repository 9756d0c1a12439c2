//! `nix-sops set` and `nix-sops unset`: change one value (or branch) of an encrypted file in
//! place, as `sops set`/`sops unset` do: same data key and keys, values re-encrypted, new MAC.

use crate::cli::decrypt::{data_key, decrypt_loaded, load_file};
use crate::cli::exit::CliError;
use nix_sops::secret::SecretBytes;
use nix_sops::sops::{emit_encrypted_owned, seal};
use nix_sops::sops::{parse_extract, Component};
use nix_sops::sops::{DataKey, DecryptOptions, Format, Metadata, PlainTree};
use nix_sops::sops::{ListItem, Map, MapItem, Value};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(
    override_usage = "nix-sops set [OPTIONS] FILE INDEX [VALUE]",
    after_help = "\
Examples:
  nix-sops set secrets.yaml '[\"db\"][\"password\"]' '\"hunter2\"'
  nix-sops set secrets.yaml '[\"ports\"][0]' 8080
  nix-sops set secrets.yaml '[\"tls\"]' '{\"cert\": \"…\", \"key\": \"…\"}'
  generate-token | jq -Rs . | nix-sops set --value-stdin secrets.yaml '[\"ci\"][\"token\"]'

VALUE is JSON, as for sops: a string needs its quotes. --value-stdin and --value-file keep the
value out of the process list. The file is rewritten with the same data key and keys; with
--idempotent it is left alone when the value is already there. Exit 7 for a bad index or value."
)]
pub struct SetArgs {
    #[command(flatten)]
    pub types: crate::cli::FormatArgs,
    /// Treat VALUE as a file to read the JSON value from.
    #[arg(long, conflicts_with = "value_stdin")]
    pub value_file: bool,
    /// Read the JSON value from stdin (then there is no VALUE argument).
    #[arg(long)]
    pub value_stdin: bool,
    /// Accepted for compatibility with sops, which ignores it here too.
    #[arg(long = "shamir-secret-sharing-threshold", value_name = "N")]
    pub shamir_threshold: Option<usize>,
    /// Do not fail when the MAC does not match.
    #[arg(long)]
    pub ignore_mac: bool,
    /// Do nothing (do not rewrite the file) if the index already has this value.
    #[arg(long)]
    pub idempotent: bool,
    #[command(flatten)]
    pub keys: crate::cli::KeyArgs,
    /// FILE INDEX [VALUE]: the SOPS file, the path ('["a"]["b"][0]') and the JSON value.
    #[arg(value_name = "ARGS", num_args = 0.., allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(clap::Args, Debug)]
#[command(
    override_usage = "nix-sops unset [OPTIONS] FILE INDEX",
    after_help = "\
Examples:
  nix-sops unset secrets.yaml '[\"old_token\"]'
  nix-sops unset --idempotent secrets.yaml '[\"users\"][2]'

Exit 1 when the index does not exist (0 with --idempotent), 7 for a bad index."
)]
pub struct UnsetArgs {
    #[command(flatten)]
    pub types: crate::cli::FormatArgs,
    /// Accepted for compatibility with sops, which ignores it here too.
    #[arg(long = "shamir-secret-sharing-threshold", value_name = "N")]
    pub shamir_threshold: Option<usize>,
    /// Do not fail when the MAC does not match.
    #[arg(long)]
    pub ignore_mac: bool,
    /// Do nothing if the index does not exist.
    #[arg(long)]
    pub idempotent: bool,
    #[command(flatten)]
    pub keys: crate::cli::KeyArgs,
    /// FILE INDEX: the SOPS file and the path ('["a"]["b"][0]').
    #[arg(value_name = "ARGS", num_args = 0..)]
    pub args: Vec<String>,
}

/// A decrypted file ready to be changed and sealed again with the same key.
pub struct Opened {
    pub metadata: Metadata,
    pub key: DataKey,
    pub plain: PlainTree,
}

/// Loads, unwraps and decrypts `file` (sops' `LoadEncryptedFile` + `DecryptTree`): exit 2 for a
/// missing or unreadable file, 128 without a key, 51 for a MAC mismatch.
pub fn open(
    file: &Path,
    format: Format,
    keys: &crate::cli::KeyArgs,
    ignore_mac: bool,
) -> anyhow::Result<Opened> {
    keys.check_decryption_order()?;
    if let Err(e) = std::fs::metadata(file) {
        return Err(anyhow::Error::from(CliError::ReadInput(format!(
            "Error reading file {}: {e}",
            file.display()
        ))));
    }
    let encrypted = load_file(file, format)?;
    let metadata = encrypted.metadata.clone();
    let ring = keys.keyring();
    let key = data_key(file, &encrypted, &ring)?;
    drop(ring);
    let plain = decrypt_loaded(file, encrypted, &key, DecryptOptions { ignore_mac })?;
    Ok(Opened {
        metadata,
        key,
        plain,
    })
}

/// Encrypts `plain` with `key` under `metadata` (new MAC and `lastmodified`) and returns the
/// file's bytes in `output`'s syntax.
pub fn seal_to_bytes(
    file: &Path,
    output: Format,
    plain: PlainTree,
    metadata: Metadata,
    key: &DataKey,
) -> anyhow::Result<Vec<u8>> {
    let shown = file.display();
    let sealed = seal(
        PlainTree {
            format: output,
            tree: plain.tree,
        },
        metadata,
        key,
    )
    .map_err(|e| anyhow::Error::msg(format!("{shown}: {e}")))?;
    emit_encrypted_owned(sealed).map_err(|e| {
        anyhow::Error::from(CliError::DumpTree(format!(
            "{shown}: could not marshal tree: {e}"
        )))
    })
}

/// Deeper than the YAML reader reads back (256 levels): a path this long would write a file
/// nix-sops itself then refuses to read.
const MAX_PATH_DEPTH: usize = 256;

fn tree_path(arg: &str, what: &str) -> anyhow::Result<Vec<Component>> {
    match parse_extract(arg) {
        Ok(p) if p.len() > MAX_PATH_DEPTH => {
            Err(anyhow::Error::from(CliError::InvalidSetFormat(format!(
                "Invalid {what} index format: {} levels deep, more than the {MAX_PATH_DEPTH} \
                 a sops file may nest",
                p.len()
            ))))
        }
        Ok(p) if !p.is_empty() => Ok(p),
        Ok(_) => Err(anyhow::Error::from(CliError::InvalidSetFormat(format!(
            "Invalid {what} index format: {arg:?} names no key or index (e.g. '[\"a\"][0]')"
        )))),
        Err(e) => Err(anyhow::Error::from(CliError::InvalidSetFormat(format!(
            "Invalid {what} index format: {e}"
        )))),
    }
}

/// sops' `jsonValueToTreeInsertableValue`: any JSON value but an array; an object becomes a
/// branch as the JSON store reads it (numbers are float64, as Go's encoding/json makes them).
pub fn json_value(text: &[u8]) -> anyhow::Result<Value> {
    let invalid = || {
        anyhow::Error::from(CliError::InvalidSetFormat(String::from(
            "Value for --set is not valid JSON (a string needs its quotes: '\"text\"')",
        )))
    };
    let first = text.iter().find(|b| !b.is_ascii_whitespace()).copied();
    match first {
        Some(b'"') => {
            // Checked to be one JSON string, then decoded by the JSON store (as `{"v": …}`),
            // whose strings grow only in the wiping type; serde_json's decoding scratch would
            // keep a copy. Invalid UTF-8 becomes U+FFFD there, as Go's encoding/json does.
            serde_json::from_slice::<serde::de::IgnoredAny>(text).map_err(|_| invalid())?;
            let mut doc = SecretBytes::with_capacity(text.len() + 6);
            doc.extend_from_slice(b"{\"v\":");
            doc.extend_from_slice(text);
            doc.push(b'}');
            let tree =
                nix_sops::sops::parse_plain(Format::Json, doc.expose()).map_err(|_| invalid())?;
            match tree
                .branches
                .into_iter()
                .next()
                .and_then(|m| m.into_iter().next())
            {
                Some(MapItem::Entry(_, value @ Value::Str(_))) => Ok(value),
                _ => Err(invalid()),
            }
        }
        Some(b'{') => {
            serde_json::from_slice::<serde::de::IgnoredAny>(text).map_err(|_| invalid())?;
            let tree = nix_sops::sops::parse_plain(Format::Json, text).map_err(|e| {
                anyhow::Error::from(CliError::InvalidSetFormat(format!(
                    "Invalid --set value format: {e}"
                )))
            })?;
            Ok(Value::Map(
                tree.branches.into_iter().next().unwrap_or_default(),
            ))
        }
        Some(b'[') => {
            serde_json::from_slice::<serde::de::IgnoredAny>(text).map_err(|_| invalid())?;
            Err(anyhow::Error::from(CliError::InvalidSetFormat(String::from("Invalid --set value format: a JSON array cannot be set as a whole (as in sops): \
                 set its elements by index instead"))))
        }
        _ => match serde_json::from_slice::<serde_json::Value>(text).map_err(|_| invalid())? {
            serde_json::Value::Null => Ok(Value::Null),
            serde_json::Value::Bool(b) => Ok(Value::Bool(b)),
            serde_json::Value::Number(n) => n.as_f64().map(Value::Float).ok_or_else(invalid),
            _ => Err(invalid()),
        },
    }
}

/// sops' `valueFromPathAndLeaf`: the branch that holds `leaf` at `path`.
fn from_path_and_leaf(path: &[Component], leaf: Value) -> Value {
    let inner = if path.len() == 1 {
        leaf
    } else {
        from_path_and_leaf(&path[1..], leaf)
    };
    match &path[0] {
        Component::Index(_) => Value::List(vec![ListItem::Value(inner)]),
        Component::Key(k) => Value::Map(vec![MapItem::Entry(k.clone(), inner)]),
    }
}

/// sops' `TreeBranch.Set` on a map: returns whether anything changed (compared as Go compares
/// interface values: an int 5 is not a float64 5).
pub fn set_in_map(map: &mut Map, path: &[Component], value: Value) -> bool {
    if let Component::Key(k) = &path[0] {
        let found = map.iter_mut().find_map(|item| match item {
            MapItem::Entry(key, v) if key == k => Some(v),
            _ => None,
        });
        if let Some(v) = found {
            if path.len() == 1 {
                let changed = *v != value;
                *v = value;
                return changed;
            }
            return set_in_value(v, &path[1..], value);
        }
    }
    // Not there: add it. (An index on a map adds nothing, yet counts as a change, as in sops.)
    if let Value::Map(mut m) = from_path_and_leaf(path, value) {
        if !m.is_empty() {
            map.push(m.swap_remove(0));
        }
    }
    true
}

fn set_in_value(current: &mut Value, path: &[Component], value: Value) -> bool {
    match (current, &path[0]) {
        (Value::Map(m), _) => set_in_map(m, path, value),
        (Value::List(l), Component::Index(pos)) => {
            let pos = *pos;
            if pos >= l.len() {
                let item = if path.len() == 1 {
                    value
                } else {
                    from_path_and_leaf(&path[1..], value)
                };
                l.push(ListItem::Value(item));
                return true;
            }
            if path.len() == 1 {
                let changed = !matches!(&l[pos], ListItem::Value(v) if *v == value);
                l[pos] = ListItem::Value(value);
                return changed;
            }
            match &mut l[pos] {
                ListItem::Value(v) => set_in_value(v, &path[1..], value),
                item => {
                    *item = ListItem::Value(from_path_and_leaf(&path[1..], value));
                    true
                }
            }
        }
        // A scalar (or a list addressed by a key) is replaced by the new branch.
        (other, _) => {
            let new = from_path_and_leaf(path, value);
            let changed = *other != new;
            *other = new;
            changed
        }
    }
}

/// Why `unset` failed: the index is not there (`--idempotent` accepts that), or it leads
/// through a value that has no children.
#[derive(Debug)]
pub enum UnsetError {
    NotFound(String),
    Unsupported(String),
}

/// sops' `TreeBranch.Unset` on a map.
pub fn unset_in_map(map: &mut Map, path: &[Component]) -> Result<(), UnsetError> {
    let k = match &path[0] {
        Component::Key(k) => k,
        Component::Index(i) => return Err(UnsetError::NotFound(format!("Key not found: {i}"))),
    };
    let Some(i) = map
        .iter()
        .position(|item| matches!(item, MapItem::Entry(key, _) if key == k))
    else {
        return Err(UnsetError::NotFound(format!("Key not found: {k}")));
    };
    if path.len() == 1 {
        map.remove(i);
        return Ok(());
    }
    match &mut map[i] {
        MapItem::Entry(_, v) => unset_in_value(v, &path[1..]),
        MapItem::Comment(_) => unreachable!("position found an entry"),
    }
}

fn unset_in_value(current: &mut Value, path: &[Component]) -> Result<(), UnsetError> {
    let shown = nix_sops::sops::render_path(&path[..1]);
    match (current, &path[0]) {
        (Value::Map(m), _) => unset_in_map(m, path),
        (Value::List(l), Component::Index(pos)) => {
            let pos = *pos;
            if pos >= l.len() {
                return Err(UnsetError::NotFound(format!("Index {pos} out of bounds")));
            }
            if path.len() == 1 {
                l.remove(pos);
                return Ok(());
            }
            match &mut l[pos] {
                ListItem::Value(v) => unset_in_value(v, &path[1..]),
                ListItem::Comment(_) => Err(UnsetError::Unsupported(format!(
                    "Unsupported type: a comment for item {shown}"
                ))),
            }
        }
        (other, _) => Err(UnsetError::Unsupported(format!(
            "Unsupported type: {} for item {shown}",
            other.kind()
        ))),
    }
}

/// The JSON text of the value: the argument, the file it names, or stdin.
fn value_text(args: &SetArgs) -> anyhow::Result<SecretBytes> {
    // Read through the wiping type: stdin or a FIFO (`<(cmd)`) has no size to presize from, and
    // a growing plain buffer would leave copies of the value in freed memory.
    let mut buf = SecretBytes::default();
    if args.value_stdin {
        buf.read_to_end(&mut std::io::stdin().lock())
            .map_err(|e| anyhow::Error::msg(format!("cannot read the value from stdin: {e}")))?;
        return Ok(buf);
    }
    if args.value_file {
        let path = &args.args[2];
        return std::fs::File::open(path)
            .and_then(|mut f| buf.read_to_end(&mut f))
            .map(|_| buf)
            .map_err(|e| anyhow::Error::msg(format!("{path}: cannot read the value file: {e}")));
    }
    Ok(SecretBytes::new(args.args[2].as_bytes().to_vec()))
}

pub fn run_set(args: SetArgs) -> anyhow::Result<()> {
    let wanted = if args.value_stdin { 2 } else { 3 };
    if args.args.len() != wanted {
        let msg = if args.value_stdin {
            "Error: file specified, or index and value are missing. Need precisely 2 positional arguments since --value-stdin is used."
        } else {
            "Error: no file specified, or index and value are missing. Need precisely 3 positional arguments."
        };
        return Err(anyhow::Error::from(CliError::NoFile(String::from(msg))));
    }
    let file = PathBuf::from(&args.args[0]);
    let (input, output) = args.types.resolve(&file)?;
    let path = tree_path(&args.args[1], "set")?;
    let text = value_text(&args)?;
    let value = json_value(text.expose())?;
    drop(text);

    let Opened {
        metadata,
        key,
        mut plain,
    } = open(&file, input, &args.keys, args.ignore_mac)?;
    if plain.tree.branches.is_empty() {
        plain.tree.branches.push(Map::new());
    }
    let changed = set_in_map(&mut plain.tree.branches[0], &path, value);
    // Nothing to write: decided before re-encrypting every value.
    if !changed && args.idempotent {
        eprintln!(
            "{}: not written: the value is already there",
            file.display()
        );
        return Ok(());
    }
    let out = seal_to_bytes(&file, output, plain, metadata, &key)?;
    crate::cli::write_replacing(&file, &out)
}

pub fn run_unset(args: UnsetArgs) -> anyhow::Result<()> {
    if args.args.len() != 2 {
        return Err(anyhow::Error::from(CliError::NoFile(String::from(
            "Error: no file specified, or index is missing",
        ))));
    }
    let file = PathBuf::from(&args.args[0]);
    let (input, output) = args.types.resolve(&file)?;
    let path = tree_path(&args.args[1], "unset")?;
    let Opened {
        metadata,
        key,
        mut plain,
    } = open(&file, input, &args.keys, args.ignore_mac)?;
    if plain.tree.branches.is_empty() {
        plain.tree.branches.push(Map::new());
    }
    match unset_in_map(&mut plain.tree.branches[0], &path) {
        Ok(()) => {}
        Err(UnsetError::NotFound(_)) if args.idempotent => return Ok(()),
        Err(UnsetError::NotFound(m) | UnsetError::Unsupported(m)) => {
            return Err(anyhow::Error::msg(format!("{}: {m}", file.display())))
        }
    }
    let out = seal_to_bytes(&file, output, plain, metadata, &key)?;
    crate::cli::write_replacing(&file, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Component {
        Component::Key(k.into())
    }

    #[test]
    fn set_adds_replaces_and_reports_change() {
        let mut m: Map = vec![MapItem::Entry("a".into(), Value::Int(5))];
        // float64 5 is not int 5 for sops: a change.
        assert!(set_in_map(&mut m, &[key("a")], Value::Float(5.0)));
        assert!(!set_in_map(&mut m, &[key("a")], Value::Float(5.0)));
        assert!(set_in_map(
            &mut m,
            &[key("b"), Component::Index(3), key("c")],
            Value::Bool(true)
        ));
        assert_eq!(
            m[1],
            MapItem::Entry(
                "b".into(),
                Value::List(vec![ListItem::Value(Value::Map(vec![MapItem::Entry(
                    "c".into(),
                    Value::Bool(true)
                )]))])
            )
        );
    }

    #[test]
    fn unset_distinguishes_missing_from_unsupported() {
        let mut m: Map = vec![MapItem::Entry("a".into(), Value::Int(5))];
        assert!(matches!(
            unset_in_map(&mut m, &[key("x")]),
            Err(UnsetError::NotFound(_))
        ));
        assert!(matches!(
            unset_in_map(&mut m, &[key("a"), key("b")]),
            Err(UnsetError::Unsupported(_))
        ));
        unset_in_map(&mut m, &[key("a")]).unwrap();
        assert!(m.is_empty());
    }

    #[test]
    fn json_values_as_sops_reads_them() {
        assert_eq!(json_value(b" 5 ").unwrap(), Value::Float(5.0));
        assert_eq!(json_value(b"null").unwrap(), Value::Null);
        assert_eq!(json_value(b"\"x\\n\"").unwrap(), Value::str("x\n"));
        use crate::cli::exit::{code, INVALID_SET_FORMAT};
        assert_eq!(code(&json_value(b"[1]").unwrap_err()), INVALID_SET_FORMAT);
        assert_eq!(code(&json_value(b"nope").unwrap_err()), INVALID_SET_FORMAT);
        assert!(matches!(json_value(b"{\"a\": 1}").unwrap(), Value::Map(_)));
    }
}
