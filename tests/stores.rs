//! The JSON, dotenv, INI and binary stores against the real sops 3.11: files encrypted by sops,
//! decrypted by this crate, compared byte for byte with `sops decrypt`.

mod common;

use common::{sops, sops_decrypt, sops_encrypt, AgeKey};
use nix_sops::keys::age::parse_identity_file;
use nix_sops::keys::Keyring;
use nix_sops::sops::stores;
use nix_sops::sops::{load, DecryptOptions, Format, LoadError, Value};
use std::path::{Path, PathBuf};

struct Fixture {
    dir: tempfile::TempDir,
    key: AgeKey,
    key_file: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let key = AgeKey::generate();
        let key_file = key.write(dir.path(), "keys.txt");
        Fixture { dir, key, key_file }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Encrypts `plain` (saved as `name`) with the real sops for this key, plus `flags`.
    fn encrypt(&self, name: &str, plain: &[u8], flags: &[&str]) -> Vec<u8> {
        let mut args = vec!["--age", self.key.recipient.as_str()];
        args.extend_from_slice(flags);
        let enc = sops_encrypt(self.path(), name, plain, &args);
        let enc_name = format!("enc.{name}");
        std::fs::write(self.path().join(&enc_name), &enc).unwrap();
        enc
    }

    /// What the real sops prints for `sops decrypt [args] enc.<name>`.
    fn sops_decrypt(&self, name: &str, args: &[&str]) -> Vec<u8> {
        let out = sops_decrypt(self.path(), &format!("enc.{name}"), &self.key_file, args);
        assert!(
            out.status.success(),
            "sops decrypt {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn keyring(&self) -> Keyring {
        let mut ring = Keyring::new();
        ring.age = parse_identity_file("keys.txt", &self.key.file_text).unwrap();
        ring
    }

    /// Our decryption of an encrypted file: the plaintext tree.
    fn ours(&self, format: Format, enc: &[u8]) -> nix_sops::sops::PlainTree {
        let file = load(format, enc).unwrap_or_else(|e| panic!("load failed: {e}"));
        let key = self
            .keyring()
            .unwrap_data_key(&file.metadata)
            .unwrap_or_else(|e| panic!("{e}"));
        file.decrypt(&key, DecryptOptions::default())
            .unwrap_or_else(|e| panic!("decrypt failed: {e}"))
    }

    /// Encrypts with sops, decrypts with both, asserts the whole outputs are byte-identical.
    fn check_whole(&self, format: Format, name: &str, plain: &[u8], flags: &[&str]) -> Vec<u8> {
        let enc = self.encrypt(name, plain, flags);
        let expected = self.sops_decrypt(name, &[]);
        let ours = self.ours(format, &enc).emit(format).unwrap();
        assert_eq!(
            String::from_utf8_lossy(ours.expose()),
            String::from_utf8_lossy(&expected),
            "{name} with {flags:?}: our decryption differs from sops"
        );
        assert_eq!(ours.expose(), &expected[..], "{name}: bytes differ");
        expected
    }
}

/// The value at a top-level key of a decrypted tree.
fn top<'a>(tree: &'a nix_sops::sops::PlainTree, key: &str) -> &'a Value {
    nix_sops::sops::tree::map_get(&tree.tree.branches[0], key).expect("key exists")
}

// ---------------------------------------------------------------------------------------------
// JSON

const JSON_DOC: &str = r#"{
  "string": "hello world",
  "unicode": "héllo wörld ✓ 😀 \u00e9\u4e2d",
  "html": "<script>a && b</script> > c",
  "escapes": "tab\there\nnew \"quoted\" back\\slash \/ \b\f\r \u0001 \u001f \u007f",
  "separators": "line\u2028para\u2029end",
  "empty": "",
  "int": 42,
  "negative": -17,
  "zero": 0,
  "negzero": -0,
  "big": 12345678901234567890,
  "max_safe": 9007199254740993,
  "float": 1.5,
  "small": 1e-7,
  "tiny": 0.000001,
  "large": 1e21,
  "just_below": 999999999999999999999,
  "huge": 1.7976931348623157e308,
  "exp": 2.5E+3,
  "null": null,
  "yes": true,
  "no": false,
  "list": [1, "two", 3.25, null, true, [], {}, ["nested", ["deeper"]], {"k": "v"}],
  "empty_list": [],
  "empty_map": {},
  "nested": {"a": {"b": {"c": "deep", "list": [{"x": 1}, {"y": [2, 3]}]}}},
  "dup": "first",
  "dup": "second",
  "weird key <&> \"q\"": "value",
  "": "empty key",
  "plain_unencrypted": "left clear",
  "num_unencrypted": 7
}"#;

#[test]
fn json_whole_document_matches_sops() {
    let f = Fixture::new();
    f.check_whole(Format::Json, "doc.json", JSON_DOC.as_bytes(), &[]);
}

#[test]
fn json_crypt_rules_match_sops() {
    let f = Fixture::new();
    f.check_whole(
        Format::Json,
        "suffix.json",
        JSON_DOC.as_bytes(),
        &["--unencrypted-suffix", "_unencrypted"],
    );
    f.check_whole(
        Format::Json,
        "regex.json",
        JSON_DOC.as_bytes(),
        &["--encrypted-regex", "^(nested|list|big|dup)$"],
    );
    f.check_whole(
        Format::Json,
        "unregex.json",
        JSON_DOC.as_bytes(),
        &["--unencrypted-regex", "^(string|int)$"],
    );
    f.check_whole(
        Format::Json,
        "encsuffix.json",
        JSON_DOC.as_bytes(),
        &["--encrypted-suffix", "ed"],
    );
}

#[test]
fn json_values_are_typed_like_sops() {
    let f = Fixture::new();
    let enc = f.encrypt("types.json", JSON_DOC.as_bytes(), &[]);
    let plain = f.ours(Format::Json, &enc);
    // 3.11 reads every number as a float64, precision lost like Go.
    assert_eq!(top(&plain, "int"), &Value::Float(42.0));
    assert_eq!(top(&plain, "big"), &Value::Float(12345678901234567890.0));
    assert_eq!(top(&plain, "null"), &Value::Null);
    assert_eq!(top(&plain, "yes"), &Value::Bool(true));
    assert_eq!(top(&plain, "dup").as_str(), Some("first"));
    let dups = plain.tree.branches[0]
        .iter()
        .filter(|i| matches!(i, nix_sops::sops::MapItem::Entry(k, _) if k == "dup"))
        .count();
    assert_eq!(dups, 2, "duplicate keys are kept as separate items");
}

#[test]
fn json_edge_documents_match_sops() {
    let f = Fixture::new();
    for (i, doc) in [
        "{}",
        r#"{"only": ""}"#,
        r#"{"a": {}}"#,
        r#"{"a": [[[[]]]]}"#,
        r#"{"n": [0.1, 0.2, 100, 1e100, -1e-100, 123456789012345680000, 5e-324]}"#,
        "{\"x\":\"\u{7f}\u{80}\u{ffff}\u{10ffff}\"}",
        "\u{feff}{\"bom\": 1}",
    ]
    .iter()
    .enumerate()
    {
        let enc_args: &[&str] = &[];
        // sops fails on some inputs (a BOM); both must then agree it is not JSON.
        let name = format!("edge{i}.json");
        std::fs::write(f.path().join(&name), doc).unwrap();
        let mut args = vec!["encrypt", "--age", f.key.recipient.as_str()];
        args.extend_from_slice(enc_args);
        args.push(&name);
        let out = sops(f.path(), &args, &[]);
        if !out.status.success() {
            assert!(
                stores::json::parse_plain(doc.as_bytes()).is_err(),
                "sops rejects {doc:?}, we accept it"
            );
            continue;
        }
        assert!(stores::json::parse_plain(doc.as_bytes()).is_ok());
        std::fs::write(f.path().join(format!("enc.{name}")), &out.stdout).unwrap();
        let expected = f.sops_decrypt(&name, &[]);
        let ours = f
            .ours(Format::Json, &out.stdout)
            .emit(Format::Json)
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(ours.expose()),
            String::from_utf8_lossy(&expected),
            "{doc}"
        );
    }
}

#[test]
fn json_extract_non_strings_matches_sops() {
    let f = Fixture::new();
    let enc = f.encrypt("ex.json", JSON_DOC.as_bytes(), &[]);
    let plain = f.ours(Format::Json, &enc);
    for key in [
        "int",
        "float",
        "small",
        "large",
        "negzero",
        "big",
        "null",
        "yes",
        "list",
        "empty_list",
        "html",
    ] {
        let expected = f.sops_decrypt("ex.json", &["--extract", &format!("[\"{key}\"]")]);
        let v = top(&plain, key);
        let ours = match v {
            // sops prints an extracted string raw.
            Value::Str(s) => s.expose().as_bytes().to_vec(),
            other => stores::json::emit_value(other).unwrap().expose().to_vec(),
        };
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&expected),
            "--extract {key}"
        );
    }
    // A map is printed as a whole document.
    let expected = f.sops_decrypt("ex.json", &["--extract", "[\"nested\"]"]);
    let Value::Map(m) = top(&plain, "nested") else {
        panic!("nested is a map")
    };
    let ours = stores::json::emit(&nix_sops::sops::Tree {
        branches: vec![m.clone()],
    })
    .unwrap();
    assert_eq!(ours.expose(), &expected[..]);
}

#[test]
fn json_rejects_what_sops_rejects() {
    let f = Fixture::new();
    for (doc, what) in [
        ("[1, 2]", "array"),
        ("\"just a string\"", "string"),
        ("42", "float"),
        ("{\"a\": 1,}", ""),
        ("{\"a\": [1 2]}", ""),
        ("{\"a\": tru}", ""),
        ("{\"a\": \"unterminated}", ""),
        ("{\"a\": 01}", ""),
        ("{\"a\": 1e400}", "range"),
        ("{\"a\": \"bad \\x escape\"}", "escape"),
        ("{\"a\": \"ctl \u{1} char\"}", "control"),
        ("", "empty"),
    ] {
        let name = "bad.json";
        std::fs::write(f.path().join(name), doc).unwrap();
        let out = sops(f.path(), &["encrypt", "--age", &f.key.recipient, name], &[]);
        assert!(!out.status.success(), "sops accepts {doc:?}");
        let err = stores::json::parse_plain(doc.as_bytes())
            .expect_err(doc)
            .to_string();
        assert!(err.contains(what), "{doc:?}: {err}");
        assert!(err.starts_with("cannot parse json"), "{err}");
        // Position, never text from the file.
        for secret in ["just a string", "unterminated", "escape\"", "ctl"] {
            assert!(!err.contains(secret), "{err}");
        }
    }
}

#[test]
fn json_missing_metadata_is_a_clear_error() {
    let f = Fixture::new();
    let doc = r#"{"a": "b"}"#;
    std::fs::write(f.path().join("plain.json"), doc).unwrap();
    let out = sops_decrypt(f.path(), "plain.json", &f.key_file, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("metadata not found"));
    assert!(matches!(
        load(Format::Json, doc.as_bytes()),
        Err(LoadError::NoMetadata)
    ));
    assert!(matches!(
        load(Format::Json, br#"{"a": "b", "sops": null}"#),
        Err(LoadError::NoMetadata)
    ));
    // A valid encrypted file with trailing text is rejected by sops (json.Unmarshal) and by us.
    let mut enc = f.encrypt("t.json", doc.as_bytes(), &[]);
    enc.extend_from_slice(b"\n{}");
    std::fs::write(f.path().join("enc.t.json"), &enc).unwrap();
    let out = sops_decrypt(f.path(), "enc.t.json", &f.key_file, &[]);
    assert!(!out.status.success());
    assert!(load(Format::Json, &enc).is_err());
}

// ---------------------------------------------------------------------------------------------
// Binary

#[test]
fn binary_round_trips_random_and_empty_files() {
    let f = Fixture::new();
    let mut random = vec![0u8; 4096];
    use rand::RngCore;
    rand::thread_rng().fill_bytes(&mut random);
    // Make sure it is not UTF-8 whatever the random bytes are.
    random[0] = 0xff;
    random[1] = 0xfe;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("random.bin", random),
        ("empty.bin", Vec::new()),
        (
            "text.txt",
            "plain text\nwith <html> & \"quotes\"\n".as_bytes().to_vec(),
        ),
        ("nul.bin", vec![0, 0, 0, b'\n', 0x80]),
    ];
    for (name, data) in cases {
        let expected = f.check_whole(Format::Binary, name, &data, &[]);
        assert_eq!(expected, data, "sops gives the file back");
    }
    let enc = f.encrypt("x.bin", b"abc", &[]);
    let plain = f.ours(Format::Binary, &enc);
    assert!(stores::binary::emit_value(top(&plain, "data")).is_err());
}

#[test]
fn binary_plain_tree_is_one_data_value() {
    let t = stores::binary::parse_plain(&[0xff, 0x00]).unwrap();
    assert!(matches!(
        &t.branches[0][..],
        [nix_sops::sops::MapItem::Entry(k, Value::Bytes(b))] if k == "data" && b.expose() == [0xff, 0]
    ));
    let t = stores::binary::parse_plain(b"").unwrap();
    assert_eq!(stores::binary::emit(&t).unwrap().expose(), b"");
}

// ---------------------------------------------------------------------------------------------
// dotenv

const DOTENV_DOC: &str = "# a comment at the top\n\
SIMPLE=value\n\
EMPTY=\n\
SPACES = around = equals \n\
QUOTED=\"double\" 'single'\n\
export EXPORTED=kept verbatim\n\
MULTI=line one\\nline two\\n\n\
UNICODE=héllo ✓ 😀\n\
HTML=<a href=\"x\">&amp;</a>\n\
NUM=42\n\
BOOL=true\n\
\n\
#comment without space\n\
CRLF=windows\r\n\
HASH=value # not a comment\n\
DUP=first\n\
DUP=second\n\
TRAIL=backslash\\\n\
plain_unencrypted=left clear\n\
lower.case-key=x\n";

#[test]
fn dotenv_whole_document_matches_sops() {
    let f = Fixture::new();
    f.check_whole(Format::Dotenv, "doc.env", DOTENV_DOC.as_bytes(), &[]);
    // No trailing newline, only comments, a single empty value.
    f.check_whole(Format::Dotenv, "nonl.env", b"A=1\n#c\nB=2", &[]);
    f.check_whole(Format::Dotenv, "empty.env", b"E=\n", &[]);
}

#[test]
fn dotenv_crypt_rules_match_sops() {
    let f = Fixture::new();
    f.check_whole(
        Format::Dotenv,
        "suffix.env",
        DOTENV_DOC.as_bytes(),
        &["--unencrypted-suffix", "_unencrypted"],
    );
    f.check_whole(
        Format::Dotenv,
        "regex.env",
        DOTENV_DOC.as_bytes(),
        &["--encrypted-regex", "^(MULTI|DUP|HTML)$"],
    );
    f.check_whole(
        Format::Dotenv,
        "unregex.env",
        DOTENV_DOC.as_bytes(),
        &["--unencrypted-regex", "^SIMPLE$"],
    );
}

#[test]
fn dotenv_values_and_extract_match_sops() {
    let f = Fixture::new();
    let enc = f.encrypt("ex.env", DOTENV_DOC.as_bytes(), &[]);
    let plain = f.ours(Format::Dotenv, &enc);
    assert_eq!(top(&plain, "MULTI").as_str(), Some("line one\nline two\n"));
    assert_eq!(
        top(&plain, "NUM").as_str(),
        Some("42"),
        "all values are strings"
    );
    assert_eq!(top(&plain, "SPACES ").as_str(), Some(" around = equals "));
    for key in ["MULTI", "EMPTY", "SPACES ", "CRLF", "NUM"] {
        let expected = f.sops_decrypt("ex.env", &["--extract", &format!("[\"{key}\"]")]);
        let ours = stores::dotenv::emit_value(top(&plain, key)).unwrap();
        assert_eq!(ours.expose(), &expected[..], "--extract {key}");
    }
    assert!(stores::dotenv::emit_value(&Value::Float(1.0)).is_err());
}

#[test]
fn dotenv_rejects_what_sops_rejects() {
    let f = Fixture::new();
    let doc = "A=1\nnot a pair\n";
    std::fs::write(f.path().join("bad.env"), doc).unwrap();
    let out = sops(
        f.path(),
        &["encrypt", "--age", &f.key.recipient, "bad.env"],
        &[],
    );
    assert!(!out.status.success(), "sops accepts a line without =");
    let err = stores::dotenv::parse_plain(doc.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2") && !err.contains("not a pair"),
        "{err}"
    );
    // Plain data without sops_ keys.
    assert!(matches!(
        load(Format::Dotenv, b"A=1\n"),
        Err(LoadError::NoMetadata)
    ));
}

// ---------------------------------------------------------------------------------------------
// INI

const INI_DOC: &str = r#"; comment before the first key (DEFAULT)
toplevel = a
empty =
spaced = "  padded  "
colon_delim: value with: colon
[sec one]
# comment under the header
key=value ; inline comment
semi = "a;b"
hash = x#y
quoted = 'single'
dq = "double"
inner = a "b" c
bt = `back;tick` ; dropped
multi = """line1
line2""" ; after multi
long_key_name = x
"q=k" = z
cont = abc \
  def
dup = 1
; comment of the second dup
dup = 2
; comment for last
; two lines
last = v
unicode = héllo ✓ 😀
html = <a href="x">&amp;</a>
escapes = tab\there\nno newline
plain_unencrypted = left clear
   indented = yes
[sec one]
again = yes
; section comment above a header
[third] ; inline header comment
k = v
[DEFAULT]
d = 1
[empty]
"#;

#[test]
fn ini_whole_document_matches_sops() {
    let f = Fixture::new();
    f.check_whole(Format::Ini, "doc.ini", INI_DOC.as_bytes(), &[]);
    f.check_whole(Format::Ini, "small.ini", b"[s]\nk = v", &[]);
    f.check_whole(Format::Ini, "default.ini", b"a = 1\nb = 2\n", &[]);
    f.check_whole(
        Format::Ini,
        "crlf.ini",
        b"; c\r\n[s]\r\nk = v\r\n; x\r\nq = \"w\"\r\n",
        &[],
    );
}

#[test]
fn ini_crypt_rules_match_sops() {
    let f = Fixture::new();
    f.check_whole(
        Format::Ini,
        "suffix.ini",
        INI_DOC.as_bytes(),
        &["--unencrypted-suffix", "_unencrypted"],
    );
    f.check_whole(
        Format::Ini,
        "regex.ini",
        INI_DOC.as_bytes(),
        &["--encrypted-regex", "^(dup|multi|third)$"],
    );
    f.check_whole(
        Format::Ini,
        "unregex.ini",
        INI_DOC.as_bytes(),
        &["--unencrypted-regex", "^(sec one|key)$"],
    );
}

#[test]
fn ini_values_match_sops_extract() {
    let f = Fixture::new();
    let enc = f.encrypt("ex.ini", INI_DOC.as_bytes(), &[]);
    let plain = f.ours(Format::Ini, &enc);
    let section = |name: &str| match top(&plain, name) {
        Value::Map(m) => m.clone(),
        other => panic!("section {name} is a {}", other.kind()),
    };
    let default = section("DEFAULT");
    let sec = section("sec one");
    for (path, m, key) in [
        ("[\"DEFAULT\"][\"toplevel\"]", &default, "toplevel"),
        ("[\"DEFAULT\"][\"spaced\"]", &default, "spaced"),
        ("[\"DEFAULT\"][\"empty\"]", &default, "empty"),
        ("[\"DEFAULT\"][\"colon_delim\"]", &default, "colon_delim"),
        ("[\"sec one\"][\"semi\"]", &sec, "semi"),
        ("[\"sec one\"][\"multi\"]", &sec, "multi"),
        ("[\"sec one\"][\"cont\"]", &sec, "cont"),
        ("[\"sec one\"][\"dup\"]", &sec, "dup"),
        ("[\"sec one\"][\"escapes\"]", &sec, "escapes"),
        ("[\"sec one\"][\"inner\"]", &sec, "inner"),
    ] {
        let expected = f.sops_decrypt("ex.ini", &["--extract", path]);
        let v = nix_sops::sops::tree::map_get(m, key).expect(key);
        assert_eq!(
            v.as_str().map(str::as_bytes),
            Some(&expected[..]),
            "--extract {path}"
        );
    }
    assert_eq!(
        nix_sops::sops::tree::map_get(&sec, "escapes").and_then(Value::as_str),
        Some("tab\\there\\nno newline"),
        "\\n is not decoded in INI data"
    );
}

#[test]
fn ini_rejects_what_sops_rejects() {
    let f = Fixture::new();
    for doc in [
        "[s]\nSECRETA here\n",
        "[SECRETB\nk = v\n",
        "[s]\n= SECRETC\n",
        "[]\nk = v\n",
        "k = \"\"\"SECRETD\nmore\n",
    ] {
        std::fs::write(f.path().join("bad.ini"), doc).unwrap();
        let out = sops(
            f.path(),
            &["encrypt", "--age", &f.key.recipient, "bad.ini"],
            &[],
        );
        assert!(!out.status.success(), "sops accepts {doc:?}");
        let err = stores::ini::parse_plain(doc.as_bytes())
            .expect_err(doc)
            .to_string();
        assert!(err.starts_with("cannot parse ini: line "), "{err}");
        assert!(!err.contains("SECRET"), "{err}");
    }
    assert!(matches!(
        load(Format::Ini, b"[s]\nk = v\n"),
        Err(LoadError::NoMetadata)
    ));
}
