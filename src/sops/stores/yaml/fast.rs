//! The layout sops itself writes, read without a YAML scanner: block mappings of `key: value`
//! lines whose keys and values are simple plain scalars (an encrypted value is `ENC[…]`, all
//! base64 and `,:[]`).
//!
//! Why it exists: the full reader ([`super::parse`]) goes through saphyr's scanner, which builds
//! every plain scalar one `char` at a time; on a sops file of 10,000 values that is three
//! quarters of `nix-sops decrypt`'s time. This path reads the same bytes to the same tree about
//! ten times faster, and is differentially fuzzed against the full reader
//! (`fuzz/fuzz_targets/yaml_fast.rs`, which asserts [`check_against_full`]).
//!
//! It never decides anything the full reader would decide differently: it answers `None`
//! (and the caller runs the full reader, which also reports every error) for anything it does
//! not read itself. The document is cut into its top-level entries (a line at column 0 starts
//! one). An entry made only of simple lines is read here; any other entry (the `sops` block,
//! with its lists, block scalars and quoted strings) is read by the full reader from its own
//! text — a top-level block mapping entry is self-contained once the document has no comment
//! (placed relative to the whole document), no anchor or alias (resolved and budgeted across
//! the whole document), no tab or carriage return, and one document.

use super::parse::{parse_documents, MAX_DEPTH};
use super::resolve::{resolve, Style};
use crate::sops::tree::{Map, MapItem, Value};
use std::collections::HashSet;
use std::hash::BuildHasher;

const START: u8 = 1;
const KEY: u8 = 2;
const VALUE: u8 = 4;

/// Per byte: may start a simple plain key or value (never a YAML indicator), may be in a
/// simple key after the first character, may be in a simple value after the first character.
/// A value has no space (so no ` #`, no `: `), no quote, and no character that only means
/// something at the start of a plain scalar or in flow context (`,[]` are text in a block plain
/// scalar, as in `ENC[AES256_GCM,data:…]`). Non-ASCII bytes are never simple.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() || b == b'_' {
            t[c] = START | KEY | VALUE;
        } else if matches!(b, b'-' | b'.' | b'/') {
            t[c] = KEY | VALUE;
        } else if matches!(b, b'+' | b'=' | b',' | b':' | b'[' | b']') {
            t[c] = VALUE;
        }
        c += 1;
    }
    t
};

fn starts_plain(c: u8) -> bool {
    CLASS[c as usize] & START != 0
}

/// A `key:` or `key: value` line without its indentation: the key and the value text (`None`
/// when the value is on the following lines).
fn entry(line: &str) -> Option<(&str, Option<&str>)> {
    let b = line.as_bytes();
    if !starts_plain(*b.first()?) {
        return None;
    }
    let colon = b.iter().position(|&c| CLASS[c as usize] & KEY == 0)?;
    if b[colon] != b':' {
        return None;
    }
    let (key, rest) = (&line[..colon], &line[colon + 1..]);
    if rest.is_empty() {
        return Some((key, None));
    }
    let value = rest.strip_prefix(' ')?;
    simple_plain(value.as_bytes()).then_some((key, Some(value)))
}

/// A scalar that is plain text wherever it stands in block context, whether read or written:
/// it starts with a letter, digit or `_`, has only [`CLASS`]'s value bytes (no space, so no
/// ` #` or `: `), and does not end in `:` (which would make it a key). The emitter writes such
/// a string unquoted when its type allows (`emit::analyze`).
pub(super) fn simple_plain(b: &[u8]) -> bool {
    b.first().is_some_and(|&c| starts_plain(c))
        && b.iter().all(|&c| CLASS[c as usize] & VALUE != 0)
        && b.last() != Some(&b':')
}

fn indentation(line: &str) -> usize {
    line.bytes().take_while(|&c| c == b' ').count()
}

/// A simple plain scalar typed as the full reader types it.
fn plain(text: &str) -> Option<Value> {
    resolve("", Style::Plain, text.to_owned()).ok()
}

/// Whether two keys may be the same: compares the keys' hashes, so a collision also says yes
/// (and the full reader, which compares the keys themselves, decides). A set of hashes is half
/// the size of a set of keys, and on a large flat file it is alive at the peak of the memory.
fn may_repeat_a_key(map: &Map) -> bool {
    let hasher = std::hash::RandomState::new();
    let mut seen = HashSet::with_capacity(map.len());
    map.iter().any(
        |item| matches!(item, MapItem::Entry(k, _) if !seen.insert(hasher.hash_one(k.as_str()))),
    )
}

/// The lines of one top-level entry, read one at a time.
struct Lines<'a> {
    rest: &'a str,
    /// The current line (without its `\n`), `None` at the end.
    line: Option<&'a str>,
    unique_depth: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str, unique_depth: usize) -> Lines<'a> {
        let mut r = Lines {
            rest: text,
            line: None,
            unique_depth,
        };
        r.advance();
        r
    }

    fn advance(&mut self) {
        if self.rest.is_empty() {
            self.line = None;
            return;
        }
        let n = memchr::memchr(b'\n', self.rest.as_bytes()).unwrap_or(self.rest.len());
        self.line = Some(&self.rest[..n]);
        self.rest = self.rest.get(n + 1..).unwrap_or("");
    }

    /// The entries at exactly `indent`, up to a line indented less; `map_depth` as the full
    /// reader counts mapping levels (for the repeated-key check), `depth` its node nesting.
    fn block(&mut self, indent: usize, map_depth: usize, depth: usize) -> Option<Map> {
        // Its entries are one level deeper: leave the limit's error to the full reader.
        if depth >= MAX_DEPTH {
            return None;
        }
        let mut out = Map::new();
        while let Some(line) = self.line {
            let k = indentation(line);
            // A blank line (k == len) is not this path's business: it falls to `k != indent`.
            if k < indent && k < line.len() {
                break;
            }
            if k != indent {
                return None;
            }
            let (key, value) = entry(&line[k..])?;
            let key = match plain(key)? {
                Value::Str(s) => s.into_public(),
                _ => return None,
            };
            self.advance();
            let value = match value {
                Some(text) => plain(text)?,
                None => match self.line.map(|l| (indentation(l), l.len())) {
                    Some((k2, len)) if k2 > indent && k2 < len => {
                        Value::Map(self.block(k2, map_depth + 1, depth + 1)?)
                    }
                    _ => Value::Null,
                },
            };
            out.push(MapItem::Entry(key, value));
        }
        if map_depth <= self.unique_depth && may_repeat_a_key(&out) {
            return None;
        }
        // Pushing doubles the capacity: many nested maps would keep up to half of it unused.
        // (Depth 1 is the one-entry map that carries a top-level entry to the caller.)
        if depth > 1 {
            out.shrink_to_fit();
        }
        Some(out)
    }
}

/// Where the top-level entry starting at `from` ends: at the `\n` before the next line that
/// starts at column 0, or at the end of `body`.
fn entry_end(body: &str, from: usize) -> usize {
    let b = body.as_bytes();
    let mut end = from;
    loop {
        end += memchr::memchr(b'\n', &b[end..]).unwrap_or(b.len() - end);
        if end >= b.len() || !matches!(b.get(end + 1), Some(b' ' | b'\n')) {
            return end;
        }
        end += 1;
    }
}

/// The one document of `src` as the full reader reads it, or `None` when the full reader must
/// read it. `unique_depth` as for [`parse_documents`].
pub(super) fn parse_document(src: &str, unique_depth: usize) -> Option<Vec<Map>> {
    // What makes an entry depend on the rest of the document, or the full reader's pre-passes
    // (BOM, directives, bracket fix-up: lines starting with `%` or a bracket start no entry
    // here) matter.
    let b = src.as_bytes();
    if memchr::memchr3(b'#', b'&', b'*', b).is_some() || memchr::memchr2(b'\t', b'\r', b).is_some()
    {
        return None;
    }
    let body = src.strip_suffix('\n').unwrap_or(src);
    let mut top = Map::new();
    let mut from = 0;
    while from < body.len() {
        let end = entry_end(body, from);
        let text = &body[from..end];
        // An entry starts with its key: not with what would make the line part of another
        // construct (`? key` / `: value`, a sequence, a document marker, a directive, a flow
        // collection, a closing bracket, a BOM).
        if !text.starts_with(|c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '"' | '\'')) {
            return None;
        }
        let mut lines = Lines::new(text, unique_depth);
        match lines.block(0, 1, 1) {
            Some(mut one) if lines.line.is_none() && one.len() == 1 => top.push(one.pop()?),
            _ => {
                // The entry with its line end, as a document of its own.
                let text = &src[from..(end + 1).min(src.len())];
                let mut docs = parse_documents(text.as_bytes(), unique_depth).ok()?;
                let mut one = docs.pop()?;
                if !docs.is_empty() || one.len() != 1 || !matches!(one[0], MapItem::Entry(..)) {
                    return None;
                }
                top.push(one.pop()?);
            }
        }
        from = end + 1;
    }
    if top.is_empty() || (unique_depth >= 1 && may_repeat_a_key(&top)) {
        return None;
    }
    Some(vec![top])
}

/// Panics when this path reads `bytes` and the full reader does not read them to the same tree
/// and the same emitted text: the differential check the fuzz target and the tests run.
#[cfg(any(test, feature = "fuzzing"))]
pub fn check_against_full(bytes: &[u8]) {
    let Ok(src) = std::str::from_utf8(bytes) else {
        return;
    };
    for unique_depth in [1, usize::MAX] {
        let Some(fast) = parse_document(src, unique_depth) else {
            continue;
        };
        let full = match parse_documents(bytes, unique_depth) {
            Ok(full) => full,
            Err(e) => panic!("fast path read what the full reader refuses ({e}): {src:?}"),
        };
        assert!(
            fast == full,
            "trees differ (unique_depth {unique_depth}): {src:?}"
        );
        let emit = |branches: Vec<Map>| {
            let tree = crate::sops::tree::Tree { branches };
            super::emit(&tree).map(|b| b.expose().to_vec()).ok()
        };
        assert!(emit(fast) == emit(full), "emitted bytes differ: {src:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_tree_as_the_full_reader() {
        let sources = [
            "a: ENC[AES256_GCM,data:AbC+/=,iv:x,tag:y,type:str]\nb: 1\nc: true\nd: null\n",
            "a:\n    b: x\n    c:\n        d: y\n    e: z\nf: w",
            "a:\nb:\n    c:\nd: 0x1F\n",
            "sops:\n    age:\n        - recipient: r\n          enc: |\n            l1\n\n            l2\n    lastmodified: \"2020-01-01T00:00:00Z\"\nz: 1.5\n",
            "a: [x, y]\nb: {c: d}\nc: 'q'\n",
            "\"q\": 1\n'r':\n    s: t\n",
            "a: x\n  y\nb: v\n",
            "a: x\n\nb: v\n",
            "a: x:y\nb: 2001-12-14\nc: Yes\nd: 1_000\ne: .5\nf: 0o17\n",
            "A\u{fffc}: 1\nb\u{e9}:\n    c\u{e9}: d\u{e9}\nx\u{e9}: 1\n",
        ];
        for src in sources {
            let full = parse_documents(src.as_bytes(), 1).unwrap();
            assert_eq!(parse_document(src, 1), Some(full), "{src:?}");
            check_against_full(src.as_bytes());
        }
    }

    #[test]
    fn declines_what_it_cannot_read_alone() {
        for src in [
            "a: 1\na: 2\n",
            "a:\n    b: 1\n    b: 2\n",
            "a: &x v\nb: *x\n",
            "a: 1\n---\nb: 2\n",
            "a: 1\nb:\n    - x # c\n",
            "a: 1\nb: x #c\n",
            "  a: 1\n",
            "- a\n",
            "1: a\n",
            "? a\n: b\n",
            "a: x\ny\n",
            "a: \"x\ny\"\n",
            "a: [1,\n2]\n",
            "a: [\n    1\n]\n",
            "a:\n    b: 1\n  c: 2\n",
            "a: b:\n",
            "a: 1\r\nb: 2\r\n",
            "%YAML 1.1\n---\na: 1\n",
            "\u{feff}a: 1\n",
            "",
            "\n",
        ] {
            assert_eq!(parse_document(src, 2), None, "{src:?}");
            check_against_full(src.as_bytes());
        }
    }

    /// The shape of a real sops file is read here, not by the full reader: this path is worth
    /// keeping only if it takes the common case.
    #[test]
    fn reads_a_sops_file() {
        let mut src = String::new();
        for i in 0..50 {
            src.push_str(&format!(
                "k{i}: ENC[AES256_GCM,data:x{i}Q==,iv:y,tag:z,type:str]\n"
            ));
        }
        src.push_str("nested:\n    a: ENC[AES256_GCM,data:x,iv:y,tag:z,type:int]\n");
        src.push_str(concat!(
            "sops:\n    age:\n        - recipient: age1xyz\n          enc: |\n",
            "            -----BEGIN AGE ENCRYPTED FILE-----\n            YWJj\n",
            "            -----END AGE ENCRYPTED FILE-----\n",
            "    lastmodified: \"2024-01-01T00:00:00Z\"\n",
            "    mac: ENC[AES256_GCM,data:m,iv:i,tag:t,type:str]\n",
            "    unencrypted_suffix: _unencrypted\n    version: 3.11.0\n"
        ));
        let docs = parse_document(&src, 1).expect("read by the fast path");
        assert_eq!(docs[0].len(), 52);
        check_against_full(src.as_bytes());
    }
}
