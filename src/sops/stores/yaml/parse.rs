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
}

/// Nesting deeper than this is refused rather than risking the stack (go-yaml has a similar
/// limit).
pub(super) const MAX_DEPTH: usize = 256;

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
    events: std::iter::Peekable<std::vec::IntoIter<(Event<'a>, Span)>>,
    next_id: usize,
    depth: usize,
}

impl<'a> Builder<'a> {
    fn id(&mut self) -> usize {
        self.next_id += 1;
        self.next_id
    }

    fn node(&mut self) -> Result<Node, LoadError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let at_ = self.events.peek().map(|(_, sp)| Pos::from_span_start(sp));
            return Err(syntax(format!(
                "the document nests deeper than {} levels{}",
                MAX_DEPTH,
                at_.map(|p| format!(" at {}", at(p))).unwrap_or_default()
            )));
        }
        let r = self.node_inner();
        self.depth -= 1;
        r
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
                    text: text.into_owned(),
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

/// go-yaml accepts a flow collection closed at or left of its parent block's indentation (sops
/// writes `key: {` comment `}` that way); saphyr rejects it. Indenting that bracket keeps the
/// meaning, so the loader retries with the line indented one more space.
fn bracket_line_to_fix(src: &str, line: usize) -> bool {
    src.split('\n')
        .nth(line.wrapping_sub(1))
        .is_some_and(|l| l.trim_start_matches(' ').starts_with(['}', ']']))
}

fn indent_line(src: &str, line: usize) -> String {
    let mut out = String::with_capacity(src.len() + 1);
    for (i, l) in src.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if i + 1 == line {
            out.push(' ');
        }
        out.push_str(l);
    }
    out
}

/// Parses the source, fixing under-indented closing brackets (see [`bracket_line_to_fix`]).
fn parse_events_lenient(src: &str) -> Result<(std::borrow::Cow<'_, str>, Vec<Doc>), LoadError> {
    // Copied only when a line has to be fixed.
    let mut src = std::borrow::Cow::Borrowed(src);
    let mut first_line = None;
    for _ in 0..200 {
        match parse_events(&src) {
            Ok(docs) => return Ok((src, docs)),
            Err(EventsError::UnderIndentedBracket(line)) => {
                first_line.get_or_insert(line);
                src = indent_line(&src, line).into();
            }
            Err(EventsError::Load(e)) => return Err(e),
        }
    }
    // Not fixable this way: report the original error.
    let line = first_line.unwrap_or(0);
    Err(syntax(format!("invalid indentation at line {line}")))
}

enum EventsError {
    Load(LoadError),
    UnderIndentedBracket(usize),
}

impl From<LoadError> for EventsError {
    fn from(e: LoadError) -> Self {
        EventsError::Load(e)
    }
}

fn parse_events(src: &str) -> Result<Vec<Doc>, EventsError> {
    let mut parser = Parser::new_from_str(src);
    let mut events = Vec::new();
    while let Some(r) = parser.next_event() {
        match r {
            Ok(ev) => events.push(ev),
            Err(e) => {
                let m = e.marker();
                if e.info() == "invalid indentation" && bracket_line_to_fix(src, m.line()) {
                    return Err(EventsError::UnderIndentedBracket(m.line()));
                }
                // saphyr quotes the offending character in one message: drop it (it may be
                // plaintext).
                let info = e
                    .info()
                    .split('`')
                    .next()
                    .unwrap_or("")
                    .trim_end_matches([':', ' ']);
                return Err(EventsError::Load(syntax(format!(
                    "{info} at line {}, column {}",
                    m.line(),
                    m.col() + 1
                ))));
            }
        }
    }
    let mut b = Builder {
        chars: Chars::new(src),
        events: events.into_iter().peekable(),
        next_id: 0,
        depth: 0,
    };
    let mut docs: Vec<Doc> = Vec::new();
    while let Some((ev, span)) = b.events.next() {
        match ev {
            Event::DocumentStart(_) => {
                if let Some(prev) = docs.last_mut() {
                    prev.end = span.start.index();
                }
                let root = match b.events.peek() {
                    Some((Event::DocumentEnd, _)) => None,
                    _ => Some(b.node()?),
                };
                docs.push(Doc {
                    root,
                    end: usize::MAX,
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
    anchors: HashMap<usize, Value>,
}

impl Converter {
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
        let v = match node.kind {
            Kind::Scalar { text, style, tag } => resolve(&tag, style, text)
                .map_err(|e| syntax(format!("value at {}: {e}", at(node.start))))?,
            Kind::Alias(a) => self
                .anchors
                .get(&a)
                .cloned()
                .ok_or_else(|| syntax(format!("unknown anchor at {}", at(node.start))))?,
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
        };
        if anchor != 0 {
            self.anchors.insert(anchor, v.clone());
        }
        Ok(v)
    }

    fn key(&mut self, node: Node) -> Result<String, LoadError> {
        let start = node.start;
        match self.value(node)? {
            // The key is not secret: its text leaves the zeroizing wrapper without a copy.
            Value::Str(mut s) => Ok(std::mem::take(s.expose_mut())),
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
        let mut out: Map = Vec::new();
        let empty = entries.is_empty();
        // Comments before the collection itself are heads of what it contains.
        self.flush_before(start, id, |c| out.push(MapItem::Comment(c)));
        self.depth += 1;
        let check = self.depth <= self.unique_depth;
        let mut seen: HashMap<String, usize> = HashMap::new();
        // The end of the last value when it is an indentless block sequence (`k:` then `- x`
        // at the key's column): go-yaml gives it no level of its own.
        let mut indentless_end = None;
        for (k, v) in entries {
            indentless_end = match v.kind {
                Kind::Seq { flow: false, .. } if v.indent == indent => Some(v.end.index),
                _ => None,
            };
            self.flush_before(k.start.index, id, |c| out.push(MapItem::Comment(c)));
            if check {
                if let Kind::Scalar { text, .. } = &k.kind {
                    if let Some(first) = seen.insert(text.clone(), k.start.line) {
                        self.depth -= 1;
                        return Err(LoadError::Structure(format!(
                            "YAML mapping key {text:?} at line {} is already defined at line {first}",
                            k.start.line
                        )));
                    }
                }
            }
            let key = self.key(k);
            let value = key.and_then(|k| Ok((k, self.value(v)?)));
            let (key, value) = match value {
                Ok(kv) => kv,
                Err(e) => {
                    self.depth -= 1;
                    return Err(e);
                }
            };
            out.push(MapItem::Entry(key, value));
        }
        self.depth -= 1;
        if flow {
            self.flush_flow_end(id, end.index, !empty, |c| out.push(MapItem::Comment(c)));
        } else {
            let skip_level = indentless_end == Some(end.index);
            self.flush_foot(end, indent, skip_level, false, |c| {
                out.push(MapItem::Comment(c))
            });
        }
        Ok(out)
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
pub fn parse_documents(bytes: &[u8], unique_depth: usize) -> Result<Vec<Map>, LoadError> {
    let src = std::str::from_utf8(bytes).map_err(|e| {
        syntax(format!(
            "the file is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    check_directives(src)?;
    // Each checks what it reads: neither handles comments.
    if let Some(branches) = super::lines::parse_document(src, unique_depth) {
        return Ok(branches);
    }
    if !src.contains('#') {
        if let Some(branches) = super::stream::parse_documents(src, unique_depth) {
            return Ok(branches);
        }
    }
    parse_full(src, unique_depth)
}

/// The full parser: node tree, comments, and every error message.
pub(super) fn parse_full(src: &str, unique_depth: usize) -> Result<Vec<Map>, LoadError> {
    let (fixed, docs) = parse_events_lenient(src)?;
    let src = fixed.as_ref();

    let mut ranges = Vec::new();
    let mut anchors = Vec::new();
    for d in &docs {
        if let Some(root) = &d.root {
            collect(root, None, false, &mut ranges, &mut anchors);
        }
    }
    let mut comments = scan_comments(src, ranges);
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
        comments,
        next: 0,
        anchors: HashMap::new(),
        depth: 0,
        unique_depth: 0,
    };
    let mut branches = Vec::new();
    for (i, d) in docs.into_iter().enumerate() {
        conv.unique_depth = if i == 0 { unique_depth } else { 0 };
        conv.doc_end = d.end;
        let mut map: Map = Vec::new();
        match d.root {
            None => {}
            Some(root) => {
                let start = root.start;
                match root.kind {
                    Kind::Map { entries, flow } => {
                        let anchor = root.anchor;
                        map = conv.map(
                            root.id,
                            entries,
                            flow,
                            (root.start.index, root.end),
                            root.indent,
                        )?;
                        if anchor != 0 {
                            conv.anchors.insert(anchor, Value::Map(map.clone()));
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
