//! The dotenv store, as sops 3.11 reads and writes it (`stores/dotenv/store.go`).
//!
//! No shell semantics: lines split on `\n`, empty lines dropped, `#…` lines are comments, every
//! other line is `KEY=value` split at the first `=` and kept verbatim (no trimming, unquoting or
//! `export`). The two characters `\n` in a value mean a newline. Metadata is every `sops_*` key.

use crate::secret::{SecretBytes, SecretString};
use crate::sops::gofmt::{format_float_g, GoTime};
use crate::sops::metadata::unflatten;
use crate::sops::tree::{Map, MapItem, Tree, Value};
use crate::sops::{EmitError, Format, LoadError};

const SOPS_PREFIX: &str = "sops_";

/// Parses an encrypted dotenv file: data items, and the `sops_*` keys unflattened.
pub(crate) fn parse(bytes: &[u8]) -> Result<(Tree, Value), LoadError> {
    let items = parse_items(bytes)?;
    let mut data = Vec::new();
    let mut meta = Vec::new();
    for item in items {
        match item {
            MapItem::Entry(k, v) if k.starts_with(SOPS_PREFIX) => {
                let text = match v {
                    Value::Str(s) => s.expose().to_owned(),
                    // Metadata is ASCII in files sops writes; a stray byte is not worth failing.
                    Value::Bytes(b) => String::from_utf8_lossy(b.expose()).into_owned(),
                    _ => unreachable!("dotenv values are strings"),
                };
                meta.push((k[SOPS_PREFIX.len()..].to_owned(), text));
            }
            other => data.push(other),
        }
    }
    if meta.is_empty() {
        return Err(LoadError::NoMetadata);
    }
    // The loader already turned `\n` into newlines; sops then runs DecodeNewLines once more on
    // the metadata, which `unflatten` does.
    let meta = unflatten(&meta)?;
    Ok((
        Tree {
            branches: vec![data],
        },
        meta,
    ))
}

/// Parses a plaintext dotenv file (every line is data, `sops_*` keys included).
pub(crate) fn parse_plain(bytes: &[u8]) -> Result<Tree, LoadError> {
    Ok(Tree {
        branches: vec![parse_items(bytes)?],
    })
}

fn syntax(line: usize, what: &str) -> LoadError {
    LoadError::Syntax {
        format: Format::Dotenv,
        message: format!("line {line}: {what}"),
    }
}

fn parse_items(bytes: &[u8]) -> Result<Map, LoadError> {
    let mut items = Vec::new();
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let lineno = n + 1;
        if line.is_empty() {
            continue;
        }
        if line[0] == b'#' {
            let text = std::str::from_utf8(&line[1..])
                .map_err(|_| syntax(lineno, "the comment is not valid UTF-8"))?;
            items.push(MapItem::Comment(SecretString::from(text)));
            continue;
        }
        let Some(eq) = line.iter().position(|b| *b == b'=') else {
            return Err(syntax(
                lineno,
                "invalid dotenv line: no `=` (every line must be KEY=value, a #comment, or empty)",
            ));
        };
        let key = std::str::from_utf8(&line[..eq])
            .map_err(|_| syntax(lineno, "the key is not valid UTF-8"))?;
        let value = decode_newlines(&line[eq + 1..]);
        let value = match value.into_text() {
            Ok(s) => Value::Str(s),
            // A Go string may hold any bytes; keep them.
            Err(b) => Value::Bytes(b),
        };
        items.push(MapItem::Entry(key.to_owned(), value));
    }
    Ok(items)
}

/// `strings.Replace(v, "\\n", "\n", -1)` over bytes.
fn decode_newlines(v: &[u8]) -> SecretBytes {
    let mut out = SecretBytes::new(Vec::with_capacity(v.len()));
    let o = &mut out;
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'\\' && v.get(i + 1) == Some(&b'n') {
            o.push(b'\n');
            i += 2;
        } else {
            o.push(v[i]);
            i += 1;
        }
    }
    out
}

/// The whole document as `sops decrypt` prints it.
pub(crate) fn emit(tree: &Tree) -> Result<SecretBytes, EmitError> {
    let mut out = SecretBytes::new(Vec::new());
    let o = &mut out;
    let Some(branch) = tree.branches.first() else {
        return Ok(out);
    };
    for item in branch {
        match item {
            MapItem::Comment(c) => {
                o.push(b'#');
                o.extend_from_slice(c.expose().as_bytes());
                o.push(b'\n');
            }
            MapItem::Entry(k, v) => {
                if matches!(v, Value::Map(_) | Value::List(_)) {
                    return Err(EmitError::Unsupported {
                        format: Format::Dotenv,
                        message: format!(
                            "cannot use complex value in dotenv file; offending key {k}"
                        ),
                    });
                }
                o.extend_from_slice(k.as_bytes());
                o.push(b'=');
                match v {
                    Value::Str(s) => encode_newlines(o, s.expose().as_bytes()),
                    Value::Bytes(b) => encode_newlines(o, b.expose()),
                    other => val_to_string(o, other),
                }
                o.push(b'\n');
            }
        }
    }
    Ok(out)
}

fn encode_newlines(out: &mut SecretBytes, v: &[u8]) {
    for &b in v {
        if b == b'\n' {
            out.extend_from_slice(b"\\n");
        } else {
            out.push(b);
        }
    }
}

/// sops' `stores.ValToString`, used by dotenv and INI for values that are not strings.
pub fn val_to_string(out: &mut SecretBytes, v: &Value) {
    match v {
        Value::Str(s) => out.extend_from_slice(s.expose().as_bytes()),
        Value::Bytes(b) => out.extend_from_slice(b.expose()),
        Value::Float(f) => {
            // FormatFloat 'G', then `.0` if it could be read as an integer.
            let g = format_float_g(*f).replace('e', "E");
            if g.contains('.') || g.contains('E') {
                out.extend_from_slice(g.as_bytes());
            } else if f.is_finite() {
                out.extend_from_slice(format!("{f:.1}").as_bytes());
            } else {
                out.extend_from_slice(g.as_bytes());
            }
        }
        Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        // time.RFC3339: no fractional seconds.
        Value::Time(t) => match GoTime::parse_rfc3339(t.expose()) {
            Some(gt) => out.extend_from_slice(gt.format(false).as_bytes()),
            None => out.extend_from_slice(t.expose().as_bytes()),
        },
        Value::Null => out.extend_from_slice(b"<nil>"),
        Value::Map(_) | Value::List(_) => {
            unreachable!("callers reject complex values before formatting")
        }
    }
}

/// `sops decrypt --extract` of one value: dotenv can only print strings.
pub(crate) fn emit_value(value: &Value) -> Result<SecretBytes, EmitError> {
    match value {
        Value::Str(s) => Ok(SecretBytes::new(s.expose().as_bytes().to_vec())),
        Value::Bytes(b) => Ok(b.clone()),
        other => Err(EmitError::Unsupported {
            format: Format::Dotenv,
            message: format!(
                "the dotenv store only supports emitting strings, got a {}",
                other.kind()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_verbatim() {
        let t = parse_plain(b"A = b \r\n#c\n\nB=x\\ny=z\nexport C='q'\n").unwrap();
        let out = emit(&t).unwrap();
        assert_eq!(out.expose(), b"A = b \r\n#c\nB=x\\ny=z\nexport C='q'\n");
        let MapItem::Entry(k, Value::Str(v)) = &t.branches[0][2] else {
            panic!()
        };
        assert_eq!((k.as_str(), v.expose()), ("B", "x\ny=z"));
    }

    #[test]
    fn missing_equals_names_the_line_not_the_text() {
        let e = parse_plain(b"A=1\nsecretvalue\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && !e.contains("secretvalue"), "{e}");
    }

    #[test]
    fn val_to_string_like_go() {
        let s = |v: Value| {
            let mut o = SecretBytes::default();
            val_to_string(&mut o, &v);
            String::from_utf8(o.expose().to_vec()).unwrap()
        };
        assert_eq!(s(Value::Float(1.0)), "1.0");
        assert_eq!(s(Value::Float(1.5)), "1.5");
        assert_eq!(s(Value::Float(1e21)), "1E+21");
        assert_eq!(s(Value::Float(1e-7)), "1E-07");
        assert_eq!(s(Value::Float(123456.0)), "123456.0");
        assert_eq!(
            s(Value::Time("2001-12-14T21:59:43.1-05:00".into())),
            "2001-12-14T21:59:43-05:00"
        );
        assert_eq!(s(Value::Null), "<nil>");
    }
}
