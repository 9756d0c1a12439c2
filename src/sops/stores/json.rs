//! The JSON store, as sops 3.11 reads and writes it (`stores/json/store.go`).
//!
//! Reading follows Go's `encoding/json` token stream: the top level must be an object, key order
//! and duplicate keys are kept, **every number is a float64** (3.11 does not use `UseNumber`),
//! invalid UTF-8 inside strings becomes U+FFFD, and lone surrogate escapes become U+FFFD.
//! Writing follows sops' hand-built `{"k": v}` text re-indented by `json.Indent` with a tab, with
//! strings escaped by `json.Marshal` (HTML-safe: `<`, `>`, `&`, U+2028, U+2029 as `\uXXXX`).

use crate::secret::{SecretBytes, SecretString};
use crate::sops::gofmt::format_float_json;
use crate::sops::tree::{ListItem, Map, MapItem, Tree, Value};
use crate::sops::{EmitError, Format, LoadError};

/// Deepest nesting accepted. Go allows 10000; real documents are shallow, and every later walk
/// over the tree is recursive, so a lower bound keeps a hostile file from overflowing the stack.
const MAX_DEPTH: usize = 1000;

/// The metadata key. Go's `json.Unmarshal` matches struct fields case-insensitively.
const SOPS_KEY: &str = "sops";

/// Parses an encrypted JSON file: the data tree (without `sops`) and the `sops` object.
pub(crate) fn parse(bytes: &[u8]) -> Result<(Tree, Value), LoadError> {
    parse_with(bytes, Format::Json)
}

/// [`parse`] for a store that wraps JSON (binary), so errors name that format.
pub(crate) fn parse_with(bytes: &[u8], format: Format) -> Result<(Tree, Value), LoadError> {
    // sops first `json.Unmarshal`s the whole file for its metadata, which rejects anything after
    // the top-level value; the token stream alone would not.
    let mut map = Parser::new(bytes, format).document(true)?;
    // The last matching key wins, as in json.Unmarshal (a `null` there means "no metadata").
    let meta = map
        .iter()
        .rev()
        .find_map(|item| match item {
            MapItem::Entry(k, v) if k.eq_ignore_ascii_case(SOPS_KEY) => Some(v.clone()),
            _ => None,
        })
        .ok_or(LoadError::NoMetadata)?;
    if matches!(meta, Value::Null) {
        return Err(LoadError::NoMetadata);
    }
    map.retain(|item| !matches!(item, MapItem::Entry(k, _) if k == SOPS_KEY));
    Ok((
        Tree {
            branches: vec![map],
        },
        meta,
    ))
}

/// Parses a plaintext JSON document (what `sops encrypt` reads). Like sops' token stream, text
/// after the top-level object is not looked at.
pub(crate) fn parse_plain(bytes: &[u8]) -> Result<Tree, LoadError> {
    let map = Parser::new(bytes, Format::Json).document(false)?;
    Ok(Tree {
        branches: vec![map],
    })
}

/// The whole document as `sops decrypt` prints it: indented with tabs, trailing newline.
pub(crate) fn emit(tree: &Tree) -> Result<SecretBytes, EmitError> {
    let branch = first_branch(tree);
    // Sized up front: growing would copy the plaintext into a new buffer each time.
    let mut out = SecretBytes::with_capacity(map_size_hint(branch, 0));
    write_map(&mut out, branch, 0)?;
    out.push(b'\n');
    Ok(out)
}

/// [`emit`]'s bytes written to `w` a top-level entry at a time, so the text of a large document
/// is never in memory whole next to its tree.
pub(crate) fn write(tree: &Tree, w: &mut dyn std::io::Write) -> Result<(), EmitError> {
    const CHUNK: usize = 64 * 1024;
    let mut out = SecretBytes::with_capacity(CHUNK);
    let entries = first_branch(tree).iter().filter_map(|item| match item {
        MapItem::Entry(k, v) => Some((k, v)),
        MapItem::Comment(_) => None,
    });
    write_container(&mut out, (b'{', b'}'), entries, 0, |out, (k, v)| {
        write_string(out, k.as_bytes());
        out.extend_from_slice(b": ");
        write_value(out, v, 1)?;
        if out.len() >= CHUNK {
            w.write_all(out.expose()).map_err(EmitError::Write)?;
            out.clear();
        }
        Ok(())
    })?;
    out.push(b'\n');
    w.write_all(out.expose()).map_err(EmitError::Write)
}

/// One value as `sops decrypt --extract` prints a non-string: indented, no trailing newline.
pub(crate) fn emit_value(value: &Value) -> Result<SecretBytes, EmitError> {
    let mut out = SecretBytes::new(Vec::new());
    write_value(&mut out, value, 0)?;
    Ok(out)
}

fn first_branch(tree: &Tree) -> &Map {
    // sops writes `in[0]` only; a tree with no branch is an empty object.
    static EMPTY: Map = Vec::new();
    tree.branches.first().unwrap_or(&EMPTY)
}

// ---------------------------------------------------------------------------------------------
// Reading

pub(crate) struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    format: Format,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(bytes: &'a [u8], format: Format) -> Self {
        Parser {
            bytes,
            pos: 0,
            format,
        }
    }

    /// Line and column (1-based, in bytes) of the current position.
    fn position(&self) -> (usize, usize) {
        let upto = &self.bytes[..self.pos.min(self.bytes.len())];
        let line = upto.iter().filter(|b| **b == b'\n').count() + 1;
        let col = upto.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        (line, col)
    }

    fn error(&self, what: &str) -> LoadError {
        let (line, col) = self.position();
        LoadError::Syntax {
            format: self.format,
            message: format!("line {line}, column {col}: {what}"),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn document(&mut self, strict: bool) -> Result<Map, LoadError> {
        self.skip_ws();
        match self.peek() {
            None => return Err(self.error("the document is empty; expected an object")),
            Some(b'{') => {}
            Some(b'[') => {
                return Err(self.error(
                    "the top level is an array; SOPS only supports a top-level object \
                     (wrap it, e.g. {\"data\": [...]})",
                ))
            }
            Some(_) => {
                // Say what it is, never what it says.
                let kind = match self.value(0) {
                    Ok(v) => v.kind(),
                    Err(e) => return Err(e),
                };
                return Err(LoadError::Syntax {
                    format: self.format,
                    message: format!(
                        "the top level is a {kind}; SOPS only supports a top-level object"
                    ),
                });
            }
        }
        self.pos += 1;
        let map = self.object(1)?;
        if strict {
            self.skip_ws();
            if self.pos < self.bytes.len() {
                return Err(self.error("unexpected text after the top-level object"));
            }
        }
        Ok(map)
    }

    /// After `{` or `[`: refuses too deep nesting; true when `close` follows at once (consumed).
    fn open(&mut self, depth: usize, close: u8) -> Result<bool, LoadError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting is deeper than 1000 levels"));
        }
        self.skip_ws();
        let empty = self.peek() == Some(close);
        if empty {
            self.pos += 1;
        }
        Ok(empty)
    }

    /// After a member of `container` (`an object`): true when `close` ends it, false after `,`.
    fn closes(&mut self, close: u8, container: &str, member: &str) -> Result<bool, LoadError> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => self.pos += 1,
            Some(c) if c == close => {
                self.pos += 1;
                return Ok(true);
            }
            None => return Err(self.error(&format!("unexpected end of input in {container}"))),
            Some(_) => {
                let close = close as char;
                return Err(self.error(&format!("expected ',' or '{close}' after {member}")));
            }
        }
        Ok(false)
    }

    /// After `{`.
    fn object(&mut self, depth: usize) -> Result<Map, LoadError> {
        let mut map = Vec::new();
        if self.open(depth, b'}')? {
            return Ok(map);
        }
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'"') => {}
                None => return Err(self.error("unexpected end of input in an object")),
                Some(_) => return Err(self.error("expected a string object key")),
            }
            let key = self.string()?;
            self.skip_ws();
            match self.peek() {
                Some(b':') => self.pos += 1,
                None => return Err(self.error("unexpected end of input after an object key")),
                Some(_) => return Err(self.error("expected ':' after an object key")),
            }
            self.skip_ws();
            let value = self.value(depth)?;
            map.push(MapItem::Entry(key.into_public(), value));
            if self.closes(b'}', "an object", "an object value")? {
                return Ok(trimmed(map));
            }
        }
    }

    /// After `[`.
    fn array(&mut self, depth: usize) -> Result<Vec<ListItem>, LoadError> {
        let mut list = Vec::new();
        if self.open(depth, b']')? {
            return Ok(list);
        }
        loop {
            self.skip_ws();
            list.push(ListItem::Value(self.value(depth)?));
            if self.closes(b']', "an array", "an array element")? {
                return Ok(trimmed(list));
            }
        }
    }

    /// Any value, at the current position (whitespace already skipped).
    fn value(&mut self, depth: usize) -> Result<Value, LoadError> {
        match self.peek() {
            None => Err(self.error("unexpected end of input; expected a value")),
            Some(b'{') => {
                self.pos += 1;
                Ok(Value::Map(self.object(depth + 1)?))
            }
            Some(b'[') => {
                self.pos += 1;
                Ok(Value::List(self.array(depth + 1)?))
            }
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("invalid character; expected a value")),
        }
    }

    fn literal(&mut self, word: &[u8], v: Value) -> Result<Value, LoadError> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.error("invalid literal; expected true, false or null"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, converted like `strconv.ParseFloat`.
    fn number(&mut self) -> Result<Value, LoadError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number: expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number: expected a digit after the decimal point"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number: expected a digit in the exponent"));
            }
        }
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).expect("ASCII digits");
        // Rust's parse rounds correctly, as Go's ParseFloat does; Go rejects overflow.
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => {
                self.pos = start;
                Err(self.error("number out of the float64 range"))
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, LoadError> {
        let Some(h) = self.bytes.get(self.pos..self.pos + 4) else {
            return Err(self.error("unexpected end of input in a \\u escape"));
        };
        let mut v = 0u32;
        for &b in h {
            let d = (b as char)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid character in a \\u escape"))?;
            v = v * 16 + d;
        }
        self.pos += 4;
        Ok(v)
    }

    /// A string at `"`, unquoted like Go's `unquote`.
    fn string(&mut self) -> Result<SecretString, LoadError> {
        self.pos += 1;
        let mut out = SecretString::new(String::new());
        let s = &mut out;
        loop {
            // Copy the run of ordinary bytes at once.
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            if s.capacity() == 0 {
                // Sized by the first run: exact for a string without escapes (most keys and
                // values), where growing from the minimum would leave up to half unused.
                *s = SecretString::new(String::with_capacity(self.pos - run_start));
            }
            push_lossy(s, &self.bytes[run_start..self.pos]);
            match self.peek() {
                None => return Err(self.error("unexpected end of input in a string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.error("unexpected end of input in a string escape"));
                    };
                    self.pos += 1;
                    match e {
                        b'"' => s.push('"'),
                        b'\\' => s.push('\\'),
                        b'/' => s.push('/'),
                        b'b' => s.push('\u{8}'),
                        b'f' => s.push('\u{c}'),
                        b'n' => s.push('\n'),
                        b'r' => s.push('\r'),
                        b't' => s.push('\t'),
                        b'u' => {
                            let c = self.hex4()?;
                            if (0xD800..0xDC00).contains(&c) {
                                // A high surrogate pairs only with an immediately following
                                // `\u` low surrogate; otherwise it is U+FFFD and whatever
                                // follows is read on its own.
                                let save = self.pos;
                                let mut paired = None;
                                if self.bytes[self.pos..].starts_with(b"\\u") {
                                    self.pos += 2;
                                    if let Ok(lo) = self.hex4() {
                                        if (0xDC00..0xE000).contains(&lo) {
                                            paired = Some(
                                                0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00),
                                            );
                                        }
                                    }
                                }
                                match paired.and_then(char::from_u32) {
                                    Some(ch) => s.push(ch),
                                    None => {
                                        self.pos = save;
                                        s.push('\u{FFFD}');
                                    }
                                }
                            } else {
                                s.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                            }
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.error("invalid escape in a string"));
                        }
                    }
                }
                Some(_) => return Err(self.error("control character in a string")),
            }
        }
    }
}

/// Appends bytes as text, each byte of an invalid UTF-8 sequence becoming U+FFFD (Go's rule:
/// `utf8.DecodeRune` consumes one byte of a bad sequence).
pub(crate) fn push_lossy(out: &mut SecretString, mut bytes: &[u8]) {
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                out.push_str(s);
                return;
            }
            Err(e) => {
                let good = e.valid_up_to();
                out.push_str(std::str::from_utf8(&bytes[..good]).expect("valid prefix"));
                out.push('\u{FFFD}');
                bytes = &bytes[good + 1..];
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

fn indent(out: &mut SecretBytes, depth: usize) {
    out.push(b'\n');
    out.extend(std::iter::repeat_n(b'\t', depth));
}

/// About the length of [`write_map`]'s text (an eighth more for escapes).
fn map_size_hint(map: &Map, depth: usize) -> usize {
    let items: usize = map
        .iter()
        .map(|item| match item {
            MapItem::Entry(k, v) => depth + 1 + k.len() + 6 + value_size_hint(v, depth + 1),
            MapItem::Comment(_) => 0,
        })
        .sum();
    items + depth + 4
}

fn value_size_hint(v: &Value, depth: usize) -> usize {
    match v {
        Value::Str(s) => s.len() + s.len() / 8 + 2,
        Value::Bytes(b) => b.len() + b.len() / 8 + 2,
        Value::Map(m) => map_size_hint(m, depth),
        Value::List(l) => {
            l.iter()
                .map(|item| match item {
                    ListItem::Value(v) => depth + 3 + value_size_hint(v, depth + 1),
                    ListItem::Comment(_) => 0,
                })
                .sum::<usize>()
                + depth
                + 4
        }
        _ => 32,
    }
}

fn write_map(out: &mut SecretBytes, map: &Map, depth: usize) -> Result<(), EmitError> {
    // Comments cannot be written in JSON; sops skips them.
    let entries = map.iter().filter_map(|item| match item {
        MapItem::Entry(k, v) => Some((k, v)),
        MapItem::Comment(_) => None,
    });
    write_container(out, (b'{', b'}'), entries, depth, |out, (k, v)| {
        write_string(out, k.as_bytes());
        out.extend_from_slice(b": ");
        write_value(out, v, depth + 1)
    })
}

fn write_list(out: &mut SecretBytes, list: &[ListItem], depth: usize) -> Result<(), EmitError> {
    let values = list.iter().filter_map(|item| match item {
        ListItem::Value(v) => Some(v),
        ListItem::Comment(_) => None,
    });
    write_container(out, (b'[', b']'), values, depth, |out, v| {
        write_value(out, v, depth + 1)
    })
}

/// `open`, the items one per line indented a level deeper and separated by commas, `close` on
/// its own line; an empty container is just `open close` (`{}`, `[]`).
fn write_container<T>(
    out: &mut SecretBytes,
    (open, close): (u8, u8),
    items: impl Iterator<Item = T>,
    depth: usize,
    mut write_item: impl FnMut(&mut SecretBytes, T) -> Result<(), EmitError>,
) -> Result<(), EmitError> {
    let mut items = items.peekable();
    out.push(open);
    if items.peek().is_none() {
        out.push(close);
        return Ok(());
    }
    let mut first = true;
    for item in items {
        if !first {
            out.push(b',');
        }
        first = false;
        indent(out, depth + 1);
        write_item(out, item)?;
    }
    indent(out, depth);
    out.push(close);
    Ok(())
}

fn write_value(out: &mut SecretBytes, value: &Value, depth: usize) -> Result<(), EmitError> {
    match value {
        Value::Map(m) => write_map(out, m, depth)?,
        Value::List(l) => write_list(out, l, depth)?,
        scalar => write_scalar(out, scalar)?,
    }
    Ok(())
}

/// `json.Marshal` of a leaf, compact.
pub(crate) fn write_scalar(out: &mut SecretBytes, value: &Value) -> Result<(), EmitError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(EmitError::Unsupported {
                    format: Format::Json,
                    message: "JSON cannot represent NaN or infinite numbers".into(),
                });
            }
            out.extend_from_slice(format_float_json(*f).as_bytes());
        }
        Value::Str(s) => write_string(out, s.expose().as_bytes()),
        // A Go string holding arbitrary bytes: Marshal turns bad UTF-8 into `\ufffd`.
        Value::Bytes(b) => write_string(out, b.expose()),
        // time.Time marshals as its RFC 3339 text, which needs no escaping.
        Value::Time(t) => {
            out.push(b'"');
            out.extend_from_slice(t.expose().as_bytes());
            out.push(b'"');
        }
        Value::Map(_) | Value::List(_) => unreachable!("containers are written by write_value"),
    }
    Ok(())
}

/// A string as `json.Marshal` writes it (HTML escaping on).
pub(crate) fn write_string(out: &mut SecretBytes, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b < 0x80 {
            match b {
                b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                b'<' | b'>' | b'&' | 0x00..=0x1f => out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 0xf) as usize],
                ]),
                _ => out.push(b),
            }
            i += 1;
            continue;
        }
        let end = (i + 4).min(s.len());
        let (ch, len) = match std::str::from_utf8(&s[i..end]) {
            Ok(t) => first_char(t),
            Err(e) if e.valid_up_to() > 0 => {
                first_char(std::str::from_utf8(&s[i..i + e.valid_up_to()]).expect("valid"))
            }
            Err(_) => (None, 1),
        };
        match ch {
            None => out.extend_from_slice(b"\\ufffd"),
            Some('\u{2028}') => out.extend_from_slice(b"\\u2028"),
            Some('\u{2029}') => out.extend_from_slice(b"\\u2029"),
            Some(_) => out.extend_from_slice(&s[i..i + len]),
        }
        i += len;
    }
    out.push(b'"');
}

fn first_char(t: &str) -> (Option<char>, usize) {
    let c = t.chars().next().expect("non-empty");
    (Some(c), c.len_utf8())
}

/// A finished object or array without the spare room that pushing leaves (up to half of it):
/// a large file's tree is mostly such containers.
fn trimmed<T>(mut v: Vec<T>) -> Vec<T> {
    if v.capacity() - v.len() > 8 {
        v.shrink_to_fit();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `write` streams a top-level entry at a time: the same bytes as `emit`, for documents
    /// smaller and larger than its chunk, nested, empty.
    #[test]
    fn write_gives_emits_bytes() {
        let big: String = (0..5000)
            .map(|i| {
                format!("\"k{i}\": {{\"a\": [1, \"x{i}\", {{\"b\": null}}], \"s\": \"v\\n{i}\"}}")
            })
            .collect::<Vec<_>>()
            .join(", ");
        for text in ["{}", "{\"a\": 1}", &format!("{{{big}}}")] {
            let tree = parse_plain(text.as_bytes()).unwrap();
            let mut streamed = Vec::new();
            write(&tree, &mut streamed).unwrap();
            assert_eq!(
                streamed,
                emit(&tree).unwrap().expose(),
                "{}",
                &text[..text.len().min(40)]
            );
        }
    }

    fn plain(text: impl AsRef<[u8]>) -> Map {
        parse_plain(text.as_ref()).unwrap().branches.remove(0)
    }

    fn emit_str(map: Map) -> String {
        let out = emit(&Tree {
            branches: vec![map],
        })
        .unwrap();
        String::from_utf8(out.expose().to_vec()).unwrap()
    }

    #[test]
    fn numbers_are_floats() {
        let m = plain(r#"{"a": 42, "b": -0, "c": 12345678901234567890, "d": 1e-7}"#);
        let vals: Vec<f64> = m
            .iter()
            .map(|i| match i {
                MapItem::Entry(_, Value::Float(f)) => *f,
                _ => panic!("not a float"),
            })
            .collect();
        assert_eq!(vals[0], 42.0);
        assert!(vals[1] == 0.0 && vals[1].is_sign_negative());
        assert_eq!(vals[2], 12345678901234567890.0);
        assert_eq!(vals[3], 1e-7);
    }

    #[test]
    fn round_trip_layout() {
        let m = plain(r#"{"a":[],"b":{},"c":[1,{"x":null}],"d":"<&>","a":true}"#);
        assert_eq!(
            emit_str(m),
            "{\n\t\"a\": [],\n\t\"b\": {},\n\t\"c\": [\n\t\t1,\n\t\t{\n\t\t\t\"x\": null\n\t\t}\n\t],\n\t\"d\": \"\\u003c\\u0026\\u003e\",\n\t\"a\": true\n}\n"
        );
    }

    #[test]
    fn strings_unquote_like_go() {
        let m = plain(b"{\"s\": \"\\ud800x\\ud83d\\ude00\\u00e9\xff\"}");
        let MapItem::Entry(_, Value::Str(s)) = &m[0] else {
            panic!()
        };
        assert_eq!(s.expose(), "\u{FFFD}x\u{1F600}\u{e9}\u{FFFD}");
    }

    #[test]
    fn errors_do_not_quote_text() {
        for bad in [
            "[1]",
            "\"secret\"",
            "{\"a\": secret}",
            "{\"a\": 1",
            "{\"a\" 1}",
            "",
            "{\"a\": 1e999}",
        ] {
            let e = parse_plain(bad.as_bytes()).unwrap_err().to_string();
            assert!(!e.contains("secret"), "{e}");
            assert!(e.contains("json"), "{e}");
        }
        assert!(matches!(
            parse(b"{\"a\": 1}").unwrap_err(),
            LoadError::NoMetadata
        ));
        assert!(parse(b"{\"sops\": {}} x").is_err());
        assert!(parse_plain(b"{\"a\": 1} x").is_ok());
    }
}
