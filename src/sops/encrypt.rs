//! Encrypting a plaintext tree: the same walk and MAC as decryption, run the other way.

use crate::secret::SecretString;
use crate::sops::cipher::{EncValue, ValueCipher, ValueType};
use crate::sops::decrypt::{to_bytes, Mac};
use crate::sops::gofmt::now_rfc3339;
use crate::sops::metadata::flatten;
use crate::sops::metadata::CryptRule;
use crate::sops::tree::MapItem;
use crate::sops::tree::{Tree, Value};
use crate::sops::walk::{walk_tree, Ctx, Leaf, Visitor};
use crate::sops::{
    stores, CipherError, DataKey, EmitError, EncryptedFile, Format, Metadata, PlainTree,
};

struct Encryptor {
    cipher: ValueCipher,
    /// The AAD of the current value (a reused buffer).
    aad: Vec<u8>,
    mac: Mac,
}

/// A value that could not be encrypted (never says what the value was).
#[derive(Debug, thiserror::Error)]
#[error("cannot encrypt value at {path}: {source}")]
pub struct EncryptError {
    /// The key path of the value (`a:b:`).
    pub path: String,
    /// Why.
    pub source: CipherError,
}

impl Encryptor {
    fn seal(&mut self, ctx: &Ctx, bytes: &[u8], ty: ValueType) -> Result<String, EncryptError> {
        ctx.aad_into(&mut self.aad);
        self.cipher
            .seal(bytes, ty, &self.aad)
            .map_err(|source| EncryptError {
                path: ctx.render(),
                source,
            })
    }
}

impl Visitor for Encryptor {
    type Error = EncryptError;

    fn comment(&mut self, ctx: &Ctx, text: SecretString) -> Result<Leaf, EncryptError> {
        if !ctx.should_encrypt(true) || text.is_empty() {
            return Ok(Leaf::Comment(text));
        }
        let enc = self.seal(ctx, text.expose().as_bytes(), ValueType::Comment)?;
        // In a list SOPS stores the encrypted comment as a string element; in a map it stays a
        // comment line. The walk places `ListString` accordingly.
        Ok(Leaf::ListString(Value::str(enc)))
    }

    fn leaf(&mut self, ctx: &Ctx, value: Value) -> Result<Leaf, EncryptError> {
        let encrypted = ctx.should_encrypt(false);
        self.mac.add(encrypted, &value);
        if !encrypted {
            return Ok(Leaf::Value(value));
        }
        let ty = match &value {
            Value::Str(s) if s.is_empty() => return Ok(Leaf::Value(value)),
            Value::Str(_) | Value::Bytes(_) => ValueType::Str,
            Value::Int(_) => ValueType::Int,
            Value::Float(_) => ValueType::Float,
            Value::Bool(_) => ValueType::Bool,
            Value::Time(_) => ValueType::Time,
            Value::Null | Value::Map(_) | Value::List(_) => return Ok(Leaf::Value(value)),
        };
        let plain = zeroize::Zeroizing::new(to_bytes(&value));
        Ok(Leaf::Value(Value::str(self.seal(ctx, &plain, ty)?)))
    }
}

/// Encrypts every value the crypt rule selects and returns the tree with the MAC (uppercase hex,
/// not yet encrypted) computed over it.
pub(crate) fn encrypt_tree(
    tree: Tree,
    rule: &CryptRule,
    mac_only_encrypted: bool,
    key: &DataKey,
) -> Result<(Tree, String), EncryptError> {
    let mut visitor = Encryptor {
        cipher: ValueCipher::new(key.as_array()),
        aad: Vec::new(),
        mac: Mac::new(mac_only_encrypted),
    };
    let tree = walk_tree(tree, rule, &mut visitor)?;
    Ok((tree, visitor.mac.finish()))
}

/// Encrypts the MAC for storage: AAD is the `lastmodified` string.
pub(crate) fn seal_mac(
    mac: &str,
    lastmodified: &str,
    key: &DataKey,
) -> Result<String, EncryptError> {
    EncValue::encrypt(
        mac.as_bytes(),
        ValueType::Str,
        key.as_array(),
        lastmodified.as_bytes(),
    )
    .map(|e| e.to_string())
    .map_err(|source| EncryptError {
        path: "sops.mac".into(),
        source,
    })
}

/// Encrypts a plaintext tree into a complete file: values, MAC, metadata. `metadata` carries the
/// key groups (with their `enc` already wrapped), the crypt rule and flags; its `mac` and
/// `lastmodified` are filled in here.
pub fn seal(
    plain: PlainTree,
    mut metadata: Metadata,
    key: &DataKey,
) -> Result<EncryptedFile, EncryptError> {
    let PlainTree { format, tree } = plain;
    let (tree, mac) = encrypt_tree(tree, &metadata.crypt_rule, metadata.mac_only_encrypted, key)?;
    metadata.lastmodified = now_rfc3339();
    metadata.mac = seal_mac(&mac, &metadata.lastmodified, key)?;
    Ok(EncryptedFile {
        format,
        tree,
        metadata,
    })
}

/// Writes an encrypted file in its store's syntax, metadata included, as sops lays it out.
pub fn emit_encrypted(file: &EncryptedFile) -> Result<Vec<u8>, EmitError> {
    emit_encrypted_owned(file.clone())
}

/// [`emit_encrypted`] of a file that is not needed afterwards: its tree is not copied.
pub fn emit_encrypted_owned(file: EncryptedFile) -> Result<Vec<u8>, EmitError> {
    // Ciphertext, and what the crypt rule leaves in the clear on purpose: a plain buffer.
    let mut out = Vec::new();
    write_encrypted_owned(file, &mut out)?;
    Ok(out)
}

/// [`emit_encrypted_owned`] written to `w` as it is made (a YAML document never has all its
/// text in memory next to its tree).
pub fn write_encrypted_owned(
    file: EncryptedFile,
    w: &mut dyn std::io::Write,
) -> Result<(), EmitError> {
    let meta = file
        .metadata
        .to_value()
        .map_err(|e| EmitError::Unsupported {
            format: file.format,
            message: e.to_string(),
        })?;
    let mut meta = meta;
    if file.format == Format::Binary {
        // sops writes no crypt rule for binary files (the default applies when reading).
        if let Value::Map(m) = &mut meta {
            m.retain(|i| !matches!(i, MapItem::Entry(k, _) if k == "unencrypted_suffix"));
        }
    }
    let mut tree = file.tree;
    match file.format {
        Format::Yaml | Format::Json | Format::Binary => {
            if tree.branches.is_empty() {
                tree.branches.push(Vec::new());
            }
            // YAML: every document carries the metadata.
            for branch in &mut tree.branches {
                branch.push(MapItem::Entry("sops".into(), meta.clone()));
            }
            let store = if file.format == Format::Yaml {
                Format::Yaml
            } else {
                Format::Json
            };
            stores::write(store, &tree, w)
        }
        Format::Dotenv => {
            let branch = tree.branches.first_mut().ok_or(EmitError::Unsupported {
                format: Format::Dotenv,
                message: "no document".into(),
            })?;
            for (k, v) in flatten(&meta) {
                branch.push(MapItem::Entry(format!("sops_{k}"), Value::str(v)));
            }
            stores::write(Format::Dotenv, &tree, w)
        }
        Format::Ini => {
            let branch = tree.branches.first_mut().ok_or(EmitError::Unsupported {
                format: Format::Ini,
                message: "no document".into(),
            })?;
            let section = flatten(&meta)
                .into_iter()
                .map(|(k, v)| MapItem::Entry(k, Value::str(v)))
                .collect();
            branch.push(MapItem::Entry("sops".into(), Value::Map(section)));
            stores::write(Format::Ini, &tree, w)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretBytes;
    use crate::sops::tree::ListItem;
    use crate::sops::DecryptOptions;

    fn sample() -> Tree {
        Tree {
            branches: vec![vec![
                MapItem::Comment(" top".into()),
                MapItem::Entry("a".into(), Value::str("secret")),
                MapItem::Entry("n_unencrypted".into(), Value::Int(7)),
                MapItem::Entry(
                    "l".into(),
                    Value::List(vec![
                        ListItem::Comment(" in list".into()),
                        ListItem::Value(Value::Float(1.5)),
                        ListItem::Value(Value::Bool(true)),
                    ]),
                ),
            ]],
        }
    }

    #[test]
    fn round_trip_keeps_types_comments_and_mac() {
        let key = DataKey::from_bytes(SecretBytes::new(vec![3; 32])).unwrap();
        let rule = CryptRule::default();
        let (enc, mac) = encrypt_tree(sample(), &rule, false, &key).unwrap();
        // The unencrypted-suffix value stays clear; the list comment became a string element.
        let b = &enc.branches[0];
        assert!(matches!(&b[2], MapItem::Entry(_, Value::Int(7))));
        let MapItem::Entry(_, Value::List(l)) = &b[3] else {
            panic!()
        };
        assert!(
            matches!(&l[0], ListItem::Value(Value::Str(s)) if s.expose().ends_with("type:comment]"))
        );
        let lastmodified = "2024-01-02T03:04:05Z";
        let metadata = Metadata {
            shamir_threshold: 0,
            key_groups: vec![],
            lastmodified: lastmodified.into(),
            mac: seal_mac(&mac, lastmodified, &key).unwrap(),
            crypt_rule: rule,
            mac_only_encrypted: false,
            version: "3.11.0".into(),
        };
        let file = EncryptedFile {
            format: Format::Yaml,
            tree: enc,
            metadata,
        };
        let plain = file.decrypt(&key, DecryptOptions::default()).unwrap();
        assert_eq!(plain.tree, sample());
    }
}
