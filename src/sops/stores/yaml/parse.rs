//! YAML text → [`Tree`], as SOPS 3.11 reads it with go-yaml v3: saphyr-parser events make a node
//! tree, comments are recovered from the source text between the nodes, and scalars are typed by
//! [`super::resolve`].
//!
//! Comment placement follows what go-yaml v3 + SOPS' store do (checked against sops 3.11):
//! - a comment after content on the same line moves to its own line before the entry (or list
//!   item) it follows; after a flow collection that is a map value it becomes the collection's
//!   first item;
//! - full-line comments go before the next entry of the container they are in;
//! - after the last entry of a block that ends, only comment lines indented deeper than the next
//!   token can stay inside ("foot" comments): the innermost block takes the first run of lines
//!   at one column, then each enclosing mapping takes the lines indented at least as deep as its
//!   keys; the rest go before the next token;
//! - full-line comments inside an empty flow mapping are lost, as go-yaml loses them.
//!
//! Exotic layouts may still differ from go-yaml (whose comment attachment is token-based); the
//! tests compare every layout we know of with the real sops.

use super::resolve::{resolve, short_tag, Style};
use crate::secret::SecretString;
use crate::sops::tree::{ListItem, Map, MapItem, Value};
use crate::sops::{Format, LoadError};
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::HashMap;

/// A position in the source: char index (saphyr's unit), 1-based line, 0-based column.
#[derive(Debug, Clone, Copy, Default)]
struct Pos {
    index: usize,
    line: usize,
    col: usize,
}

impl Pos {
    fn from_span_start(s: &Span) -> Pos {
        Pos {
            index: s.start.index(),
            line: s.start.line(),
            col: s.start.col(),
        }
    }
    fn from_span_end(s: &Span) -> Pos {
        Pos {
            index: s.end.index(),
            line: s.end.line(),
            col: s.end.col(),
        }
    }
}

enum Kind {
    Scalar {
        text: String,
        style: Style,
        tag: String,
    },
    Alias(usize),
    Map {
        entries: Vec<(Node, Node)>,
        flow: bool,
    },
    Seq {
        items: Vec<Node>,
        flow: bool,
    },
    /// A document's top-level block mapping, converted entry by entry as it was read (see
    /// [`build_docs`]).
    Converted(Map),
}

struct Node {
    kind: Kind,
    /// Unique id (comment targets).
    id: usize,
    anchor: usize,
    start: Pos,
    /// For block collections: where the next token starts (saphyr's end event position).
    end: Pos,
    /// Block collections: the column of the keys / of the `-` indicators.
    indent: usize,
    /// Quoted and block scalars: the char range a `#` inside is text, not a comment.
    cover: Option<(usize, usize)>,
}

/// One document's root and the char index where the next document starts.
struct Doc {
    root: Option<Node>,
    end: usize,
    /// The 1-based line of its `---` (or of its first token).
    start_line: usize,
}

/// Nesting deeper than this is refused, as the events are read. go-yaml refuses more than
/// 10,000 levels; the reader, the walks and the emitter here recurse once per level, and 256
/// levels stay well within a 2 MiB thread stack (saphyr itself stops flow nesting at 255).
pub(super) const MAX_DEPTH: usize = 256;

/// `text` in a buffer of its size when saphyr's has room to spare (it reserves 128 more bytes
/// for every plain scalar: most of a short key's buffer, a fifth of an `ENC[…]` value's). The
/// old buffer is wiped: the text may be plaintext.
fn fitted(mut text: String) -> String {
    if text.capacity() - text.len() < 32 {
        return text;
    }
    let exact = text.as_str().to_owned();
    // An `ENC[…]` value is ciphertext: nothing to wipe.
    if !text.starts_with("ENC[") {
        zeroize::Zeroize::zeroize(&mut text);
    }
    exact
}

/// Our three scalar styles from saphyr's five.
pub(super) fn style_of(style: ScalarStyle) -> Style {
    match style {
        ScalarStyle::Plain => Style::Plain,
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Style::Quoted,
        ScalarStyle::Literal | ScalarStyle::Folded => Style::Block,
    }
}

fn syntax(message: String) -> LoadError {
    LoadError::Syntax {
        format: Format::Yaml,
        message,
    }
}

fn at(p: Pos) -> String {
    format!("line {}, column {}", p.line, p.col + 1)
}

/// The source by char index (saphyr's unit): the bytes themselves when the source is ASCII, as
/// an encrypted file nearly always is, instead of 4 bytes a character.
enum Chars<'a> {
    Ascii(&'a [u8]),
    Wide(Vec<char>),
}

impl<'a> Chars<'a> {
    fn new(src: &'a str) -> Chars<'a> {
        if src.is_ascii() {
            Chars::Ascii(src.as_bytes())
        } else {
            Chars::Wide(src.chars().collect())
        }
    }

    fn get(&self, i: usize) -> Option<char> {
        match self {
            Chars::Ascii(b) => b.get(i).map(|&c| c as char),
            Chars::Wide(c) => c.get(i).copied(),
        }
    }
}

struct Builder<'a> {
    chars: Chars<'a>,
    events: std::iter::Peekable<Events<'a>>,
    next_id: usize,
}

impl<'a> Builder<'a> {
    fn id(&mut self) -> usize {
        self.next_id += 1;
        self.next_id
    }

    /// One node and what it contains (the depth was bounded as the events were read).
    fn node(&mut self) -> Result<Node, LoadError> {
        self.node_inner()
    }

    fn node_inner(&mut self) -> Result<Node, LoadError> {
        let (ev, span) = self
            .events
            .next()
            .ok_or_else(|| syntax("unexpected end of the event stream".into()))?;
        let start = Pos::from_span_start(&span);
        let id = self.id();
        let (kind, anchor, end, indent, cover) = match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let end = match style {
                    ScalarStyle::SingleQuoted => self.quoted_end(&span, '\''),
                    ScalarStyle::DoubleQuoted => self.quoted_end(&span, '"'),
                    _ => Pos::from_span_end(&span),
                };
                let cover = match style {
                    // A plain scalar cannot hold ` #`: nothing to hide from the comment scan.
                    ScalarStyle::Plain => None,
                    ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
                        Some((self.after_properties(span.start.index()), end.index))
                    }
                    ScalarStyle::Literal | ScalarStyle::Folded => {
                        Some((self.block_content_start(span.start.index()), end.index))
                    }
                };
                let style = style_of(style);
                let tag = tag
                    .map(|t| short_tag(&t.handle, &t.suffix))
                    .unwrap_or_default();
                let kind = Kind::Scalar {
                    text: fitted(text.into_owned()),
                    style,
                    tag,
                };
                (kind, anchor, end, 0, cover)
            }
            Event::Alias(a) => (Kind::Alias(a), 0, Pos::from_span_end(&span), 0, None),
            Event::MappingStart(anchor, _tag) => {
                let flow = self.source_char_is_flow_start(&span);
                let (entries, end) = self.items_until(
                    |e| matches!(e, Event::MappingEnd),
                    |p| Ok((p.node()?, p.node()?)),
                )?;
                let indent = entries
                    .first()
                    .map_or(start.col, |(k, _): &(Node, Node)| k.start.col);
                (Kind::Map { entries, flow }, anchor, end, indent, None)
            }
            Event::SequenceStart(anchor, _tag) => {
                let flow = self.source_char_is_flow_start(&span);
                let (items, end) =
                    self.items_until(|e| matches!(e, Event::SequenceEnd), Self::node)?;
                let indent = items
                    .first()
                    .map_or(start.col, |it: &Node| self.dash_col(it.start));
                (Kind::Seq { items, flow }, anchor, end, indent, None)
            }
            _ => return Err(syntax(format!("unexpected YAML event at {}", at(start)))),
        };
        Ok(Node {
            kind,
            id,
            anchor,
            start,
            end,
            indent,
            cover,
        })
    }

    /// A top-level block mapping, each entry converted by `conv` as soon as it is read.
    fn converted_map(&mut self, conv: &mut Converter) -> Result<Node, LoadError> {
        let (ev, span) = self.events.next().expect("peeked");
        let Event::MappingStart(anchor, _) = ev else {
            unreachable!("peeked a mapping start")
        };
        let start = Pos::from_span_start(&span);
        let id = self.id();
        conv.start_document();
        conv.decoded(1, false)?;
        let mut map = conv.map_begin(id, start.index, None);
        // At most one entry per line: sized once, a large document's top level is not copied
        // as it grows (room that is never used is never touched). Only a wish: where address
        // space is limited, the vectors grow as usual.
        let lines = conv.blank.len();
        let _ = map.out.try_reserve(lines);
        let _ = map.entry_at.try_reserve(lines);
        let end = loop {
            if let Some((Event::MappingEnd, sp)) = self.events.peek() {
                let end = Pos::from_span_start(sp);
                self.events.next();
                break end;
            }
            let (k, v) = (self.node()?, self.node()?);
            if map.indent.is_none() {
                map.indent = Some(k.start.col);
            }
            conv.map_entry(&mut map, k, v)?;
        };
        let indent = map.indent.unwrap_or(start.col);
        let map = conv.map_end(map, false, end);
        Ok(Node {
            kind: Kind::Converted(map),
            id,
            anchor,
            start,
            end,
            indent,
            cover: None,
        })
    }

    /// A collection's items, each read by `item`, up to the event that ends it (`is_end`), which
    /// is consumed; also where that event starts (the collection's `end`).
    fn items_until<T>(
        &mut self,
        is_end: fn(&Event<'a>) -> bool,
        mut item: impl FnMut(&mut Self) -> Result<T, LoadError>,
    ) -> Result<(Vec<T>, Pos), LoadError> {
        let mut items = Vec::new();
        loop {
            if let Some((ev, sp)) = self.events.peek() {
                if is_end(ev) {
                    let end = Pos::from_span_start(sp);
                    self.events.next();
                    return Ok((items, end));
                }
            }
            items.push(item(self)?);
        }
    }

    /// Skips a scalar's tag and anchor (saphyr's span starts at them).
    fn after_properties(&self, mut i: usize) -> usize {
        while matches!(self.chars.get(i), Some('!' | '&')) {
            while self.chars.get(i).is_some_and(|c| !c.is_whitespace()) {
                i += 1;
            }
            while matches!(self.chars.get(i), Some(' ' | '\t')) {
                i += 1;
            }
        }
        i
    }

    /// Where a block scalar's content starts: saphyr's span starts at the content, or at the
    /// tag/anchor on the header line when there is one.
    fn block_content_start(&self, start: usize) -> usize {
        let i = self.after_properties(start);
        if i == start || !matches!(self.chars.get(i), Some('|' | '>')) {
            return start;
        }
        let mut j = i;
        while self.chars.get(j).is_some_and(|c| c != '\n') {
            j += 1;
        }
        j + 1
    }

    /// Just after the closing quote of a quoted scalar: saphyr's span may run on over a
    /// trailing comment.
    fn quoted_end(&self, span: &Span, quote: char) -> Pos {
        let fallback = Pos::from_span_end(span);
        let (mut line, mut col) = (span.start.line(), span.start.col());
        let mut i = span.start.index();
        let mut opened = false;
        while let Some(c) = self.chars.get(i) {
            let next = self.chars.get(i + 1);
            let mut step = 1;
            if !opened {
                opened = c == quote;
            } else if quote == '"' && c == '\\' {
                step = 2;
            } else if c == quote {
                if quote == '\'' && next == Some('\'') {
                    step = 2;
                } else {
                    return Pos {
                        index: i + 1,
                        line,
                        col: col + 1,
                    };
                }
            }
            for k in 0..step {
                if self.chars.get(i + k) == Some('\n') {
                    line += 1;
                    col = 0;
                } else {
                    col += 1;
                }
            }
            i += step;
        }
        fallback
    }

    /// The column of the `-` before a block sequence item (saphyr's sequence start is at the
    /// item itself).
    fn dash_col(&self, item: Pos) -> usize {
        let mut i = item.index;
        let mut col = item.col;
        while i > 0 && col > 0 {
            i -= 1;
            col -= 1;
            if self.chars.get(i) == Some('-') {
                return col;
            }
        }
        item.col
    }

    /// saphyr's span of a flow collection start ends just after its `[`/`{` (an anchor or tag
    /// may come first); a block collection's span is empty or ends at its first key.
    fn source_char_is_flow_start(&self, span: &Span) -> bool {
        let end = span.end.index();
        end > span.start.index() && matches!(self.chars.get(end - 1), Some('[' | '{'))
    }
}

/// go-yaml accepts a flow collection closed at or left of the indentation of the block it is
/// in (sops writes a map holding only comments as `key: {`, the comments, then `}` at the
/// key's column); saphyr rejects it. Before parsing, each line that starts with a closing
/// bracket inside a flow collection is indented one column past the line that opened the
/// collection: inside flow brackets indentation carries no meaning, so the text means the same.
/// Copied only when such a line exists.
fn indent_closing_brackets(src: &str) -> std::borrow::Cow<'_, str> {
    let starts_with_bracket = |l: &str| l.trim_start_matches([' ', '\t']).starts_with([']', '}']);
    if !src.split('\n').any(starts_with_bracket) {
        return std::borrow::Cow::Borrowed(src);
    }
    let mut out = String::with_capacity(src.len() + 64);
    let mut lex = FlowLexer::default();
    for (i, line) in src.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let body = line.trim_start_matches(' ');
        let col = line.len() - body.len();
        if lex.depth > 0 && lex.quote.is_none() && body.starts_with([']', '}']) {
            let want = lex.open_indent + 1;
            if col < want {
                out.extend(std::iter::repeat_n(' ', want - col));
            }
        }
        out.push_str(line);
        lex.line(line);
    }
    std::borrow::Cow::Owned(out)
}

/// Just enough of YAML's lexical structure to know, at each line start, whether the line is
/// inside flow brackets: quoted scalars (which may span lines), comments, block scalars (whose
/// lines are text, whatever they start with) and flow indicators.
#[derive(Default)]
struct FlowLexer {
    /// Open flow collections.
    depth: usize,
    /// The indentation of the line that opened the outermost open flow collection.
    open_indent: usize,
    /// The quote of a quoted scalar still open at the end of the last line.
    quote: Option<char>,
    /// The indentation of the header line of the block scalar being read.
    block_scalar: Option<usize>,
    /// The last token seen may be followed by a node (not inside a plain scalar).
    value_start: bool,
}

impl FlowLexer {
    fn line(&mut self, line: &str) {
        let body = line.trim_start_matches(' ');
        let indent = line.len() - body.len();
        if let Some(header) = self.block_scalar {
            let blank = body.trim_matches([' ', '\t', '\r']).is_empty();
            if blank || indent > header {
                return;
            }
            self.block_scalar = None;
        }
        if self.depth == 0 && self.quote.is_none() {
            self.value_start = true;
        }
        let bytes = line.as_bytes();
        let mut i = indent;
        let mut prev_space = true;
        while i < bytes.len() {
            let c = bytes[i];
            if let Some(q) = self.quote {
                match c {
                    b'\\' if q == '"' => i += 1,
                    b'\'' if q == '\'' && bytes.get(i + 1) == Some(&b'\'') => i += 1,
                    _ if c == q as u8 => {
                        self.quote = None;
                        self.value_start = false;
                    }
                    _ => {}
                }
                i += 1;
                prev_space = false;
                continue;
            }
            let next_blank = matches!(bytes.get(i + 1), None | Some(b' ' | b'\t' | b'\r'));
            match c {
                b' ' | b'\t' | b'\r' => {
                    prev_space = true;
                    i += 1;
                    continue;
                }
                b'#' if prev_space => return,
                b'\'' | b'"' if self.value_start => self.quote = Some(c as char),
                b'[' | b'{' if self.value_start || self.depth > 0 => {
                    if self.depth == 0 {
                        self.open_indent = indent;
                    }
                    self.depth += 1;
                    self.value_start = true;
                }
                b']' | b'}' if self.depth > 0 => {
                    self.depth -= 1;
                    self.value_start = false;
                }
                b',' if self.depth > 0 => self.value_start = true,
                b':' if next_blank || self.depth > 0 => self.value_start = true,
                b'-' | b'?' if self.value_start && next_blank => {}
                b'|' | b'>' if self.value_start && self.depth == 0 => {
                    self.block_scalar = Some(indent);
                    return;
                }
                // An anchor or a tag before a node: skipped, the node may still start.
                b'&' | b'!' if self.value_start => {
                    while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t') {
                        i += 1;
                    }
                    continue;
                }
                _ => self.value_start = false,
            }
            prev_space = false;
            i += 1;
        }
    }
}

/// saphyr's events, read as the node tree is built (never all held at once), with the depth
/// bounded. The first error ends the stream and is kept for [`parse_events`] to report.
struct Events<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    /// Open collections.
    depth: usize,
    error: std::rc::Rc<std::cell::RefCell<Option<LoadError>>>,
}

impl<'a> Iterator for Events<'a> {
    type Item = (Event<'a>, Span);

    fn next(&mut self) -> Option<(Event<'a>, Span)> {
        if self.error.borrow().is_some() {
            return None;
        }
        match self.parser.next_event()? {
            Ok(ev) => {
                match ev.0 {
                    Event::MappingStart(..) | Event::SequenceStart(..) => {
                        self.depth += 1;
                        if self.depth > MAX_DEPTH {
                            let p = Pos::from_span_start(&ev.1);
                            let e =
                                syntax(format!("exceeded max depth of {MAX_DEPTH} at {}", at(p)));
                            *self.error.borrow_mut() = Some(e);
                            return None;
                        }
                    }
                    Event::MappingEnd | Event::SequenceEnd => self.depth -= 1,
                    _ => {}
                }
                Some(ev)
            }
            Err(e) => {
                let m = e.marker();
                // saphyr quotes the offending character in one message: drop it (it may be
                // plaintext).
                let info = e
                    .info()
                    .split('`')
                    .next()
                    .unwrap_or("")
                    .trim_end_matches([':', ' ']);
                let e = syntax(format!(
                    "{info} at line {}, column {}",
                    m.line(),
                    m.col() + 1
                ));
                *self.error.borrow_mut() = Some(e);
                None
            }
        }
    }
}

fn parse_events(src: &str, eager: Option<(&mut Converter, usize)>) -> Result<Vec<Doc>, LoadError> {
    let error = std::rc::Rc::new(std::cell::RefCell::new(None));
    let mut b = Builder {
        chars: Chars::new(src),
        events: Events {
            parser: Parser::new_from_str(src),
            depth: 0,
            error: error.clone(),
        }
        .peekable(),
        next_id: 0,
    };
    let docs = build_docs(&mut b, eager);
    // saphyr's error, if any, comes first: it is why the tree ended early.
    if let Some(e) = error.take() {
        return Err(e);
    }
    docs
}

/// Builds each document's node tree. With `eager` (a file without comments: nothing to place
/// between nodes), a top-level block mapping is converted entry by entry as it is read, so the
/// node tree of a large document is never held whole.
fn build_docs(
    b: &mut Builder<'_>,
    mut eager: Option<(&mut Converter, usize)>,
) -> Result<Vec<Doc>, LoadError> {
    let mut docs: Vec<Doc> = Vec::new();
    while let Some((ev, span)) = b.events.next() {
        match ev {
            Event::DocumentStart(_) => {
                if let Some(prev) = docs.last_mut() {
                    prev.end = span.start.index();
                }
                let block_map = match b.events.peek() {
                    Some((Event::MappingStart(..), sp)) => {
                        let sp = *sp;
                        !b.source_char_is_flow_start(&sp)
                    }
                    _ => false,
                };
                let root = match (b.events.peek(), eager.as_mut()) {
                    (Some((Event::DocumentEnd, _)), _) => None,
                    (_, Some((conv, unique_depth))) if block_map => {
                        conv.unique_depth = if docs.is_empty() { *unique_depth } else { 0 };
                        Some(b.converted_map(conv)?)
                    }
                    _ => Some(b.node()?),
                };
                docs.push(Doc {
                    root,
                    end: usize::MAX,
                    start_line: span.start.line(),
                });
            }
            Event::StreamEnd => {
                if let Some(prev) = docs.last_mut() {
                    prev.end = span.start.index();
                }
            }
            _ => {}
        }
    }
    Ok(docs)
}

/// A comment found in the source.
#[derive(Debug)]
struct Comment {
    /// Sort position: its own char index, or the start of the entry it moves before.
    pos: usize,
    /// Its own position.
    at: Pos,
    text: String,
    /// Inline comments belong to a given container (node id).
    target: Option<usize>,
}

/// Finds every `#` comment outside scalars. `covered` are the char ranges of scalars.
fn scan_comments(src: &str, mut covered: Vec<(usize, usize)>) -> Vec<Comment> {
    covered.sort_unstable();
    let mut out = Vec::new();
    let mut ci = 0usize; // char index
    let mut cov = 0usize;
    for (lineno, line) in src.split('\n').enumerate() {
        // Most lines (every encrypted value's) hold no comment: skipped whole.
        if !line.contains('#') {
            ci += line.chars().count() + 1;
            continue;
        }
        let mut prev_blank = true;
        let mut content_before = false;
        for (col, (bi, c)) in line.char_indices().enumerate() {
            let idx = ci + col;
            while cov < covered.len() && covered[cov].1 <= idx {
                cov += 1;
            }
            let inside = cov < covered.len() && covered[cov].0 <= idx && idx < covered[cov].1;
            if inside {
                prev_blank = false;
                content_before = true;
                continue;
            }
            if c == '#' && prev_blank {
                let text = line[bi + 1..].trim_end_matches('\r').to_owned();
                out.push(Comment {
                    pos: idx,
                    at: Pos {
                        index: idx,
                        line: lineno + 1,
                        col,
                    },
                    text,
                    target: if content_before { Some(0) } else { None },
                });
                break;
            }
            prev_blank = c == ' ' || c == '\t';
            if !prev_blank && c != '\r' {
                content_before = true;
            }
        }
        ci += line.chars().count() + 1;
    }
    out
}

/// Where an inline comment goes: (sort position, container id).
#[derive(Clone, Copy)]
struct LineAnchor {
    end: usize,
    line: usize,
    pos: usize,
    target: usize,
}

/// A comment after a flow collection: inside it as its first item (SOPS reads the node's line
/// comment into the collection), except for a list item, whose line comment goes before the
/// item in the parent list.
fn flow_anchor(node: &Node, role: Option<(usize, usize)>, in_list: bool) -> LineAnchor {
    let (pos, target) = match role {
        Some(r) if in_list => r,
        _ => (node.start.index, node.id),
    };
    LineAnchor {
        end: node.end.index + 1,
        line: node.end.line,
        pos,
        target,
    }
}

/// Collects scalar ranges (for comment scanning) and the anchors inline comments attach to.
fn collect(
    node: &Node,
    role: Option<(usize, usize)>,
    in_list: bool,
    ranges: &mut Vec<(usize, usize)>,
    anchors: &mut Vec<LineAnchor>,
) {
    let push_anchor = |anchors: &mut Vec<LineAnchor>, end: Pos| {
        if let Some((pos, target)) = role {
            anchors.push(LineAnchor {
                end: end.index,
                line: end.line,
                pos,
                target,
            });
        }
    };
    match &node.kind {
        Kind::Scalar { .. } => {
            if let Some(r) = node.cover {
                ranges.push(r);
            }
            // A block scalar's end is the start of the next line: its anchor is its header.
            push_anchor(anchors, node.end);
        }
        Kind::Alias(_) => push_anchor(anchors, node.end),
        // Only without comments: nothing to collect.
        Kind::Converted(_) => {}
        Kind::Map { entries, flow } => {
            if *flow {
                anchors.push(flow_anchor(node, role, in_list));
            }
            for (k, v) in entries {
                let r = Some((k.start.index, node.id));
                collect(k, r, false, ranges, anchors);
                collect(v, r, false, ranges, anchors);
            }
        }
        Kind::Seq { items, flow } => {
            if *flow {
                anchors.push(flow_anchor(node, role, in_list));
            }
            for it in items {
                collect(it, Some((it.start.index, node.id)), true, ranges, anchors);
            }
        }
    }
}

struct Converter {
    /// Per 1-based line: empty or only blanks.
    blank: Vec<bool>,
    /// The source length in chars.
    src_end: usize,
    /// Where the document being converted ends.
    doc_end: usize,
    /// Mapping depth, and how deep duplicate keys are refused (go-yaml refuses them where
    /// SOPS decodes into Go maps/structs: the first document only).
    depth: usize,
    unique_depth: usize,
    /// Where the last block ended (to tell the innermost of blocks that end together).
    last_foot_end: Option<usize>,
    comments: Vec<Comment>,
    next: usize,
    /// Converted anchored nodes (aliases are deep copies, comments included).
    anchors: HashMap<usize, Anchored>,
    /// go-yaml's count of the current document's decoded nodes, and of those decoded through
    /// an alias (see [`Converter::decoded`]).
    decode_count: u64,
    alias_count: u64,
}

/// A mapping being converted (see [`Converter::map_begin`]).
struct MapConversion {
    out: Map,
    /// The container id comments target.
    id: usize,
    /// The column of its keys (known once the first key is read).
    indent: Option<usize>,
    /// Whether repeated keys are refused at this level.
    check: bool,
    /// Keys seen so far, by 32 bits of their hash (the text is compared on a hit): the
    /// entry's ordinal. Small, as a large file's top level holds 100,000s of keys.
    seen: HashMap<u32, u32>,
    hasher: std::collections::hash_map::RandomState,
    /// Per entry: where it is in `out`, and its line.
    entry_at: Vec<(u32, u32)>,
    indentless_end: Option<usize>,
    entries: usize,
}

impl MapConversion {
    /// The line of an earlier entry with key `text`, or `None` after noting this one (at
    /// `line`, about to be pushed). Keys are found by hash, so the text is not copied.
    fn repeated(&mut self, text: &str, line: usize) -> Option<usize> {
        use std::hash::BuildHasher;
        fn key_at(out: &Map, i: usize) -> &str {
            match &out[i] {
                MapItem::Entry(k, _) => k,
                MapItem::Comment(_) => "",
            }
        }
        // Truncated: a collision only costs a comparison of every key.
        let hash = self.hasher.hash_one(text) as u32;
        if let Some(&n) = self.seen.get(&hash) {
            let (i, first) = self.entry_at[n as usize];
            if key_at(&self.out, i as usize) == text {
                return Some(first as usize);
            }
            if let Some(&(_, first)) = self
                .entry_at
                .iter()
                .find(|(i, _)| key_at(&self.out, *i as usize) == text)
            {
                return Some(first as usize);
            }
        } else {
            self.seen.insert(hash, self.entry_at.len() as u32);
        }
        // Files are far below 4 GiB (lines and entries fit in 32 bits).
        self.entry_at.push((self.out.len() as u32, line as u32));
        None
    }
}

/// An anchored node's value and how many nodes decoding it takes, aliases in it expanded.
struct Anchored {
    value: Value,
    nodes: u64,
}

/// go-yaml v3's `allowedAliasRatio`: the share of decoded nodes that may come from alias
/// expansion, 99% for documents up to 400,000 nodes, scaled down to 10% at 4,000,000.
fn allowed_alias_ratio(decode_count: u64) -> f64 {
    const LOW: u64 = 400_000;
    const HIGH: u64 = 4_000_000;
    match decode_count {
        ..=LOW => 0.99,
        HIGH.. => 0.10,
        n => 0.99 - 0.89 * ((n - LOW) as f64 / (HIGH - LOW) as f64),
    }
}

impl Converter {
    /// A last document that holds only comments (`---`, then comment lines, then the end of
    /// the input): go-yaml makes the first run of those lines (up to a blank line) the foot of
    /// the document before, as sops 3.11 shows; the rest stay in the last document. Not when
    /// the first comment is on the `---` line.
    fn comments_to_previous(&mut self, doc_end: usize, start_line: usize, previous: &mut Map) {
        let mut line = start_line;
        while let Some(c) = self.comments.get(self.next) {
            if c.at.index >= doc_end || c.at.line != line + 1 {
                break;
            }
            line = c.at.line;
            previous.push(MapItem::Comment(self.take()));
        }
    }

    /// Counts `nodes` decoded nodes (`aliased`: through an alias) as go-yaml v3's decoder counts
    /// them, and refuses the document as it does once aliases make up too much of it (a
    /// "billion laughs" file: a few kilobytes whose nested aliases expand to billions of
    /// nodes). Called before an alias is copied, so a refused expansion is never built.
    fn decoded(&mut self, nodes: u64, aliased: bool) -> Result<(), LoadError> {
        self.decode_count += nodes;
        if aliased {
            self.alias_count += nodes;
        }
        // go-yaml checks at every node; within one expansion the share of aliased nodes only
        // grows and the allowed share only shrinks, so checking at its end is the same.
        if self.alias_count > 100
            && self.decode_count > 1000
            && self.alias_count as f64 / self.decode_count as f64
                > allowed_alias_ratio(self.decode_count)
        {
            return Err(syntax("document contains excessive aliasing".into()));
        }
        Ok(())
    }

    /// Starts counting a new document (go-yaml decodes each with a new decoder).
    fn start_document(&mut self) {
        self.decode_count = 1;
        self.alias_count = 0;
    }

    fn take(&mut self) -> SecretString {
        let text = std::mem::take(&mut self.comments[self.next].text);
        self.next += 1;
        SecretString::new(text)
    }

    /// Comments that come before position `before` in container `id`.
    fn flush_before(&mut self, before: usize, id: usize, mut push: impl FnMut(SecretString)) {
        while let Some(c) = self.comments.get(self.next) {
            let ok = match c.target {
                Some(t) => t == id && c.pos <= before,
                None => c.pos < before,
            };
            if !ok {
                break;
            }
            push(self.take());
        }
    }

    /// Foot comments at the end of a block, after go-yaml's scanner (`scan_comments`,
    /// `unroll_indent`):
    /// - the first block of comment lines after the content is the foot of the content (so it
    ///   stays in the innermost block) when it is split off: by a following line at another,
    ///   dedented column, or by a blank line (then only if it is not itself dedented);
    /// - every block that the next token closes ends just after the first remaining comment
    ///   at its own indentation; comments before that end are its feet, the rest go before
    ///   the next token.
    ///
    /// `skip_level`: the block shares its level with an indentless sequence that already took
    /// the comments of that level.
    fn flush_foot(
        &mut self,
        end: Pos,
        indent: usize,
        skip_level: bool,
        seq: bool,
        mut push: impl FnMut(SecretString),
    ) {
        let innermost = self.last_foot_end != Some(end.index);
        // Observed with sops 3.11: an enclosing (not innermost) sequence keeps no feet.
        let skip_level = skip_level || (seq && !innermost);
        self.last_foot_end = Some(end.index);
        // The pending comments of this block: own-line comments before the end.
        let pending = self.comments[self.next..]
            .iter()
            .take_while(|c| c.target.is_none() && c.pos < end.index)
            .count();
        if pending == 0 {
            return;
        }
        let doc_end = end.index >= self.doc_end;
        // The column the closing token is at: -1 when the document ends (go-yaml unrolls every
        // level then); for the split rule, `---` counts at column 0 and the end of input as
        // no token.
        let t_col: isize = if doc_end { -1 } else { end.col as isize };
        let t_split_col: Option<usize> = if !doc_end {
            Some(end.col)
        } else if self.doc_end < self.src_end {
            Some(0)
        } else {
            None
        };
        let mut take = 0;
        if innermost {
            take = self.prior_foot_len(pending, indent, t_split_col);
        }
        if !skip_level && (indent as isize) > t_col {
            // Earliest comment at this block's indentation, searched from where the previous
            // (inner) block ended; comments already taken as the prior foot count too.
            let matched = self.comments[self.next..self.next + pending]
                .iter()
                .position(|c| c.at.col == indent);
            if let Some(m) = matched {
                take = take.max(m + 1);
            }
        }
        for _ in 0..take {
            push(self.take());
        }
    }

    /// How many of the first `pending` comments go-yaml makes the foot of the content before
    /// them (`D` is the innermost block's indentation).
    fn prior_foot_len(&self, pending: usize, d: usize, t_col: Option<usize>) -> usize {
        let cs = &self.comments[self.next..self.next + pending];
        let first = &cs[0];
        // No blank line may precede the block for the blank-line split.
        let mut first_empty = !self.blank_line(first.at.line.wrapping_sub(1));
        let start_col = first.at.col;
        let mut line = first.at.line;
        for (i, c) in cs.iter().enumerate().skip(1) {
            // Blank lines between the previous comment and this one.
            if c.at.line > line + 1 && first_empty {
                return if start_col >= d { i } else { 0 };
            }
            if c.at.line > line + 1 {
                first_empty = false;
            }
            if c.at.col < d && c.at.col != start_col {
                return i;
            }
            line = c.at.line;
        }
        // After the last comment: a blank line, then the closing token (or the end of input).
        let blank_after = match t_col {
            Some(_) => self.blank_line(line + 1),
            None => true,
        };
        if blank_after && first_empty {
            return if start_col >= d { pending } else { 0 };
        }
        match t_col {
            Some(tc) if tc < d && tc != start_col => pending,
            _ => 0,
        }
    }

    /// Whether 1-based `line` is empty or only blanks (lines past the end count as blank).
    fn blank_line(&self, line: usize) -> bool {
        self.blank.get(line).copied().unwrap_or(true)
    }

    /// Comments left before the end of a flow collection. `keep_own_lines: false` drops the
    /// full-line ones: go-yaml loses them inside an empty flow mapping (`{` comment `}`, which
    /// sops writes for a map holding only comments).
    fn flush_flow_end(
        &mut self,
        id: usize,
        end: usize,
        keep_own_lines: bool,
        mut push: impl FnMut(SecretString),
    ) {
        while let Some(c) = self.comments.get(self.next) {
            let (ok, keep) = match c.target {
                Some(t) => (t == id, true),
                None => (c.pos < end, keep_own_lines),
            };
            if !ok {
                break;
            }
            let text = self.take();
            if keep {
                push(text);
            }
        }
    }

    fn value(&mut self, node: Node) -> Result<Value, LoadError> {
        let anchor = node.anchor;
        let before = self.decode_count;
        self.decoded(1, false)?;
        let v = match node.kind {
            Kind::Scalar { text, style, tag } => resolve(&tag, style, text)
                .map_err(|e| syntax(format!("value at {}: {e}", at(node.start))))?,
            Kind::Alias(a) => {
                let nodes = self
                    .anchors
                    .get(&a)
                    .ok_or_else(|| syntax(format!("unknown anchor at {}", at(node.start))))?
                    .nodes;
                self.decoded(nodes, true)?;
                self.anchors[&a].value.clone()
            }
            Kind::Map { entries, flow } => Value::Map(self.map(
                node.id,
                entries,
                flow,
                (node.start.index, node.end),
                node.indent,
            )?),
            Kind::Seq { items, flow } => {
                Value::List(self.list(node.id, items, flow, node.end, node.indent)?)
            }
            Kind::Converted(m) => Value::Map(m),
        };
        if anchor != 0 {
            let nodes = self.decode_count - before;
            let value = v.clone();
            self.anchors.insert(anchor, Anchored { value, nodes });
        }
        Ok(v)
    }

    fn key(&mut self, node: Node) -> Result<String, LoadError> {
        let start = node.start;
        match self.value(node)? {
            // The key is not secret: its text leaves the zeroizing wrapper without a copy.
            Value::Str(s) => Ok(s.into_public()),
            other => Err(LoadError::Structure(format!(
                "YAML mapping key at {} is a {}; sops needs string keys (quote it)",
                at(start),
                other.kind()
            ))),
        }
    }

    fn map(
        &mut self,
        id: usize,
        entries: Vec<(Node, Node)>,
        flow: bool,
        (start, end): (usize, Pos),
        indent: usize,
    ) -> Result<Map, LoadError> {
        let mut map = self.map_begin(id, start, Some(indent));
        for (k, v) in entries {
            self.map_entry(&mut map, k, v)?;
        }
        Ok(self.map_end(map, flow, end))
    }

    /// Starts converting a mapping: the comments before it are heads of what it contains.
    fn map_begin(&mut self, id: usize, start: usize, indent: Option<usize>) -> MapConversion {
        let mut out: Map = Vec::new();
        self.flush_before(start, id, |c| out.push(MapItem::Comment(c)));
        self.depth += 1;
        MapConversion {
            out,
            id,
            indent,
            check: self.depth <= self.unique_depth,
            seen: HashMap::new(),
            hasher: Default::default(),
            entry_at: Vec::new(),
            indentless_end: None,
            entries: 0,
        }
    }

    /// Converts one entry of the mapping `map_begin` started. After an error the conversion
    /// is abandoned.
    fn map_entry(&mut self, m: &mut MapConversion, k: Node, v: Node) -> Result<(), LoadError> {
        m.entries += 1;
        // The end of the last value when it is an indentless block sequence (`k:` then `- x`
        // at the key's column): go-yaml gives it no level of its own.
        m.indentless_end = match v.kind {
            Kind::Seq { flow: false, .. } if Some(v.indent) == m.indent => Some(v.end.index),
            _ => None,
        };
        let out = &mut m.out;
        self.flush_before(k.start.index, m.id, |c| out.push(MapItem::Comment(c)));
        if m.check {
            if let Kind::Scalar { text, .. } = &k.kind {
                if let Some(first) = m.repeated(text, k.start.line) {
                    return Err(LoadError::Structure(format!(
                        "YAML mapping key {text:?} at line {} is already defined at line {first}",
                        k.start.line
                    )));
                }
            }
        }
        let key = self.key(k)?;
        let value = self.value(v)?;
        m.out.push(MapItem::Entry(key, value));
        Ok(())
    }

    /// Ends the mapping: its foot comments (block) or last comments (flow).
    fn map_end(&mut self, m: MapConversion, flow: bool, end: Pos) -> Map {
        let mut out = m.out;
        self.depth -= 1;
        if flow {
            let keep = m.entries > 0;
            self.flush_flow_end(m.id, end.index, keep, |c| out.push(MapItem::Comment(c)));
        } else {
            let skip_level = m.indentless_end == Some(end.index);
            let indent = m.indent.unwrap_or(0);
            self.flush_foot(end, indent, skip_level, false, |c| {
                out.push(MapItem::Comment(c))
            });
        }
        out
    }

    fn list(
        &mut self,
        id: usize,
        items: Vec<Node>,
        flow: bool,
        end: Pos,
        indent: usize,
    ) -> Result<Vec<ListItem>, LoadError> {
        let mut out = Vec::new();
        for it in items {
            self.flush_before(it.start.index, id, |c| out.push(ListItem::Comment(c)));
            out.push(ListItem::Value(self.value(it)?));
        }
        if flow {
            self.flush_flow_end(id, end.index, true, |c| out.push(ListItem::Comment(c)));
        } else {
            self.flush_foot(end, indent, false, true, |c| out.push(ListItem::Comment(c)));
        }
        Ok(out)
    }
}

/// Whether a line after 1-based `start_line` is a document end marker (`...`).
fn explicit_end(src: &str, start_line: usize) -> bool {
    src.split('\n')
        .skip(start_line)
        .any(|l| l.trim_end_matches([' ', '\t', '\r']) == "...")
}

/// Parses every document into a branch (a map with comments).
/// go-yaml only reads YAML 1.1 documents (`%YAML 1.1` or no directive).
fn check_directives(src: &str) -> Result<(), LoadError> {
    if !src.contains("%YAML") {
        return Ok(());
    }
    for (n, line) in src.split('\n').enumerate() {
        if let Some(rest) = line.strip_prefix("%YAML") {
            let version = rest.split('#').next().unwrap_or("").trim();
            if version != "1.1" {
                return Err(syntax(format!(
                    "found incompatible YAML document (%YAML {} directive) at line {}: only \
                     YAML 1.1 documents are accepted, as by go-yaml",
                    version.chars().take(8).collect::<String>(),
                    n + 1
                )));
            }
        }
    }
    Ok(())
}

/// `unique_depth`: how many mapping levels of the first document must not repeat a key
/// (SOPS: 1 for an encrypted file, all for a plaintext one).
pub(crate) fn parse_documents(bytes: &[u8], unique_depth: usize) -> Result<Vec<Map>, LoadError> {
    let src = std::str::from_utf8(bytes).map_err(|e| {
        syntax(format!(
            "the file is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    check_directives(src)?;
    let fixed = indent_closing_brackets(src);
    let src = fixed.as_ref();
    let mut blank = vec![true];
    blank.extend(
        src.split('\n')
            .map(|l| l.trim_matches([' ', '\t', '\r']).is_empty()),
    );
    let mut conv = Converter {
        blank,
        src_end: src.chars().count(),
        doc_end: usize::MAX,
        last_foot_end: None,
        comments: Vec::new(),
        next: 0,
        anchors: HashMap::new(),
        depth: 0,
        unique_depth: 0,
        decode_count: 0,
        alias_count: 0,
    };
    // Without a `#` there is no comment to place.
    let has_comments = src.contains('#');
    let eager = (!has_comments).then_some((&mut conv, unique_depth));
    let docs = parse_events(src, eager)?;

    let mut ranges = Vec::new();
    let mut anchors = Vec::new();
    for d in docs.iter().filter(|_| has_comments) {
        if let Some(root) = &d.root {
            collect(root, None, false, &mut ranges, &mut anchors);
        }
    }
    let mut comments = if has_comments {
        scan_comments(src, ranges)
    } else {
        Vec::new()
    };
    // Inline comments: attach to the last node that ends before them on their line.
    anchors.sort_by_key(|a| a.end);
    for c in comments.iter_mut().filter(|c| c.target.is_some()) {
        // The anchor ending last before the comment; if it is not on the comment's line, none
        // is.
        let n = anchors.partition_point(|a| a.end <= c.at.index);
        let found = n
            .checked_sub(1)
            .map(|i| &anchors[i])
            .filter(|a| a.line == c.at.line);
        match found {
            Some(a) => {
                c.pos = a.pos;
                c.target = Some(a.target);
            }
            // After `- `, `---` or an anchor/tag only: a head comment of what follows.
            None => c.target = None,
        }
    }
    comments.sort_by_key(|c| c.pos);
    conv.comments = comments;

    let mut branches: Vec<Map> = Vec::new();
    let n_docs = docs.len();
    for (i, d) in docs.into_iter().enumerate() {
        let empty = d.root.as_ref().is_none_or(|n| {
            matches!(&n.kind, Kind::Scalar { text, style: Style::Plain, tag } if text.is_empty() && tag.is_empty())
        });
        if empty && i > 0 && i + 1 == n_docs && !explicit_end(src, d.start_line) {
            conv.comments_to_previous(d.end, d.start_line, &mut branches[i - 1]);
        }
        conv.unique_depth = if i == 0 { unique_depth } else { 0 };
        conv.doc_end = d.end;
        conv.start_document();
        let mut map: Map = Vec::new();
        match d.root {
            None => {}
            Some(root) => {
                let start = root.start;
                match root.kind {
                    Kind::Converted(m) => map = m,
                    Kind::Map { entries, flow } => {
                        let anchor = root.anchor;
                        conv.decoded(1, false)?;
                        map = conv.map(
                            root.id,
                            entries,
                            flow,
                            (root.start.index, root.end),
                            root.indent,
                        )?;
                        if anchor != 0 {
                            let value = Value::Map(map.clone());
                            let nodes = conv.decode_count - 1;
                            conv.anchors.insert(anchor, Anchored { value, nodes });
                        }
                    }
                    Kind::Seq { .. } => {
                        return Err(LoadError::Structure(format!(
                            "YAML document {} (at {}) is a list; sops only supports documents \
                             that are mappings",
                            i + 1,
                            at(start)
                        )))
                    }
                    Kind::Alias(_) => {
                        return Err(LoadError::Structure(format!(
                            "YAML document {} (at {}) is an alias; sops needs a mapping",
                            i + 1,
                            at(start)
                        )))
                    }
                    Kind::Scalar { text, style, tag } => {
                        // An empty document (`---` alone, or comments only) is an empty map.
                        let v = resolve(&tag, style, text).ok();
                        if !matches!(v, Some(Value::Null)) {
                            return Err(LoadError::Structure(format!(
                                "YAML document {} (at {}) is a single value; sops only \
                                 supports documents that are mappings",
                                i + 1,
                                at(start)
                            )));
                        }
                    }
                }
            }
        }
        // Whatever is left before the next document is this document's foot.
        while conv
            .comments
            .get(conv.next)
            .is_some_and(|c| c.at.index < d.end)
        {
            map.push(MapItem::Comment(conv.take()));
        }
        branches.push(map);
    }
    Ok(branches)
}
