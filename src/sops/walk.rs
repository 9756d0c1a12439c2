//! The one traversal SOPS makes over a tree, shared by decryption and encryption: key paths
//! (AAD), the comment stack for the comment-regex rules, and the crypt-rule decision per leaf.
//! What happens at a leaf (decrypt or encrypt, and the MAC) is the [`Visitor`]'s business.

use crate::secret::SecretString;
use crate::sops::metadata::CryptRule;
use crate::sops::tree::{ListItem, Map, MapItem, Tree, Value};

/// One step of a value's location: keys make the AAD; indices only appear in messages.
#[derive(Clone)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// Where the walk is: the path and the comments that are active at each nesting level.
pub(crate) struct Ctx<'a> {
    rule: &'a CryptRule,
    steps: Vec<Step>,
    comments: Vec<Vec<SecretString>>,
}

/// What a leaf turns into.
pub(crate) enum Leaf {
    Value(Value),
    /// A list string `ENC[…,type:comment]` decrypts to a comment item.
    Comment(SecretString),
    /// Encrypting a comment inside a list stores it as a string element, as SOPS does.
    ListString(Value),
}

pub(crate) trait Visitor {
    type Error;
    /// A scalar leaf (not null, not a container). `ctx.should_encrypt(false)` tells whether the
    /// crypt rule wants it encrypted.
    fn leaf(&mut self, ctx: &Ctx, value: Value) -> Result<Leaf, Self::Error>;
    /// A comment item; never fails (SOPS keeps a comment it cannot decrypt).
    fn comment(&mut self, ctx: &Ctx, text: SecretString) -> Result<Leaf, Self::Error>;
}

impl Ctx<'_> {
    /// The AAD, into a reused buffer: `a:b:` — the mapping keys from the root, list indices
    /// left out; `:` at the top level.
    pub(crate) fn aad_into(&self, aad: &mut Vec<u8>) {
        aad.clear();
        for k in self.keys() {
            aad.extend_from_slice(k.as_bytes());
            aad.push(b':');
        }
        if aad.is_empty() {
            aad.push(b':');
        }
    }

    /// The location in `--extract` syntax, for messages: `["a"]["b"][0]`.
    pub(crate) fn render(&self) -> String {
        if self.steps.is_empty() {
            return "(top level)".into();
        }
        let mut s = String::new();
        for step in &self.steps {
            match step {
                Step::Key(k) => s.push_str(&format!("[{k:?}]")),
                Step::Index(i) => s.push_str(&format!("[{i}]")),
            }
        }
        s
    }

    fn keys(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().filter_map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            Step::Index(_) => None,
        })
    }

    /// SOPS' `shouldBeEncrypted`.
    pub(crate) fn should_encrypt(&self, is_comment: bool) -> bool {
        match self.rule {
            CryptRule::UnencryptedSuffix(s) => !self.keys().any(|k| k.ends_with(s.as_str())),
            CryptRule::EncryptedSuffix(s) => self.keys().any(|k| k.ends_with(s.as_str())),
            CryptRule::UnencryptedRegex(re) => match re {
                Some(re) => !self.keys().any(|k| re.is_match(k)),
                None => true,
            },
            CryptRule::EncryptedRegex(re) => match re {
                Some(re) => self.keys().any(|k| re.is_match(k)),
                None => false,
            },
            CryptRule::UnencryptedCommentRegex(re) => match re {
                Some(re) => !self
                    .comments
                    .iter()
                    .flatten()
                    .any(|c| re.is_match(c.expose())),
                None => true,
            },
            CryptRule::EncryptedCommentRegex(re) => {
                let Some(re) = re else { return false };
                let last_level = self.comments.len().saturating_sub(1);
                self.comments.iter().enumerate().any(|(lvl, level)| {
                    level.iter().enumerate().any(|(i, c)| {
                        // A marker comment does not encrypt itself: it is the newest entry of
                        // the innermost level while it is processed.
                        let is_self = is_comment && lvl == last_level && i + 1 == level.len();
                        !is_self && re.is_match(c.expose())
                    })
                })
            }
        }
    }

    fn clear_level(&mut self) {
        if let Some(level) = self.comments.last_mut() {
            level.clear();
        }
    }

    fn note_comment(&mut self, text: &SecretString) {
        if let Some(level) = self.comments.last_mut() {
            level.push(text.clone());
        }
    }
}

/// Walks every branch in order, rebuilding the tree from what the visitor returns.
pub(crate) fn walk_tree<V: Visitor>(
    mut tree: Tree,
    rule: &CryptRule,
    visitor: &mut V,
) -> Result<Tree, V::Error> {
    for branch in &mut tree.branches {
        walk_top_items(rule, branch, visitor)?;
    }
    Ok(tree)
}

/// Walks a document's top-level items in place, as [`walk_tree`] walks them.
pub(crate) fn walk_top_items<V: Visitor>(
    rule: &CryptRule,
    items: &mut [MapItem],
    visitor: &mut V,
) -> Result<(), V::Error> {
    let mut ctx = Ctx {
        rule,
        steps: Vec::new(),
        comments: vec![Vec::new()],
    };
    walk_items(&mut ctx, items, visitor)
}

fn walk_value<V: Visitor>(ctx: &mut Ctx, value: Value, v: &mut V) -> Result<Leaf, V::Error> {
    match value {
        Value::Null => Ok(Leaf::Value(Value::Null)),
        Value::Map(map) => {
            ctx.comments.push(Vec::new());
            let out = walk_map(ctx, map, v);
            ctx.comments.pop();
            Ok(Leaf::Value(Value::Map(out?)))
        }
        Value::List(items) => {
            ctx.comments.push(Vec::new());
            let out = walk_list(ctx, items, v);
            ctx.comments.pop();
            Ok(Leaf::Value(Value::List(out?)))
        }
        leaf => v.leaf(ctx, leaf),
    }
}

fn walk_map<V: Visitor>(ctx: &mut Ctx, mut map: Map, v: &mut V) -> Result<Map, V::Error> {
    walk_items(ctx, &mut map, v)?;
    Ok(map)
}

/// Rewrites a map's items in place: no second item list, and each value's old form is dropped
/// as soon as its new one is made.
fn walk_items<V: Visitor>(ctx: &mut Ctx, items: &mut [MapItem], v: &mut V) -> Result<(), V::Error> {
    for item in items.iter_mut() {
        match item {
            MapItem::Comment(c) => {
                let c = std::mem::take(c);
                ctx.note_comment(&c);
                *item = match v.comment(ctx, c)? {
                    Leaf::Comment(c) => MapItem::Comment(c),
                    Leaf::Value(Value::Str(s)) | Leaf::ListString(Value::Str(s)) => {
                        MapItem::Comment(s)
                    }
                    Leaf::Value(_) | Leaf::ListString(_) => {
                        unreachable!("comment visitors return text")
                    }
                };
            }
            MapItem::Entry(k, val) => {
                let val = std::mem::replace(val, Value::Null);
                ctx.steps.push(Step::Key(std::mem::take(k)));
                let res = walk_value(ctx, val, v);
                let Some(Step::Key(key)) = ctx.steps.pop() else {
                    unreachable!("steps are pushed and popped in pairs")
                };
                ctx.clear_level();
                *item = match res? {
                    Leaf::Value(val) | Leaf::ListString(val) => MapItem::Entry(key, val),
                    // A map value never decrypts to a comment in files SOPS writes; keep the
                    // key so nothing is lost.
                    Leaf::Comment(c) => MapItem::Entry(key, Value::Str(c)),
                };
            }
        }
    }
    Ok(())
}

fn walk_list<V: Visitor>(
    ctx: &mut Ctx,
    mut items: Vec<ListItem>,
    v: &mut V,
) -> Result<Vec<ListItem>, V::Error> {
    for (i, item) in items.iter_mut().enumerate() {
        match item {
            ListItem::Comment(c) => {
                let c = std::mem::take(c);
                ctx.note_comment(&c);
                *item = match v.comment(ctx, c)? {
                    Leaf::Comment(c) => ListItem::Comment(c),
                    Leaf::ListString(s) => ListItem::Value(s),
                    Leaf::Value(Value::Str(s)) => ListItem::Comment(s),
                    Leaf::Value(_) => unreachable!("comment visitors return text"),
                };
            }
            ListItem::Value(val) => {
                let val = std::mem::replace(val, Value::Null);
                ctx.steps.push(Step::Index(i));
                let res = walk_value(ctx, val, v);
                ctx.steps.pop();
                ctx.clear_level();
                *item = match res? {
                    Leaf::Value(val) | Leaf::ListString(val) => ListItem::Value(val),
                    Leaf::Comment(c) => ListItem::Comment(c),
                };
            }
        }
    }
    Ok(items)
}
