//! The INI store, as sops 3.11 reads and writes it (`stores/ini/store.go` over
//! `gopkg.in/ini.v1` v1.67 with `AllowNonUniqueSections`).
//!
//! The tree is `[section → [key → string]]`. Keys before the first header are in `DEFAULT`.
//! go-ini's reading quirks are reproduced: keys and values trimmed, `=` or `:` as delimiter,
//! surrounding quotes stripped, inline `;`/`#` comments split off wherever they appear (even
//! inside quotes), backslash continuation lines, `"""`/backtick multi-line values, duplicate keys
//! (last value wins, first position), duplicate sections kept. Its writer aligns `=` within a
//! section and re-quotes values that need it.

use crate::secret::{SecretBytes, SecretString};
use crate::sops::metadata::unflatten;
use crate::sops::tree::{ListItem, Map, MapItem, Tree, Value};
use crate::sops::{EmitError, Format, LoadError};
use std::collections::HashMap;

const SOPS_SECTION: &str = "sops";
const DEFAULT_SECTION: &str = "DEFAULT";
const DELIMITERS: &[char] = &['=', ':'];

/// A section as go-ini holds it: unique keys in first-seen order.
struct Section {
    name: String,
    comment: String,
    keys: Vec<Key>,
    /// Key name → index in `keys`.
    index: HashMap<String, usize>,
}

struct Key {
    name: String,
    value: SecretString,
    comment: String,
}

impl Section {
    fn new(name: String) -> Section {
        Section {
            name,
            comment: String::new(),
            keys: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// go-ini's `NewKey` without shadows: a repeated name updates the value in place.
    fn new_key(&mut self, name: String, value: SecretString) -> &mut Key {
        match self.index.get(&name) {
            Some(&i) => {
                self.keys[i].value = value;
                &mut self.keys[i]
            }
            None => {
                self.index.insert(name.clone(), self.keys.len());
                self.keys.push(Key {
                    name,
                    value,
                    comment: String::new(),
                });
                self.keys.last_mut().expect("just pushed")
            }
        }
    }
}

/// Parses an encrypted INI file: the data sections, and the `[sops]` section unflattened.
pub(crate) fn parse(bytes: &[u8]) -> Result<(Tree, Value), LoadError> {
    let sections = read(bytes)?;
    let sops = sections
        .iter()
        .find(|s| s.name == SOPS_SECTION)
        .ok_or(LoadError::NoMetadata)?;
    let pairs: Vec<(String, String)> = sops
        .keys
        .iter()
        .map(|k| (k.name.clone(), k.value.expose().to_owned()))
        .collect();
    // unflatten decodes `\n` once, as sops' DecodeNewLines does for INI.
    let meta = unflatten(&pairs)?;
    let data: Vec<Section> = sections
        .into_iter()
        .filter(|s| s.name != SOPS_SECTION)
        .collect();
    Ok((to_tree(data), meta))
}

/// Parses a plaintext INI file.
pub(crate) fn parse_plain(bytes: &[u8]) -> Result<Tree, LoadError> {
    Ok(to_tree(read(bytes)?))
}

/// sops' `stripCommentChar`: the leading `;`/`#` and spaces (only those two) go.
fn strip_comment_char(c: &str) -> &str {
    if c.starts_with(';') {
        c.trim_start_matches([';', ' '])
    } else if c.starts_with('#') {
        c.trim_start_matches(['#', ' '])
    } else {
        c
    }
}

fn to_tree(sections: Vec<Section>) -> Tree {
    let mut branch = Vec::with_capacity(sections.len());
    for s in sections {
        let mut items = Vec::new();
        if !s.comment.is_empty() {
            items.push(MapItem::Comment(strip_comment_char(&s.comment).into()));
        }
        for k in s.keys {
            items.push(MapItem::Entry(k.name, Value::Str(k.value)));
            if !k.comment.is_empty() {
                items.push(MapItem::Comment(strip_comment_char(&k.comment).into()));
            }
        }
        branch.push(MapItem::Entry(s.name, Value::Map(items)));
    }
    Tree {
        branches: vec![branch],
    }
}

// ---------------------------------------------------------------------------------------------
// Reading (go-ini's parser.go)

struct Reader<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    eof: bool,
    comment: String,
}

fn syntax(line: usize, what: &str) -> LoadError {
    LoadError::Syntax {
        format: Format::Ini,
        message: format!("line {line}: {what}"),
    }
}

impl<'a> Reader<'a> {
    /// `bufio.Reader.ReadBytes('\n')`: the next line with its `\n`, or the rest at the end.
    fn read_line(&mut self) -> &'a str {
        let rest = &self.text[self.pos..];
        let line = match rest.find('\n') {
            Some(i) => &rest[..=i],
            None => {
                self.eof = true;
                rest
            }
        };
        self.pos += line.len();
        self.line += 1;
        line
    }

    /// `readValue`: `in` is the text after the delimiter, with its line break.
    fn read_value(&mut self, input: &'a str) -> Result<String, LoadError> {
        let line = input.trim_start();
        if line.is_empty() {
            return Ok(String::new());
        }
        let quote = if line.len() > 3 && line.starts_with("\"\"\"") {
            Some("\"\"\"")
        } else if line.starts_with('`') {
            Some("`")
        } else {
            None
        };
        if let Some(q) = quote {
            let body = &line[q.len()..];
            return match body.rfind(q) {
                // Anything after the closing quote is ignored, comments included.
                Some(pos) => Ok(body[..pos].to_owned()),
                None => self.read_multiline(body, q),
            };
        }
        let mut line = line.trim();
        if let Some(head) = line.strip_suffix('\\') {
            return Ok(self.read_continuation(head));
        }
        // Inline comments start at the first `#` or `;`, quoted or not.
        if let Some(i) = line.find(['#', ';']) {
            self.comment.push_str(&line[i..]);
            line = line[..i].trim();
        }
        if surrounded(line, b'\'') || surrounded(line, b'"') {
            line = &line[1..line.len() - 1];
        }
        Ok(line.to_owned())
    }

    fn read_multiline(&mut self, first: &str, q: &str) -> Result<String, LoadError> {
        let start_line = self.line;
        let mut val = first.to_owned();
        loop {
            let next = self.read_line();
            if let Some(pos) = next.rfind(q) {
                val.push_str(&next[..pos]);
                if let Some(i) = next[pos..].find(['#', ';']) {
                    self.comment.push_str(next[pos + i..].trim());
                }
                return Ok(val);
            }
            val.push_str(next);
            if self.eof {
                return Err(syntax(
                    start_line,
                    &format!("the quoted value ({q}) is never closed"),
                ));
            }
        }
    }

    fn read_continuation(&mut self, first: &str) -> String {
        let mut val = first.to_owned();
        loop {
            let next = self.read_line().trim();
            if next.is_empty() {
                break;
            }
            val.push_str(next);
            if !val.ends_with('\\') {
                break;
            }
            val.pop();
        }
        val
    }
}

/// go-ini's `hasSurroundedQuote`: the quote is the first and last character and nowhere else.
fn surrounded(s: &str, q: u8) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == q && b[b.len() - 1] == q && !b[1..b.len() - 1].contains(&q)
}

/// `readKeyName`: the key and the offset of the value in `line`.
fn read_key_name(line: &str, lineno: usize) -> Result<(String, usize), LoadError> {
    let quote = if line.starts_with('"') {
        if line.len() > 6 && line.starts_with("\"\"\"") {
            Some("\"\"\"")
        } else {
            Some("\"")
        }
    } else if line.starts_with('`') {
        Some("`")
    } else {
        None
    };
    if let Some(q) = quote {
        let start = q.len();
        let pos = line[start..]
            .find(q)
            .ok_or_else(|| syntax(lineno, "the quoted key is never closed"))?
            + start;
        // go-ini looks for the delimiter from `pos + len(quote)`.
        let i = line
            .get(pos + start..)
            .and_then(|rest| rest.find(DELIMITERS))
            .ok_or_else(|| syntax(lineno, "no `=` or `:` after the key"))?;
        let end = pos + i;
        return Ok((line[start..pos].trim().to_owned(), end + start + 1));
    }
    match line.find(DELIMITERS) {
        None => Err(syntax(
            lineno,
            "not a key = value line, a [section] or a ;comment (no `=` or `:`)",
        )),
        Some(0) => Err(syntax(lineno, "the key name is empty")),
        Some(end) => Ok((line[..end].trim().to_owned(), end + 1)),
    }
}

fn read(bytes: &[u8]) -> Result<Vec<Section>, LoadError> {
    // go-ini drops a UTF-8 BOM and the two bytes of a UTF-16 one.
    let bytes = if bytes.starts_with(&[0xfe, 0xff]) || bytes.starts_with(&[0xff, 0xfe]) {
        &bytes[2..]
    } else if bytes.starts_with(&[0xef, 0xbb, 0xbf]) {
        &bytes[3..]
    } else {
        bytes
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        syntax(line, "the file is not valid UTF-8")
    })?;
    let mut r = Reader {
        text,
        pos: 0,
        line: 0,
        eof: false,
        comment: String::new(),
    };
    let mut sections = vec![Section::new(DEFAULT_SECTION.into())];
    let mut counter = 1;
    while !r.eof {
        let raw = r.read_line();
        let lineno = r.line;
        let line = raw.trim_start();
        if line.is_empty() {
            continue;
        }
        if line.starts_with(['#', ';']) {
            r.comment.push_str(line);
            continue;
        }
        if line.starts_with('[') {
            let close = line
                .rfind(']')
                .ok_or_else(|| syntax(lineno, "the [section] header is not closed"))?;
            let name = &line[1..close];
            if name.is_empty() {
                return Err(syntax(lineno, "empty section name"));
            }
            let mut section = Section::new(name.to_owned());
            if let Some(i) = line[close + 1..].find(['#', ';']) {
                r.comment.push_str(&line[close + 1 + i..]);
            }
            section.comment = r.comment.trim().to_owned();
            r.comment.clear();
            counter = 1;
            sections.push(section);
            continue;
        }
        let (mut name, offset) = read_key_name(line, lineno)?;
        if name == "-" {
            name = format!("#{counter}");
            counter += 1;
        }
        let value = SecretString::new(r.read_value(&line[offset..])?);
        if name.is_empty() {
            return Err(syntax(lineno, "the key name is empty"));
        }
        let comment = r.comment.trim().to_owned();
        r.comment.clear();
        let section = sections.last_mut().expect("DEFAULT is always there");
        section.new_key(name, value).comment = comment;
    }
    Ok(sections)
}

// ---------------------------------------------------------------------------------------------
// Writing (sops' encodeTree, then go-ini's WriteTo)

fn unsupported(message: String) -> EmitError {
    EmitError::Unsupported {
        format: Format::Ini,
        message,
    }
}

/// The whole document as `sops decrypt` prints it.
pub(crate) fn emit(tree: &Tree) -> Result<SecretBytes, EmitError> {
    let mut sections: Vec<OutSection> = Vec::new();
    for branch in &tree.branches {
        for item in branch {
            let MapItem::Entry(name, value) = item else {
                continue;
            };
            if name.is_empty() {
                return Err(unsupported("a section name is empty".into()));
            }
            let Value::Map(items) = value else {
                return Err(unsupported(format!(
                    "top-level key {name:?} is not a section: INI values must be in sections"
                )));
            };
            let mut comment = "";
            let mut rest = &items[..];
            if let Some(MapItem::Comment(c)) = items.first() {
                comment = c.expose();
                rest = &items[1..];
            }
            let mut keys: Vec<OutKey> = Vec::new();
            let mut index: HashMap<&str, usize> = HashMap::new();
            let mut last: Option<usize> = None;
            for item in rest {
                match item {
                    MapItem::Comment(c) => {
                        if let Some(i) = last {
                            keys[i].2 = c.expose();
                        }
                    }
                    MapItem::Entry(k, v) => {
                        if k.is_empty() {
                            return Err(unsupported(format!(
                                "a key name in section [{name}] is empty"
                            )));
                        }
                        if matches!(v, Value::Map(_) | Value::List(_)) {
                            return Err(unsupported(format!(
                                "key {k:?} in section [{name}] holds a {}; INI values must be \
                                 scalars",
                                v.kind()
                            )));
                        }
                        let mut text = SecretBytes::new(Vec::new());
                        super::dotenv::val_to_string(&mut text, v);
                        match index.get(k.as_str()) {
                            Some(&i) => {
                                keys[i].1 = text;
                                last = Some(i);
                            }
                            None => {
                                index.insert(k, keys.len());
                                keys.push((k.clone(), text, ""));
                                last = Some(keys.len() - 1);
                            }
                        }
                    }
                }
            }
            sections.push((name, comment, keys));
        }
    }

    let mut out = SecretBytes::new(Vec::new());
    let o = &mut out;
    let last_index = sections.len().saturating_sub(1);
    for (i, (name, comment, keys)) in sections.iter().enumerate() {
        // go-ini does not trim a section comment's plain lines (it does for key comments).
        write_comment(o, comment, false);
        if i > 0 || !name.eq_ignore_ascii_case(DEFAULT_SECTION) {
            o.push(b'[');
            o.extend_from_slice(name.as_bytes());
            o.extend_from_slice(b"]\n");
        } else if keys.is_empty() {
            // An empty leading DEFAULT section writes nothing, not even the blank line.
            continue;
        }

        let written: Vec<String> = keys.iter().map(|(k, _, _)| quote_key(k)).collect();
        let align = written.iter().map(String::len).max().unwrap_or(0);
        for ((_, value, comment), kname) in keys.iter().zip(&written) {
            write_comment(o, comment, true);
            o.extend_from_slice(kname.as_bytes());
            o.extend(std::iter::repeat_n(b' ', align - kname.len()));
            o.extend_from_slice(b" = ");
            write_value(o, value.expose());
            o.push(b'\n');
        }
        if i != last_index {
            o.push(b'\n');
        }
    }
    Ok(out)
}

/// A section to write: name, comment, keys.
type OutSection<'a> = (&'a str, &'a str, Vec<OutKey<'a>>);
/// A key to write: name, value text, comment.
type OutKey<'a> = (String, SecretBytes, &'a str);

/// go-ini's multi-line comment writer: each line gets a `; ` unless it already starts with a
/// comment character, which is then followed by one space. (An empty line makes go-ini panic;
/// it is written as `; ` here.)
fn write_comment(o: &mut SecretBytes, comment: &str, trim_plain: bool) {
    if comment.is_empty() {
        return;
    }
    for line in comment.split('\n') {
        match line.as_bytes().first() {
            Some(c @ (b'#' | b';')) => {
                o.push(*c);
                o.push(b' ');
                o.extend_from_slice(line[1..].trim().as_bytes());
            }
            _ => {
                o.extend_from_slice(b"; ");
                let text = if trim_plain { line.trim() } else { line };
                o.extend_from_slice(text.as_bytes());
            }
        }
        o.push(b'\n');
    }
}

/// How go-ini writes a key name that would not read back otherwise.
fn quote_key(k: &str) -> String {
    if k.contains('"') || k.contains(DELIMITERS) {
        format!("`{k}`")
    } else if k.contains('`') {
        format!("\"\"\"{k}\"\"\"")
    } else {
        k.to_owned()
    }
}

/// How go-ini writes a value: `"""…"""` for newlines or backticks, backticks for `#`/`;`,
/// double quotes for surrounding spaces.
fn write_value(o: &mut SecretBytes, v: &[u8]) {
    let has = |set: &[u8]| v.iter().any(|b| set.contains(b));
    let (open, close): (&[u8], &[u8]) = if has(b"\n`") {
        (b"\"\"\"", b"\"\"\"")
    } else if has(b"#;") {
        (b"`", b"`")
    } else if go_trim_len(v) != v.len() {
        (b"\"", b"\"")
    } else {
        (b"", b"")
    };
    o.extend_from_slice(open);
    o.extend_from_slice(v);
    o.extend_from_slice(close);
}

/// `len(strings.TrimSpace(v))` over bytes that may not be UTF-8.
fn go_trim_len(v: &[u8]) -> usize {
    match std::str::from_utf8(v) {
        Ok(s) => s.trim().len(),
        // Invalid bytes are not spaces; trim only ASCII whitespace at the ends then.
        Err(_) => v.trim_ascii().len(),
    }
}

/// `sops decrypt --extract` of a non-string value: sops' INI store `json.Marshal`s it (compact).
pub(crate) fn emit_value(value: &Value) -> Result<SecretBytes, EmitError> {
    let mut out = SecretBytes::new(Vec::new());
    marshal(&mut out, value)?;
    Ok(out)
}

/// `json.Marshal` of a sops value: a map is a Go slice of `TreeItem{Key, Value}` structs.
fn marshal(o: &mut SecretBytes, value: &Value) -> Result<(), EmitError> {
    match value {
        Value::Map(items) => marshal_map(o, items)?,
        Value::List(items) => {
            o.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    o.push(b',');
                }
                match item {
                    ListItem::Value(v) => marshal(o, v)?,
                    ListItem::Comment(c) => marshal_comment(o, c),
                }
            }
            o.push(b']');
        }
        scalar => super::json::write_scalar(o, scalar)
            .map_err(|_| unsupported("JSON cannot represent NaN or infinite numbers".into()))?,
    }
    Ok(())
}

fn marshal_comment(o: &mut SecretBytes, c: &SecretString) {
    o.extend_from_slice(b"{\"Value\":");
    super::json::write_string(o, c.expose().as_bytes());
    o.push(b'}');
}

fn marshal_map(o: &mut SecretBytes, items: &Map) -> Result<(), EmitError> {
    o.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        o.extend_from_slice(b"{\"Key\":");
        match item {
            MapItem::Entry(k, v) => {
                super::json::write_string(o, k.as_bytes());
                o.extend_from_slice(b",\"Value\":");
                marshal(o, v)?;
            }
            MapItem::Comment(c) => {
                marshal_comment(o, c);
                o.extend_from_slice(b",\"Value\":null");
            }
        }
        o.push(b'}');
    }
    o.push(b']');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(text: &str) -> String {
        let t = parse_plain(text.as_bytes()).unwrap();
        String::from_utf8(emit(&t).unwrap().expose().to_vec()).unwrap()
    }

    #[test]
    fn quirks() {
        assert_eq!(
            round("a = \"x;y\"\n[s]\nk = 'q' ; c\nlong = \"\"\"m\nn\"\"\"\n"),
            "; y\"\na = \"x\n\n[s]\n; c\nk    = q\nlong = \"\"\"m\nn\"\"\"\n"
        );
        assert_eq!(round("[s]\ne =\n"), "[s]\ne = \n");
        assert_eq!(round(""), "");
        assert_eq!(round("k = `a;b` ; dropped\n"), "k = `a;b`\n");
        assert_eq!(round("k = a \\\n  b\\\n c\n"), "k = a bc\n");
    }

    #[test]
    fn errors_name_lines_not_text() {
        for (text, line) in [
            ("[s]\nsecret\n", "line 2"),
            ("[oops\n", "line 1"),
            ("a=1\n=secret\n", "line 2"),
            ("k = \"\"\"secret\nmore\n", "line 1"),
        ] {
            let e = parse_plain(text.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(line) && !e.contains("secret"), "{e}");
        }
    }
}
