//! The fast path for a source without comments (no `#` at all: the usual encrypted file, whose
//! values are base64): the tree is built while saphyr streams its events, with no event list,
//! node tree or comment scan, and scalars are moved into the tree, not copied.
//!
//! It gives up (`None`) on anything that is not plainly valid, and the full parser in
//! [`super::parse`] then reads the file again and reports the error with its own messages: so
//! the two paths cannot disagree on an error, and on success they build the same tree (the
//! full parser with no comment to place does exactly what this does).

use super::parse::{style_of, MAX_DEPTH};
use super::resolve::{resolve, short_tag};
use crate::sops::tree::{ListItem, Map, MapItem, Value};
use saphyr_parser::{Event, Parser, StrInput};
use std::collections::HashMap;

struct Stream<'a> {
    parser: Parser<'a, StrInput<'a>>,
    /// Converted anchored nodes (aliases are deep copies).
    anchors: HashMap<usize, Value>,
    /// Node nesting (the full parser's depth limit).
    depth: usize,
    /// Mapping nesting, and how deep a repeated key is refused.
    map_depth: usize,
    unique_depth: usize,
}

impl<'a> Stream<'a> {
    fn next(&mut self) -> Option<Event<'a>> {
        match self.parser.next_event()? {
            Ok((ev, _)) => Some(ev),
            Err(_) => None,
        }
    }

    fn node(&mut self, ev: Event<'a>) -> Option<Value> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let (v, anchor) = match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag
                    .map(|t| short_tag(&t.handle, &t.suffix))
                    .unwrap_or_default();
                let v = resolve(&tag, style_of(style), text.into_owned()).ok()?;
                (v, anchor)
            }
            Event::Alias(a) => (self.anchors.get(&a)?.clone(), 0),
            Event::MappingStart(anchor, _) => (Value::Map(self.map()?), anchor),
            Event::SequenceStart(anchor, _) => (Value::List(self.list()?), anchor),
            _ => return None,
        };
        if anchor != 0 {
            self.anchors.insert(anchor, v.clone());
        }
        self.depth -= 1;
        Some(v)
    }

    fn map(&mut self) -> Option<Map> {
        self.map_depth += 1;
        let check = self.map_depth <= self.unique_depth;
        let mut out: Map = Vec::new();
        loop {
            let ev = self.next()?;
            if matches!(ev, Event::MappingEnd) {
                break;
            }
            // The full parser compares the keys' source text: only untagged scalars are
            // compared here (their text is the key), anything else takes the full path.
            if check && !matches!(ev, Event::Scalar(_, _, _, None)) {
                return None;
            }
            let key = match self.node(ev)? {
                Value::Str(mut s) => std::mem::take(s.expose_mut()),
                _ => return None,
            };
            let ev = self.next()?;
            let value = self.node(ev)?;
            out.push(MapItem::Entry(key, value));
        }
        if check && has_duplicate_key(&out) {
            return None;
        }
        self.map_depth -= 1;
        Some(out)
    }

    fn list(&mut self) -> Option<Vec<ListItem>> {
        let mut out = Vec::new();
        loop {
            let ev = self.next()?;
            if matches!(ev, Event::SequenceEnd) {
                return Some(out);
            }
            out.push(ListItem::Value(self.node(ev)?));
        }
    }

    /// One document's mapping (an empty or null document is an empty map).
    fn document(&mut self) -> Option<Map> {
        let map = match self.next()? {
            Event::DocumentEnd => return Some(Map::new()),
            Event::MappingStart(anchor, _) => {
                self.depth += 1;
                let map = self.map()?;
                self.depth -= 1;
                if anchor != 0 {
                    self.anchors.insert(anchor, Value::Map(map.clone()));
                }
                map
            }
            ev @ Event::Scalar(..) => match self.node(ev)? {
                Value::Null => Map::new(),
                _ => return None,
            },
            _ => return None,
        };
        matches!(self.next()?, Event::DocumentEnd).then_some(map)
    }
}

/// Whether a key repeats. Sorting indices takes 4 bytes an entry where a hash set of the keys
/// would take 20 or more, at the peak of a large file's memory use.
pub(super) fn has_duplicate_key(map: &Map) -> bool {
    let key = |i: &u32| match &map[*i as usize] {
        MapItem::Entry(k, _) => Some(k.as_str()),
        MapItem::Comment(_) => None,
    };
    let Ok(n) = u32::try_from(map.len()) else {
        // Beyond 4G entries: the file could not be in memory anyway.
        return false;
    };
    let mut idx: Vec<u32> = (0..n).filter(|i| key(i).is_some()).collect();
    idx.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
    idx.windows(2).any(|w| key(&w[0]) == key(&w[1]))
}

/// Every document's mapping, or `None` when the full parser must read the source (see the
/// module documentation). The caller checks that `src` has no `#`.
pub(super) fn parse_documents(src: &str, unique_depth: usize) -> Option<Vec<Map>> {
    let mut s = Stream {
        parser: Parser::new_from_str(src),
        anchors: HashMap::new(),
        depth: 0,
        map_depth: 0,
        unique_depth: 0,
    };
    let mut branches = Vec::new();
    loop {
        match s.next()? {
            Event::StreamStart => {}
            Event::StreamEnd => return Some(branches),
            Event::DocumentStart(_) => {
                s.unique_depth = if branches.is_empty() { unique_depth } else { 0 };
                branches.push(s.document()?);
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse_full;
    use super::*;

    #[test]
    fn same_tree_as_the_full_parser() {
        let sources = [
            "a: 1\nb: [x, {c: d}]\ne:\n  - f\n  - g: null\n    h: 1.5\n",
            "k: &a {x: 1}\nl: *a\nm: !!str 12\nn: !!binary aGVsbG8=\no: |\n  text\n  more\n",
            "a: 1\n---\nb: 2\nb: 3\n---\n",
            "t: 2001-12-14t21:59:43.10-05:00\nu: 'q'\nv: \"w\\n\"\nlist:\n- 1\n- ~\n",
            "",
            "---\n",
        ];
        for src in sources {
            let full = parse_full(src, 1).unwrap();
            assert_eq!(parse_documents(src, 1), Some(full), "{src:?}");
        }
    }

    #[test]
    fn declines_what_the_full_parser_refuses() {
        for src in [
            "a: 1\na: 2\n",
            "a: {b: 1, b: 2}\n",
            "- a\n",
            "scalar\n",
            "a: [1\n",
            "? [k]\n: v\n",
            "a: !!int x\n",
            "a: *nope\n",
        ] {
            assert!(parse_full(src, 2).is_err(), "{src:?}");
            assert_eq!(parse_documents(src, 2), None, "{src:?}");
        }
    }
}
