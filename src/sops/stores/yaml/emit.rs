//! [`Tree`] → YAML text as sops 3.11 prints it: go-yaml v3's encoder with indent 4 and no line
//! wrapping, SOPS' comment placement (comments written on their own line where they stand in the
//! tree), quoting and block-scalar rules of `encode.go` / `emitterc.go`.

use super::resolve::{plain_kind, Kind};
use crate::secret::{SecretBytes, SecretString};
use crate::sops::gofmt::format_float_g;
use crate::sops::tree::{ListItem, Map, MapItem, Tree, Value};
use crate::sops::EmitError;
use base64::Engine;
use std::fmt::Write as _;

const INDENT: usize = 4;

/// go-yaml's "everything else aligns to the chosen indentation": the next multiple of 4.
fn deeper(indent: usize) -> usize {
    INDENT * ((indent + INDENT) / INDENT)
}

/// Scalar style chosen for a string (go-yaml `stringv` + `select_scalar_style`).
enum StrStyle {
    Plain,
    Single,
    Double,
    Literal,
}

/// `is_printable` of go-yaml, per character.
fn printable(c: char) -> bool {
    let c = c as u32;
    c == 0x0A
        || (0x20..=0x7E).contains(&c)
        || (0xA0..=0xD7FF).contains(&c)
        || ((0xE000..=0xFFFD).contains(&c) && c != 0xFEFF)
}

#[derive(Debug, PartialEq)]
struct Analysis {
    block_plain_allowed: bool,
    single_allowed: bool,
    block_allowed: bool,
}

/// `yaml_emitter_analyze_scalar` (block context; flow is never used for SOPS output).
fn analyze(s: &str) -> Analysis {
    // Most values (every `ENC[…]` string, most words) are simple plain text: nothing for the
    // scan below to find, so every style is allowed. `same_analysis_as_the_scan` checks it.
    if super::fast::simple_plain(s.as_bytes()) {
        return Analysis {
            block_plain_allowed: true,
            single_allowed: true,
            block_allowed: true,
        };
    }
    analyze_scan(s)
}

/// [`analyze`] one character at a time, as libyaml does.
fn analyze_scan(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            block_plain_allowed: true,
            single_allowed: true,
            block_allowed: false,
        };
    }
    let mut block_ind = s.starts_with("---") || s.starts_with("...");
    let (mut line_breaks, mut special, mut tabs) = (false, false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    let mut preceded_ws = true;
    let mut chars = s.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let last = next.is_none();
        let followed_ws = next.is_none_or(|d| d == ' ' || d == '\t' || is_break(d));
        if first {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_ind = true,
                '?' | ':' | '-' if followed_ws => block_ind = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_ws => block_ind = true,
                '#' if preceded_ws => block_ind = true,
                _ => {}
            }
        }
        if c == '\t' {
            tabs = true;
        } else if !printable(c) {
            special = true;
        }
        if c == ' ' {
            if first {
                leading_space = true;
            }
            if last {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            line_breaks = true;
            if first {
                leading_break = true;
            }
            if last {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_ws = c == ' ' || c == '\t' || is_break(c);
        first = false;
    }
    let mut a = Analysis {
        block_plain_allowed: true,
        single_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space || space_break || tabs || special {
        a.block_plain_allowed = false;
        a.single_allowed = false;
    }
    if space_break || special {
        a.block_allowed = false;
    }
    if line_breaks || block_ind {
        a.block_plain_allowed = false;
    }
    a
}

fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "on"
            | "On"
            | "ON"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() && i - st < 2 {
            i += 1;
        }
        let len = i - st;
        if len == 0 || (len == 2 && b[st] > b'5') {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

fn choose_style(s: &str, key: bool) -> StrStyle {
    let can_plain = plain_kind(s) == Kind::Str && !is_base60_float(s) && !is_old_bool(s);
    let a = analyze(s);
    let requested = if s.contains('\n') {
        StrStyle::Literal
    } else if can_plain {
        StrStyle::Plain
    } else {
        StrStyle::Double
    };
    match requested {
        StrStyle::Plain => {
            if a.block_plain_allowed && !(s.is_empty() && key) {
                StrStyle::Plain
            } else if a.single_allowed {
                StrStyle::Single
            } else {
                StrStyle::Double
            }
        }
        StrStyle::Literal => {
            if a.block_allowed {
                StrStyle::Literal
            } else {
                StrStyle::Double
            }
        }
        other => other,
    }
}

fn double_quoted(out: &mut SecretString, s: &str) {
    // go-yaml's `is_bom` looks at the start of the value, not the current character: a value
    // that starts with a BOM has every character escaped.
    let bom = s.starts_with('\u{feff}');
    out.push('"');
    for c in s.chars() {
        let escape = bom || !printable(c) || c == '\n' || c == '"' || c == '\\' || is_break(c);
        if !escape {
            out.push(c);
            continue;
        }
        match c {
            '\0' => out.push_str("\\0"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\x0b' => out.push_str("\\v"),
            '\x0c' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\x1b' => out.push_str("\\e"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c => {
                let v = c as u32;
                // Into the wiping buffer itself: an escape is a character of the plaintext.
                let _ = if v <= 0xFF {
                    write!(out, "\\x{v:02X}")
                } else if v <= 0xFFFF {
                    write!(out, "\\u{v:04X}")
                } else {
                    write!(out, "\\U{v:08X}")
                };
            }
        }
    }
    out.push('"');
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// A literal block: header (`|`, `|-`, `|+`, with `4` when the text starts with a space or
/// break) and the lines at `indent`.
fn literal(out: &mut SecretString, s: &str, indent: usize) {
    out.push('|');
    if s.starts_with([' ', '\n']) {
        let _ = write!(out, "{INDENT}");
    }
    if !s.ends_with('\n') {
        out.push('-');
    } else if s == "\n" || s.ends_with("\n\n") {
        out.push('+');
    }
    out.push('\n');
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        if !line.is_empty() {
            spaces(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
}

/// Strings go-yaml writes plain whatever their context, decided without the full analysis (the
/// common case: identifiers, base64, words): an alphanumeric first character, then only
/// characters that are never indicators, breaks or spaces, and text that resolves to a string.
fn is_simple_plain(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_alphanumeric) {
        return false;
    }
    static SAFE: [bool; 256] = {
        let mut t = [false; 256];
        let mut c = 0;
        while c < 256 {
            let b = c as u8;
            t[c] =
                b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'/' | b'=' | b'.' | b'-');
            c += 1;
        }
        t
    };
    b[1..].iter().all(|&c| SAFE[c as usize]) && !is_old_bool(s) && plain_kind(s) == Kind::Str
}

/// Writes a string scalar; returns whether it already ends the line (literal block).
fn string_scalar(out: &mut SecretString, s: &str, key: bool, content_indent: usize) -> bool {
    if is_simple_plain(s) {
        out.push_str(s);
        return false;
    }
    if s == "<<" {
        // go-yaml resolves `<<` to the merge tag and writes it back tagged.
        out.push_str("!!merge <<");
        return false;
    }
    match choose_style(s, key) {
        StrStyle::Plain => out.push_str(s),
        StrStyle::Single => {
            out.push('\'');
            for (i, part) in s.split('\'').enumerate() {
                if i > 0 {
                    out.push_str("''");
                }
                out.push_str(part);
            }
            out.push('\'');
        }
        StrStyle::Double => double_quoted(out, s),
        StrStyle::Literal => {
            literal(out, s, content_indent);
            return true;
        }
    }
    false
}

fn float(f: f64) -> String {
    match format_float_g(f).as_str() {
        "+Inf" => ".inf".into(),
        "-Inf" => "-.inf".into(),
        "NaN" => ".nan".into(),
        s => s.to_owned(),
    }
}

/// Writes a non-container value; returns whether it already ends the line.
fn scalar(out: &mut SecretString, v: &Value, content_indent: usize) -> bool {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // Numbers are plaintext too: written straight into the wiping buffer, or wiped.
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&zeroize::Zeroizing::new(float(*f))),
        Value::Time(t) => out.push_str(t.expose()),
        Value::Str(s) => return string_scalar(out, s.expose(), false, content_indent),
        Value::Bytes(b) => match std::str::from_utf8(b.expose()) {
            Ok(s) => return string_scalar(out, s, false, content_indent),
            Err(_) => {
                let enc = zeroize::Zeroizing::new(
                    base64::engine::general_purpose::STANDARD.encode(b.expose()),
                );
                out.push_str("!!binary ");
                if enc.len() <= 70 {
                    out.push_str(&enc);
                } else {
                    let mut lines =
                        SecretString::new(String::with_capacity(enc.len() * 71 / 70 + 1));
                    for chunk in enc.as_bytes().chunks(70) {
                        lines.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
                        lines.push('\n');
                    }
                    literal(out, lines.expose(), content_indent);
                    return true;
                }
            }
        },
        Value::Map(_) | Value::List(_) => unreachable!("containers are written by the caller"),
    }
    false
}

/// `n` spaces.
fn spaces(out: &mut SecretString, n: usize) {
    const SPACES: &str = "                                ";
    let mut left = n;
    while left > 0 {
        let k = left.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        left -= k;
    }
}

/// The text being made: plaintext, so in the wiping type (growing it wipes the old buffer).
struct Out {
    buf: SecretString,
}

impl Out {
    fn comment(&mut self, indent: usize, text: &str) {
        spaces(&mut self.buf, indent);
        self.buf.push('#');
        self.buf.push_str(text);
        self.buf.push('\n');
    }

    /// Writes ` value` after `key:` or `-`, ending the line; containers go on the next lines.
    /// `own_indent`: the column of the key or dash.
    fn after_indicator(
        &mut self,
        v: &Value,
        own_indent: usize,
        child_indent: usize,
        seq_item_indent: Option<usize>,
    ) {
        match v {
            Value::Map(m) if has_entries(m) => match seq_item_indent {
                Some(ind) => {
                    // `- key: …`: the first entry on the dash line.
                    self.buf.push(' ');
                    self.map_body(m, ind + 2, true);
                }
                None => {
                    self.buf.push('\n');
                    self.map_body(m, child_indent, false);
                }
            },
            Value::List(l) if has_values(l) => match seq_item_indent {
                Some(ind) => {
                    self.buf.push(' ');
                    self.list_body(l, ind + 2, true);
                }
                None => {
                    self.buf.push('\n');
                    self.list_body(l, child_indent, false);
                }
            },
            Value::Map(m) => self.empty_container(
                m.iter().filter_map(|i| match i {
                    MapItem::Comment(c) => Some(c.expose()),
                    _ => None,
                }),
                '{',
                '}',
                child_indent,
            ),
            Value::List(l) => {
                // go-yaml writes the head comment of an empty sequence after `[]`, at the
                // indentation of its key.
                self.buf.push_str(" []\n");
                for item in l {
                    if let ListItem::Comment(c) = item {
                        self.comment(own_indent, c.expose());
                    }
                }
            }
            other => {
                let content = match seq_item_indent {
                    Some(ind) => ind + 2,
                    None => child_indent,
                };
                self.buf.push(' ');
                if !scalar(&mut self.buf, other, content) {
                    self.buf.push('\n');
                }
            }
        }
    }

    /// `{}` / `[]`, or a flow collection holding only comments (as go-yaml writes a mapping with
    /// a head comment and no content).
    fn empty_container<'a>(
        &mut self,
        comments: impl Iterator<Item = &'a str>,
        open: char,
        close: char,
        child_indent: usize,
    ) {
        let comments: Vec<&str> = comments.collect();
        self.buf.push(' ');
        self.buf.push(open);
        if comments.is_empty() {
            self.buf.push(close);
            self.buf.push('\n');
            return;
        }
        self.buf.push('\n');
        for c in comments {
            self.comment(child_indent, c);
        }
        spaces(&mut self.buf, child_indent.saturating_sub(INDENT));
        self.buf.push(close);
        self.buf.push('\n');
    }

    fn key(&mut self, k: &str, indent: usize) {
        if k.chars().any(is_break) {
            // A multi-line key cannot be a simple key: go-yaml writes `? key` then `: value`.
            self.buf.push_str("? ");
            if !string_scalar(&mut self.buf, k, true, indent + INDENT) {
                self.buf.push('\n');
            }
            spaces(&mut self.buf, indent);
            self.buf.push(':');
        } else {
            string_scalar(&mut self.buf, k, true, indent);
            self.buf.push(':');
        }
    }

    /// Map entries at `indent`. `inline_first`: the cursor is after `- ` on the dash line.
    fn map_body(&mut self, m: &[MapItem], indent: usize, mut inline_first: bool) {
        for item in m {
            match item {
                MapItem::Comment(c) => {
                    if inline_first {
                        // Cannot happen from the caller's layout (leading comments are written
                        // before the dash); keep the output valid anyway.
                        self.buf.push('\n');
                        inline_first = false;
                    }
                    self.comment(indent, c.expose());
                }
                MapItem::Entry(k, v) => {
                    if !inline_first {
                        spaces(&mut self.buf, indent);
                    }
                    inline_first = false;
                    self.key(k, indent);
                    self.after_indicator(v, indent, deeper(indent), None);
                }
            }
        }
    }

    fn list_body(&mut self, l: &[ListItem], indent: usize, mut inline_first: bool) {
        for item in l {
            match item {
                ListItem::Comment(c) => {
                    if inline_first {
                        self.buf.push('\n');
                        inline_first = false;
                    }
                    self.comment(indent, c.expose());
                }
                ListItem::Value(v) => {
                    // Comments that open a nested container are its head comment: go-yaml
                    // writes them before the dash.
                    let lead: Vec<&str> = leading_comments(v);
                    if !lead.is_empty() && inline_first {
                        self.buf.push('\n');
                        inline_first = false;
                    }
                    for c in &lead {
                        self.comment(indent, c);
                    }
                    if !inline_first {
                        spaces(&mut self.buf, indent);
                    }
                    inline_first = false;
                    self.buf.push('-');
                    let stripped;
                    let v = if lead.is_empty() {
                        v
                    } else {
                        stripped = strip_leading_comments(v);
                        &stripped
                    };
                    self.after_indicator(v, indent, deeper(indent), Some(indent));
                }
            }
        }
    }
}

fn has_entries(m: &Map) -> bool {
    m.iter().any(|i| matches!(i, MapItem::Entry(..)))
}

fn has_values(l: &[ListItem]) -> bool {
    l.iter().any(|i| matches!(i, ListItem::Value(_)))
}

/// The comments before the first entry of a non-empty container.
fn leading_comments(v: &Value) -> Vec<&str> {
    match v {
        Value::Map(m) if has_entries(m) => m
            .iter()
            .map_while(|i| match i {
                MapItem::Comment(c) => Some(c.expose()),
                _ => None,
            })
            .collect(),
        Value::List(l) if has_values(l) => l
            .iter()
            .map_while(|i| match i {
                ListItem::Comment(c) => Some(c.expose()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn strip_leading_comments(v: &Value) -> Value {
    match v {
        Value::Map(m) => Value::Map(
            m.iter()
                .skip_while(|i| matches!(i, MapItem::Comment(_)))
                .cloned()
                .collect(),
        ),
        Value::List(l) => Value::List(
            l.iter()
                .skip_while(|i| matches!(i, ListItem::Comment(_)))
                .cloned()
                .collect(),
        ),
        other => other.clone(),
    }
}

fn document(out: &mut Out, m: &Map) {
    if has_entries(m) {
        out.map_body(m, 0, false);
    } else {
        for item in m {
            if let MapItem::Comment(c) = item {
                out.comment(0, c.expose());
            }
        }
        out.buf.push_str("{}\n");
    }
}

/// The text buffer of [`write_tree`]: reused, and wiped when it is replaced or done.
const CHUNK: usize = 64 * 1024;

/// Writes [`emit_tree`]'s text to `w` as it is made, through one reused buffer: there is no
/// output-sized buffer, whose fresh pages cost more than making the text.
pub(crate) fn write_tree(tree: &Tree, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut out = Chunked {
        out: Out {
            buf: SecretString::new(String::with_capacity(CHUNK)),
        },
        w,
    };
    out.tree(tree)
}

struct Chunked<'w> {
    out: Out,
    w: &'w mut dyn std::io::Write,
}

impl Chunked<'_> {
    fn tree(&mut self, tree: &Tree) -> std::io::Result<()> {
        for (i, branch) in tree.branches.iter().enumerate() {
            if i > 0 {
                self.out.buf.push_str("---\n");
            }
            if !has_entries(branch) {
                document(&mut self.out, branch);
            } else {
                self.items(branch)?;
            }
        }
        self.flush()
    }

    /// Top-level entries, the buffer written out whenever the next one would not fit.
    fn items(&mut self, items: &[MapItem]) -> std::io::Result<()> {
        for item in items {
            let item = std::slice::from_ref(item);
            let need = size_hint(item, 0);
            if self.out.buf.len() + need > self.out.buf.capacity() {
                self.flush()?;
                if need > self.out.buf.capacity() {
                    // A new buffer (the old one is wiped as it is dropped).
                    self.out.buf = SecretString::new(String::with_capacity(need));
                }
            }
            self.out.map_body(item, 0, false);
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.w.write_all(self.out.buf.expose().as_bytes())?;
        self.out.buf.clear();
        Ok(())
    }
}

/// About the size of the text of a map at `indent` (plain scalars, one per line): the output
/// buffer is allocated once instead of being grown and copied, which also leaves no stray
/// copies of the plaintext in freed memory.
fn size_hint(m: &[MapItem], indent: usize) -> usize {
    m.iter()
        .map(|item| match item {
            MapItem::Comment(c) => indent + c.len() + 2,
            MapItem::Entry(k, v) => indent + k.len() + 2 + value_size_hint(v, deeper(indent)),
        })
        .sum()
}

fn value_size_hint(v: &Value, indent: usize) -> usize {
    match v {
        Value::Str(s) => s.len() + 1,
        Value::Bytes(b) => b.len() * 4 / 3 + 16,
        Value::Map(m) => size_hint(m, indent) + 4,
        Value::List(l) => {
            l.iter()
                .map(|item| match item {
                    ListItem::Comment(c) => indent + c.len() + 2,
                    ListItem::Value(v) => indent + 2 + value_size_hint(v, indent + 2),
                })
                .sum::<usize>()
                + 4
        }
        _ => 24,
    }
}

/// [`write_tree`]'s text in memory, in a buffer sized for it up front.
pub(crate) fn emit_tree(tree: &Tree) -> Result<SecretBytes, EmitError> {
    let hint = tree.branches.iter().map(|b| size_hint(b, 0) + 4).sum();
    let mut out = SecretBytes::with_capacity(hint);
    write_tree(tree, &mut out).map_err(EmitError::Write)?;
    Ok(out)
}

pub(crate) fn emit_value(value: &Value) -> Result<SecretBytes, EmitError> {
    let mut out = Out {
        buf: SecretString::new(String::new()),
    };
    match value {
        Value::Map(m) => document(&mut out, m),
        Value::List(l) if has_values(l) => out.list_body(l, 0, false),
        Value::List(_) => out.buf.push_str("[]\n"),
        other => {
            if !scalar(&mut out.buf, other, INDENT) {
                out.buf.push('\n');
            }
        }
    }
    Ok(out.buf.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The shortcut in `analyze` decides as the character scan does.
        #[test]
        fn same_analysis_as_the_scan(s in "[a-zA-Z09_./+=,:\\[\\]# '\"\t\n&*!|>%@`?{}é-]{0,12}") {
            proptest::prop_assert_eq!(analyze(&s), analyze_scan(&s), "{:?}", s);
        }

        /// The same, over the characters the shortcut takes, where `:`, `-`, `.` and brackets
        /// decide at the edges.
        #[test]
        fn same_analysis_near_the_shortcut(s in "[a0:,\\[\\]=+/._ -]{0,8}") {
            proptest::prop_assert_eq!(analyze(&s), analyze_scan(&s), "{:?}", s);
        }
    }

    fn style(s: &str) -> String {
        let mut out = SecretString::new(String::new());
        string_scalar(&mut out, s, false, 4);
        out.expose().to_owned()
    }

    #[test]
    fn quoting_like_go_yaml() {
        assert_eq!(style("plain"), "plain");
        assert_eq!(style("yes"), "\"yes\"");
        assert_eq!(style("1:20"), "\"1:20\"");
        assert_eq!(style("a: b"), "'a: b'");
        assert_eq!(style("it's"), "it's");
        assert_eq!(style("- x"), "'- x'");
        assert_eq!(style(""), "\"\"");
        assert_eq!(style("tab\tx"), "\"tab\\tx\"");
        assert_eq!(style("😀"), "\"\\U0001F600\"");
        assert_eq!(style("a\nb"), "|-\n    a\n    b\n");
        assert_eq!(style(" a\n"), "|4\n     a\n");
        assert_eq!(style("<<"), "!!merge <<");
    }

    #[test]
    fn simple_plain_agrees_with_the_full_analysis() {
        let words = [
            "plain",
            "a",
            "Z9",
            "y",
            "Y",
            "no",
            "On",
            "OFF",
            "true",
            "False",
            "null",
            "Null",
            "NaN",
            "nan",
            "inf",
            "Inf",
            "1",
            "12abc",
            "1e5",
            "1E+5",
            "0x1F",
            "0o17",
            "0b1",
            "1_000",
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            "1.5",
            "1.",
            "09",
            "a-b",
            "abc=",
            "x.y",
            "b64+/==",
            "a_b",
            "0",
            "1-2",
            "1..2",
            "10000000000000000000",
        ];
        for w in words {
            if is_simple_plain(w) {
                assert!(matches!(choose_style(w, false), StrStyle::Plain), "{w}");
                assert!(matches!(choose_style(w, true), StrStyle::Plain), "{w}");
            }
        }
        assert!(is_simple_plain("plain") && is_simple_plain("b64+/=="));
        assert!(!is_simple_plain("no") && !is_simple_plain("1e5") && !is_simple_plain("-x"));
    }

    #[test]
    fn base60_floats() {
        assert!(is_base60_float("1:20"));
        assert!(is_base60_float("-1_0:59:59.5"));
        assert!(!is_base60_float("1:60"));
        assert!(!is_base60_float("1:"));
        assert!(!is_base60_float("a:1"));
    }

    #[test]
    fn values() {
        let out = emit_value(&Value::Float(1e6)).unwrap();
        assert_eq!(out.expose(), b"1e+06\n");
        let out = emit_value(&Value::Float(f64::NEG_INFINITY)).unwrap();
        assert_eq!(out.expose(), b"-.inf\n");
        let out = emit_value(&Value::List(vec![])).unwrap();
        assert_eq!(out.expose(), b"[]\n");
    }

    /// A document of `n` entries of every shape, some larger than the writer's buffer.
    fn document(n: usize) -> Map {
        let mut m = vec![MapItem::Comment(" head".into())];
        for i in 0..n {
            let v = match i % 6 {
                0 => Value::str(format!("value {i}\nwith: a line break")),
                1 => Value::Int(i as i64),
                2 => Value::Map(vec![MapItem::Entry("x".into(), Value::str("y"))]),
                3 => Value::List(vec![ListItem::Value(Value::Bool(true))]),
                4 if i % 1000 == 4 => Value::str("z".repeat(3 * CHUNK)),
                _ => Value::Map(vec![]),
            };
            m.push(MapItem::Entry(format!("k{i}"), v));
            if i % 10 == 0 {
                m.push(MapItem::Comment(SecretString::new(format!(" c{i}"))));
            }
        }
        m
    }

    #[test]
    fn the_writer_gives_the_emitted_text() {
        let trees = [
            Tree { branches: vec![] },
            Tree {
                branches: vec![vec![]],
            },
            Tree {
                branches: vec![document(3), vec![], document(5)],
            },
            // Large, with values larger than the writer's buffer.
            Tree {
                branches: vec![document(5000), document(2500)],
            },
        ];
        for tree in trees {
            let mut written = Vec::new();
            write_tree(&tree, &mut written).unwrap();
            // The reference: every document written whole into one buffer, on one thread.
            let mut whole = Out {
                buf: SecretString::new(String::new()),
            };
            for (i, branch) in tree.branches.iter().enumerate() {
                if i > 0 {
                    whole.buf.push_str("---\n");
                }
                super::document(&mut whole, branch);
            }
            let n = tree.branches.len();
            assert!(written == whole.buf.expose().as_bytes(), "{n} documents");
            let emitted = emit_tree(&tree).unwrap();
            assert!(
                emitted.expose() == whole.buf.expose().as_bytes(),
                "{n} documents"
            );
        }
    }

    #[test]
    fn a_failing_destination_is_reported() {
        struct Full;
        impl std::io::Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let tree = Tree {
            branches: vec![document(3000)],
        };
        let err = write_tree(&tree, &mut Full).unwrap_err();
        assert_eq!(err.to_string(), "disk full");
    }
}
