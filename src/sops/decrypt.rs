//! Decrypting a tree: one walk that decides by the crypt rule which leaves are encrypted,
//! decrypts them with their AAD path, and feeds the MAC in the same order SOPS does.

use crate::secret::{SecretBytes, SecretString};
use crate::sops::cipher::{looks_encrypted, EncValue, ValueType};
use crate::sops::gofmt::{format_float_f, parse_bool, parse_float, GoTime};
use crate::sops::metadata::CryptRule;
use crate::sops::tree::{ListItem, Map, MapItem, Value};
use crate::sops::{DataKey, DecryptError, EncryptedFile, PlainTree};
use sha2::{Digest, Sha512};

/// SHA-256("sops"): fed to the MAC first when `mac_only_encrypted` is set.
const MAC_ONLY_ENCRYPTED_PREFIX: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

#[derive(Debug, Clone, Copy, Default)]
pub struct DecryptOptions {
    /// Skip the MAC check (`--ignore-mac`). The MAC is still computed.
    pub ignore_mac: bool,
}

/// One step of a value's location, for AADs (keys only) and error messages (keys and indices).
#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Renders a location as SOPS' `--extract` syntax: `["a"]["b"][0]`.
fn render(steps: &[Step]) -> String {
    if steps.is_empty() {
        return "(top level)".into();
    }
    let mut s = String::new();
    for step in steps {
        match step {
            Step::Key(k) => s.push_str(&format!("[{k:?}]")),
            Step::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

struct Walker<'a> {
    key: &'a [u8; 32],
    rule: &'a CryptRule,
    mac_only_encrypted: bool,
    hash: Sha512,
    steps: Vec<Step>,
    /// Comments seen per nesting level, for the comment-regex rules.
    comments: Vec<Vec<SecretString>>,
}

impl<'a> Walker<'a> {
    fn aad(&self) -> Vec<u8> {
        let mut aad = Vec::new();
        for step in &self.steps {
            if let Step::Key(k) = step {
                aad.extend_from_slice(k.as_bytes());
                aad.push(b':');
            }
        }
        if aad.is_empty() {
            aad.push(b':');
        }
        aad
    }

    fn keys(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().filter_map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            Step::Index(_) => None,
        })
    }

    fn should_encrypt(&self, is_comment: bool) -> bool {
        let any_comment = |re: &regex::Regex| {
            let last_level = self.comments.len().saturating_sub(1);
            self.comments.iter().enumerate().any(|(lvl, level)| {
                level.iter().enumerate().any(|(i, c)| {
                    // A marker comment does not encrypt itself (it is the newest entry of the
                    // innermost level while it is processed).
                    let is_self = is_comment && lvl == last_level && i + 1 == level.len();
                    !is_self && re.is_match(c.expose())
                })
            })
        };
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
            CryptRule::EncryptedCommentRegex(re) => match re {
                Some(re) => any_comment(re),
                None => false,
            },
        }
    }

    fn hash_leaf(&mut self, encrypted: bool, bytes: &[u8]) {
        if !self.mac_only_encrypted || encrypted {
            self.hash.update(bytes);
        }
    }

    fn decrypt_enc(&self, text: &str) -> Result<(SecretBytes, ValueType), DecryptError> {
        let path = || render(&self.steps);
        let enc = EncValue::parse(text).map_err(|source| DecryptError::Value {
            path: path(),
            source,
        })?;
        let plain = enc
            .decrypt(self.key, &self.aad())
            .map_err(|source| DecryptError::Value {
                path: path(),
                source,
            })?;
        Ok((plain, enc.ty))
    }

    /// A comment item: decrypted when the rule says so. A comment that does not decrypt is kept
    /// as it is, as SOPS does ("possibly unencrypted comment": old or hand-written files).
    fn comment(&mut self, text: SecretString) -> SecretString {
        if let Some(level) = self.comments.last_mut() {
            level.push(text.clone());
        }
        if !self.should_encrypt(true) {
            return text;
        }
        match self.decrypt_enc(text.expose()) {
            Ok((plain, _)) => match plain.into_text() {
                Ok(s) => s,
                Err(_) => text,
            },
            Err(_) => {
                if looks_encrypted(text.expose()) {
                    log::warn!(
                        "comment at {} looks encrypted but does not decrypt; kept as it is",
                        render(&self.steps)
                    );
                }
                text
            }
        }
    }

    fn leaf(&mut self, value: Value) -> Result<Leaf, DecryptError> {
        let encrypted = self.should_encrypt(false);
        if !encrypted {
            let bytes = to_bytes(&value);
            self.hash_leaf(false, &bytes);
            return Ok(Leaf::Value(value));
        }
        let text = match &value {
            Value::Str(s) => s,
            other => {
                return Err(DecryptError::NotEncrypted {
                    path: render(&self.steps),
                    found: other.kind(),
                })
            }
        };
        if text.is_empty() {
            // SOPS never encrypts "", and decrypting "" gives "".
            return Ok(Leaf::Value(value));
        }
        let (plain, ty) = self.decrypt_enc(text.expose())?;
        let path = || render(&self.steps);
        let bad = |ty: ValueType| DecryptError::BadPlaintext {
            path: path(),
            ty: ty.name(),
        };
        let out = match ty {
            ValueType::Str => match plain.into_text() {
                Ok(s) => Value::Str(s),
                Err(bytes) => Value::Bytes(bytes),
            },
            ValueType::Bytes => Value::Bytes(plain),
            ValueType::Comment => {
                let text = plain.into_text().map_err(|_| bad(ty))?;
                return Ok(Leaf::Comment(text));
            }
            ValueType::Int => {
                let s = std::str::from_utf8(plain.expose()).map_err(|_| bad(ty))?;
                Value::Int(parse_go_int(s).ok_or_else(|| bad(ty))?)
            }
            ValueType::Float => {
                let s = std::str::from_utf8(plain.expose()).map_err(|_| bad(ty))?;
                Value::Float(parse_float(s).ok_or_else(|| bad(ty))?)
            }
            ValueType::Bool => {
                let s = std::str::from_utf8(plain.expose()).map_err(|_| bad(ty))?;
                Value::Bool(parse_bool(s).ok_or_else(|| bad(ty))?)
            }
            ValueType::Time => {
                let s = std::str::from_utf8(plain.expose()).map_err(|_| bad(ty))?;
                Value::Time(
                    GoTime::parse_rfc3339(s)
                        .ok_or_else(|| bad(ty))?
                        .format(true),
                )
            }
        };
        let bytes = to_bytes(&out);
        self.hash_leaf(true, &bytes);
        Ok(Leaf::Value(out))
    }

    fn value(&mut self, value: Value) -> Result<Leaf, DecryptError> {
        match value {
            Value::Null => Ok(Leaf::Value(Value::Null)),
            Value::Map(map) => {
                self.comments.push(Vec::new());
                let out = self.map(map);
                self.comments.pop();
                Ok(Leaf::Value(Value::Map(out?)))
            }
            Value::List(items) => {
                self.comments.push(Vec::new());
                let out = self.list(items);
                self.comments.pop();
                Ok(Leaf::Value(Value::List(out?)))
            }
            leaf => self.leaf(leaf),
        }
    }

    fn map(&mut self, map: Map) -> Result<Map, DecryptError> {
        let mut out = Vec::with_capacity(map.len());
        for item in map {
            match item {
                MapItem::Comment(c) => out.push(MapItem::Comment(self.comment(c))),
                MapItem::Entry(k, v) => {
                    self.steps.push(Step::Key(k));
                    let res = self.value(v);
                    let Some(Step::Key(k)) = self.steps.pop() else {
                        unreachable!("steps are pushed and popped in pairs")
                    };
                    if let Some(level) = self.comments.last_mut() {
                        level.clear();
                    }
                    out.push(match res? {
                        Leaf::Value(v) => MapItem::Entry(k, v),
                        // A map value never decrypts to a comment in files SOPS writes; keep
                        // the key so nothing is lost.
                        Leaf::Comment(c) => MapItem::Entry(k, Value::Str(c)),
                    });
                }
            }
        }
        Ok(out)
    }

    fn list(&mut self, items: Vec<ListItem>) -> Result<Vec<ListItem>, DecryptError> {
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            match item {
                ListItem::Comment(c) => out.push(ListItem::Comment(self.comment(c))),
                ListItem::Value(v) => {
                    self.steps.push(Step::Index(i));
                    let res = self.value(v);
                    self.steps.pop();
                    if let Some(level) = self.comments.last_mut() {
                        level.clear();
                    }
                    out.push(match res? {
                        Leaf::Value(v) => ListItem::Value(v),
                        // `- ENC[…,type:comment]`: an encrypted comment stored as a list string.
                        Leaf::Comment(c) => ListItem::Comment(c),
                    });
                }
            }
        }
        Ok(out)
    }
}

enum Leaf {
    Value(Value),
    Comment(SecretString),
}

/// `strconv.Atoi`: optional sign, decimal digits, int64 range.
fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// SOPS' `ToBytes`: the bytes a leaf contributes to the MAC (and its plaintext when encrypted).
pub fn to_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Str(s) => s.expose().as_bytes().to_vec(),
        Value::Bytes(b) => b.expose().to_vec(),
        Value::Int(i) => i.to_string().into_bytes(),
        Value::Float(f) => format_float_f(*f).into_bytes(),
        Value::Bool(true) => b"True".to_vec(),
        Value::Bool(false) => b"False".to_vec(),
        Value::Time(t) => t.as_bytes().to_vec(),
        Value::Null | Value::Map(_) | Value::List(_) => Vec::new(),
    }
}

/// Decrypts every value, computes the MAC and checks it against the stored one.
pub fn decrypt(
    file: EncryptedFile,
    key: &DataKey,
    opts: DecryptOptions,
) -> Result<PlainTree, DecryptError> {
    let EncryptedFile {
        format,
        tree,
        metadata,
    } = file;
    let mut walker = Walker {
        key: key.as_array(),
        rule: &metadata.crypt_rule,
        mac_only_encrypted: metadata.mac_only_encrypted,
        hash: Sha512::new(),
        steps: Vec::new(),
        comments: Vec::new(),
    };
    if metadata.mac_only_encrypted {
        walker.hash.update(MAC_ONLY_ENCRYPTED_PREFIX);
    }
    let mut branches = Vec::with_capacity(tree.branches.len());
    for branch in tree.branches {
        walker.comments.push(Vec::new());
        branches.push(walker.map(branch)?);
        walker.comments.pop();
    }
    let computed = hex_upper(&walker.hash.finalize());

    let lastmodified = GoTime::parse_rfc3339(&metadata.lastmodified).ok_or_else(|| {
        DecryptError::LastModified(metadata.lastmodified.chars().take(64).collect())
    })?;
    let stored = if metadata.mac.is_empty() {
        String::new()
    } else {
        let enc = EncValue::parse(&metadata.mac).map_err(DecryptError::MacValue)?;
        let plain = enc
            .decrypt(key.as_array(), lastmodified.format(false).as_bytes())
            .map_err(DecryptError::MacValue)?;
        String::from_utf8_lossy(plain.expose()).into_owned()
    };
    if stored != computed && !opts.ignore_mac {
        return Err(DecryptError::Mac { stored, computed });
    }
    Ok(PlainTree {
        format,
        tree: crate::sops::tree::Tree { branches },
    })
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
