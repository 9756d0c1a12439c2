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
use super::stream::has_duplicate_key;
use crate::sops::tree::{Map, MapItem, Value};

const START: u8 = 1;
const KEY: u8 = 2;
const VALUE: u8 = 4;

/// Per byte: may start a simple plain key or value (never a YAML indicator), may be in a
/// simple key after the first character, may be in a simple value after the first character.
/// A value has no space (so no ` #`, no `: `), no quote, and no character that only means
/// something at the start of a plain scalar or in flow context (`,[]` are text in a block plain
/// scalar, as in `ENC[AES256_GCM,data:…]`).
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

/// The simple key a line starts with, if it is followed by `:` and the end of the line or a
/// space; and the rest of the line after the `:`.
fn key_of(line: &str) -> Option<(&str, &str)> {
    let b = line.as_bytes();
    if !starts_plain(*b.first()?) {
        return None;
    }
    let colon = b.iter().position(|&c| CLASS[c as usize] & KEY == 0)?;
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
        && b.iter().all(|&c| CLASS[c as usize] & VALUE != 0)
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

/// The lines of one top-level entry, read one at a time.
struct Reader<'a> {
    text: &'a str,
    /// Where the current line starts.
    pos: usize,
    /// The current line (without its `\n`), `None` at the end.
    line: Option<&'a str>,
    unique_depth: usize,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str, unique_depth: usize) -> Reader<'a> {
        let mut r = Reader {
            text,
            pos: 0,
            line: None,
            unique_depth,
        };
        r.load();
        r
    }

    fn load(&mut self) {
        self.line = self
            .text
            .get(self.pos..)
            .filter(|_| self.pos < self.text.len())
            .map(|rest| {
                let n = rest.find('\n').unwrap_or(rest.len());
                &rest[..n]
            });
    }

    fn advance(&mut self) {
        if let Some(line) = self.line {
            self.pos += line.len() + 1;
            self.load();
        }
    }

    /// The entries at exactly `indent`, up to a line indented less; `map_depth` as the full
    /// parser counts mapping levels (for the repeated-key check), `depth` its node nesting.
    fn block(&mut self, indent: usize, map_depth: usize, depth: usize) -> Option<Map> {
        // Its entries are one level deeper: leave the limit's error to the full parser.
        if depth >= MAX_DEPTH {
            return None;
        }
        let mut out = Map::new();
        while let Some(line) = self.line {
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
        if map_depth <= self.unique_depth && has_duplicate_key(&out) {
            return None;
        }
        // Pushing doubles the capacity: a large nested map would keep up to half its size unused.
        if out.capacity() - out.len() > 8 {
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
        end += body[end..].find('\n').unwrap_or(body.len() - end);
        if end >= body.len() || !matches!(b.get(end + 1), Some(b' ' | b'\n') | None) {
            return end;
        }
        end += 1;
    }
}

/// Grows the top-level map when full: to the entry count the bytes read so far (`done` of
/// `total`) predict, rather than doubling (a large flat file's map is most of its tree), but
/// by at least an eighth so that a low guess cannot make growth quadratic.
fn reserve(top: &mut Map, done: usize, total: usize) {
    let len = top.len();
    if len < top.capacity() || len < 64 || done == 0 {
        return;
    }
    let predicted = (len as u128 * total as u128 / done as u128) as usize;
    let target = (predicted + predicted / 64).clamp(len + len / 8, 2 * len);
    top.reserve_exact(target - len);
}

/// Below this many bytes one thread parses faster than two.
const PARALLEL_MIN_BYTES: usize = 512 * 1024;

/// The one document of `src`, or `None` when the general parsers must read it (a comment
/// anywhere, for one: simple lines cannot hold a `#`, and other entries are checked).
pub(super) fn parse_document(src: &str, unique_depth: usize) -> Option<Vec<Map>> {
    let body = src.strip_suffix('\n').unwrap_or(src);
    if body.is_empty() {
        return None;
    }
    parse_body(src, body, unique_depth, cut(body))
}

/// [`parse_document`] of `body` (`src` less its final line end), in two runs on two threads
/// when `cut` is the start of a top-level entry.
fn parse_body(src: &str, body: &str, unique_depth: usize, cut: Option<usize>) -> Option<Vec<Map>> {
    let top = match cut {
        Some(cut) => {
            let (first, second) = crate::parallel::join(
                || entries(src, body, 0, cut - 1, unique_depth, Map::new()),
                || {
                    // The tree takes about one and a half times the text.
                    crate::parallel::grow_heap((body.len() - cut) * 3 / 2);
                    entries(src, body, cut, body.len(), unique_depth, Pieces(Vec::new()))
                },
            );
            let (mut first, second) = (first?, second?);
            first.reserve_exact(second.0.iter().map(Vec::len).sum());
            for piece in second.0 {
                first.extend(piece);
            }
            first
        }
        None => entries(src, body, 0, body.len(), unique_depth, Map::new())?,
    };
    if unique_depth >= 1 && has_duplicate_key(&top) {
        return None;
    }
    Some(vec![top])
}

/// Where a large body is cut for two threads: the start of a top-level entry (a line at column
/// 0) near its middle.
fn cut(body: &str) -> Option<usize> {
    if body.len() < PARALLEL_MIN_BYTES || !crate::parallel::second_core() {
        return None;
    }
    let b = body.as_bytes();
    let mut at = body.len() / 2;
    loop {
        let nl = at + memchr::memchr(b'\n', &b[at..])?;
        match b.get(nl + 1) {
            Some(b' ' | b'\n') => at = nl + 1,
            Some(_) => return Some(nl + 1),
            None => return None,
        }
    }
}

/// Where a run of top-level entries goes.
trait Entries {
    /// Adds the next entry; `done` of the run's `total` bytes are read.
    fn add(&mut self, item: MapItem, done: usize, total: usize);
}

impl Entries for Map {
    fn add(&mut self, item: MapItem, done: usize, total: usize) {
        reserve(self, done, total);
        self.push(item);
    }
}

/// The second thread's entries, in pieces that are moved into the first thread's map one at a
/// time, each freed once moved: a large file's top-level map is most of its tree, and it should
/// not be in memory twice while the two runs are joined.
struct Pieces(Vec<Map>);

/// Entries per piece: 4096 of them are large enough for the allocator to map them apart, so
/// that freeing one gives its memory back at once.
const PIECE: usize = 4096;

impl Entries for Pieces {
    fn add(&mut self, item: MapItem, _: usize, _: usize) {
        match self.0.last_mut() {
            Some(piece) if piece.len() < PIECE => piece.push(item),
            _ => {
                let mut piece = Map::with_capacity(PIECE);
                piece.push(item);
                self.0.push(piece);
            }
        }
    }
}

/// The top-level entries of `body[start..to]`; `to` is the end of `body` or the `\n` before a
/// line at column 0.
fn entries<E: Entries>(
    src: &str,
    body: &str,
    start: usize,
    to: usize,
    unique_depth: usize,
    mut top: E,
) -> Option<E> {
    let mut from = start;
    while from < to {
        let end = entry_end(body, from);
        let text = &body[from..end];
        // An entry starts with its key: not with what would make the line part of another
        // construct (`? key` / `: value`, a sequence, a document marker, a directive, a flow
        // collection).
        if text.is_empty() || text.starts_with([' ', '?', ':', '-', '.', '%', '[', '{']) {
            return None;
        }
        let mut reader = Reader::new(text, unique_depth);
        match reader.block(0, 1, 1) {
            Some(mut one) if reader.line.is_none() && one.len() == 1 => {
                top.add(one.pop()?, from - start, to - start);
            }
            _ => {
                // The entry with its line end, as the stream parser expects a document.
                let text = &src[from..(end + 1).min(src.len())];
                if text.contains('#') {
                    return None;
                }
                let mut docs = super::stream::parse_documents(text, unique_depth)?;
                let mut one = docs.pop()?;
                if !docs.is_empty() || one.len() != 1 || !matches!(one[0], MapItem::Entry(..)) {
                    return None;
                }
                top.add(one.pop()?, from - start, to - start);
            }
        }
        from = end + 1;
    }
    Some(top)
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
    fn two_runs_read_what_one_reads() {
        let mut long = String::new();
        for i in 0..40 {
            long.push_str(&format!(
                "k{i}: ENC[AES256_GCM,data:x{i},iv:y,tag:z,type:str]\n"
            ));
            if i % 6 == 0 {
                long.push_str(&format!("m{i}:\n    a: 1\n    b:\n        c: d\n"));
            }
            if i % 9 == 0 {
                long.push_str(&format!("l{i}:\n    - x\n    - y: 2\n"));
            }
        }
        let sources = [
            long.clone(),
            // A repeated key across the runs, an alias, a comment, a document marker, a deeper
            // line: each declined whatever the cut.
            format!("{long}k3: again\n"),
            format!("a: &x v\n{long}b: *x\n"),
            format!("{long}z: 1 # c\n"),
            format!("{long}---\nz: 1\n"),
            format!("{long}z: x\n  y\n"),
            "a: 1\nb:\n    c: 2\nd: 3\n".to_string(),
        ];
        for src in &sources {
            let body = src.strip_suffix('\n').unwrap();
            let one = parse_body(src, body, 1, None);
            let cuts = (1..body.len()).filter(|&i| {
                body.as_bytes()[i - 1] == b'\n' && !matches!(body.as_bytes()[i], b' ' | b'\n')
            });
            for cut in cuts {
                assert_eq!(
                    parse_body(src, body, 1, Some(cut)),
                    one,
                    "cut at {cut} of {src:?}"
                );
            }
        }
        // The long document is read by this path at all, and a large one is cut.
        assert!(parse_body(&long, long.trim_end(), 1, None).is_some());
        let big: String = (0..40_000).map(|i| format!("key{i}: value{i}\n")).collect();
        if crate::parallel::second_core() {
            let c = cut(big.trim_end()).expect("a large body is cut");
            assert!(big[..c].ends_with('\n'));
        }
        let two = parse_document(&big, 1).unwrap();
        assert_eq!(two[0].len(), 40_000);
        assert_eq!(Some(two), parse_body(&big, big.trim_end(), 1, None));
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
            "a:\n    b: 1\n  c: 2\n",
            "a: b:\n",
            "",
        ] {
            assert_eq!(parse_document(src, 2), None, "{src:?}");
        }
    }
}
