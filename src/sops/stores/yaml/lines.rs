//! The fastest path, for the layout sops itself writes: block mappings of `key: value` lines
//! whose keys and values are simple plain scalars (an encrypted value is `ENC[…]`, all
//! base64), read line by line without a YAML scanner.
//!
//! The document is cut into its top-level entries (a line at column 0 starts one). An entry
//! made only of such lines is read here; any other entry (the `sops` block, with its lists,
//! block scalars and quoted strings; anything unusual) is read by [`super::stream`] from its own
//! text, which is equivalent because a top-level block mapping entry is self-contained. When
//! anything at all does not fit (an alias, an empty line where it matters, a document marker,
//! a failing entry), the answer is `None` and the caller reads the whole source again with the
//! general parsers, which also report every error.

use super::parse::MAX_DEPTH;
use super::resolve::{resolve, Style};
use crate::sops::tree::{Map, MapItem, Value};
use std::collections::HashSet;

/// A character that may start a simple plain key or value: never a YAML indicator.
fn starts_plain(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Characters of a simple key after the first.
fn key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'/')
}

/// Characters of a simple value after the first: no space (so no ` #`, no `: `), no quote, and
/// no character that only means something at the start of a plain scalar or in flow context
/// (`,[]` are text in a block plain scalar, as in `ENC[AES256_GCM,data:…]`).
fn value_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'_' | b'-' | b'.' | b'/' | b'+' | b'=' | b',' | b':' | b'[' | b']'
        )
}

/// The simple key a line starts with, if it is followed by `:` and the end of the line or a
/// space; and the rest of the line after the `:`.
fn key_of(line: &str) -> Option<(&str, &str)> {
    let b = line.as_bytes();
    if !starts_plain(*b.first()?) {
        return None;
    }
    let colon = b.iter().position(|&c| !key_char(c))?;
    // Checked before slicing: the byte may be inside a multi-byte character.
    if b[colon] != b':' {
        return None;
    }
    let rest = &line[colon + 1..];
    (rest.is_empty() || rest.starts_with(' ')).then(|| (&line[..colon], rest))
}

/// A `key:` or `key: value` line without its indentation: the key and the value text (`None`
/// when the value is on the following lines).
fn entry(line: &str) -> Option<(&str, Option<&str>)> {
    let (key, rest) = key_of(line)?;
    if rest.is_empty() {
        return Some((key, None));
    }
    let value = &rest[1..];
    let b = value.as_bytes();
    let ok = b.first().is_some_and(|&c| starts_plain(c))
        && b.iter().all(|&c| value_char(c))
        // A final `:` would make the value a key.
        && b.last() != Some(&b':');
    ok.then_some((key, Some(value)))
}

fn indentation(line: &str) -> usize {
    line.bytes().take_while(|&c| c == b' ').count()
}

fn plain(text: &str) -> Option<Value> {
    resolve("", Style::Plain, text.to_owned()).ok()
}

/// Whether a key repeats (only keys compare: comments cannot occur here).
fn has_duplicate_key(map: &Map) -> bool {
    let mut seen = HashSet::with_capacity(map.len());
    map.iter().any(|item| match item {
        MapItem::Entry(k, _) => !seen.insert(k.as_str()),
        MapItem::Comment(_) => false,
    })
}

struct Reader<'a> {
    lines: &'a [&'a str],
    next: usize,
    unique_depth: usize,
}

impl Reader<'_> {
    /// The entries at exactly `indent`, up to a line indented less; `map_depth` as the full
    /// parser counts mapping levels (for the repeated-key check), `depth` its node nesting.
    fn block(&mut self, indent: usize, map_depth: usize, depth: usize) -> Option<Map> {
        // Its entries are one level deeper: leave the limit's error to the full parser.
        if depth >= MAX_DEPTH {
            return None;
        }
        let mut out = Map::new();
        while let Some(line) = self.lines.get(self.next) {
            let k = indentation(line);
            if k < indent && k < line.len() {
                break;
            }
            // Deeper lines (continuations), blank lines: not this path's business.
            if k != indent {
                return None;
            }
            let (key, value) = entry(&line[k..])?;
            let key = match plain(key)? {
                Value::Str(mut s) => std::mem::take(s.expose_mut()),
                _ => return None,
            };
            self.next += 1;
            let value = match value {
                Some(text) => plain(text)?,
                None => match self.lines.get(self.next) {
                    Some(l) if indentation(l) > indent && indentation(l) < l.len() => {
                        Value::Map(self.block(indentation(l), map_depth + 1, depth + 1)?)
                    }
                    _ => Value::Null,
                },
            };
            out.push(MapItem::Entry(key, value));
        }
        if map_depth <= self.unique_depth && has_duplicate_key(&out) {
            return None;
        }
        Some(out)
    }
}

/// The one document of `src`, or `None` when the general parsers must read it. The caller
/// checks that `src` has no `#`.
pub(super) fn parse_document(src: &str, unique_depth: usize) -> Option<Vec<Map>> {
    let body = src.strip_suffix('\n').unwrap_or(src);
    if body.is_empty() {
        return None;
    }
    let lines: Vec<&str> = body.split('\n').collect();
    let mut top = Map::new();
    // Byte offset of each line, to hand an entry's text to the stream parser.
    let mut offset = 0;
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let from = offset;
        offset += lines[i].len() + 1;
        i += 1;
        // The entry runs to the next line that starts at column 0.
        while i < lines.len() && lines[i].bytes().next().is_none_or(|c| c == b' ') {
            offset += lines[i].len() + 1;
            i += 1;
        }
        // An entry starts with its key: not with what would make the line part of another
        // construct (`? key` / `: value`, a sequence, a document marker, a directive, a flow
        // collection).
        if lines[start].is_empty()
            || lines[start].starts_with([' ', '?', ':', '-', '.', '%', '[', '{'])
        {
            return None;
        }
        let mut reader = Reader {
            lines: &lines[start..i],
            next: 0,
            unique_depth,
        };
        match reader.block(0, 1, 1) {
            Some(mut one) if reader.next == i - start && one.len() == 1 => {
                top.push(one.pop()?);
            }
            _ => {
                let text = &src[from..offset.min(src.len())];
                let mut docs = super::stream::parse_documents(text, unique_depth)?;
                let mut one = docs.pop()?;
                if !docs.is_empty() || one.len() != 1 || !matches!(one[0], MapItem::Entry(..)) {
                    return None;
                }
                top.push(one.pop()?);
            }
        }
    }
    if unique_depth >= 1 && has_duplicate_key(&top) {
        return None;
    }
    Some(vec![top])
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse_full;
    use super::*;

    #[test]
    fn same_tree_as_the_full_parser() {
        let sources = [
            "a: ENC[AES256_GCM,data:AbC+/=,iv:x,tag:y,type:str]\nb: 1\nc: true\nd: null\n",
            "a:\n    b: x\n    c:\n        d: y\n    e: z\nf: w",
            "a:\nb:\n    c:\nd: 0x1F\n",
            "sops:\n    age:\n        - recipient: r\n          enc: |\n            l1\n\n            l2\n    lastmodified: \"2020-01-01T00:00:00Z\"\nz: 1.5\n",
            "a: [x, y]\nb: {c: d}\nc: 'q'\n",
            "a: x\n  y\nb: v\n",
            "a: x\n\nb: v\n",
            "a: x:y\nb: 2001-12-14\nc: Yes\n",
            "A\u{fffc}: 1\nb\u{e9}:\n    c\u{e9}: d\u{e9}\nx\u{e9}: 1\n",
        ];
        for src in sources {
            let full = parse_full(src, 1).unwrap();
            assert_eq!(parse_document(src, 1), Some(full), "{src:?}");
        }
    }

    #[test]
    fn declines_what_it_cannot_read_alone() {
        for src in [
            "a: 1\na: 2\n",
            "a:\n    b: 1\n    b: 2\n",
            "a: &x v\nb: *x\n",
            "a: 1\n---\nb: 2\n",
            "  a: 1\n",
            "- a\n",
            "1: a\n",
            "? a\n: b\n",
            "a: x\ny\n",
            "a: \"x\ny\"\n",
            "a: [1,\n2]\n",
            "a:\n    b: 1\n  c: 2\n",
            "a: b:\n",
            "",
        ] {
            assert_eq!(parse_document(src, 2), None, "{src:?}");
        }
    }
}
