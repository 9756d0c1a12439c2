//! The YAML store against the real sops 3.11: files encrypted by sops are decrypted by our
//! library (MAC checked, so typing must match go-yaml v3 exactly), and our output is compared
//! with `sops decrypt`.

use crate::common;

use common::{sops, sops_decrypt, sops_encrypt, sops_try_encrypt, AgeKey};
use nix_sops::keys::{parse_identity_file, Keyring};
use nix_sops::sops::{load, DecryptOptions, Format, ListItem, LoadError, MapItem, Tree, Value};
use std::path::Path;

struct Env {
    dir: tempfile::TempDir,
    key: AgeKey,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            key: AgeKey::generate(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Encrypts `plain` with the real sops (extra args before the file name).
    fn encrypt(&self, name: &str, plain: &str, args: &[&str]) -> Vec<u8> {
        let mut a = vec!["--age", self.key.recipient.as_str()];
        a.extend_from_slice(args);
        sops_encrypt(self.path(), name, plain.as_bytes(), &a)
    }

    /// What the real sops does with `plain` (saved as `name`) and this key: it may refuse it.
    fn try_encrypt(&self, name: &str, plain: &str) -> std::process::Output {
        sops_try_encrypt(
            self.path(),
            name,
            plain.as_bytes(),
            &["--age", &self.key.recipient],
        )
    }

    /// Our decryption of `enc`, emitted as YAML.
    fn ours(&self, enc: &[u8]) -> String {
        let out = self.decrypted(enc).emit(Format::Yaml).expect("emit");
        String::from_utf8(out.expose().to_vec()).unwrap()
    }

    /// Our decrypted tree of `enc`.
    fn decrypted(&self, enc: &[u8]) -> nix_sops::sops::PlainTree {
        let file = load(Format::Yaml, enc).expect("our parser loads the sops file");
        let mut ring = Keyring::new();
        ring.age = parse_identity_file("test key", &self.key.file_text).unwrap();
        let key = ring.unwrap_data_key(&file.metadata).expect("data key");
        file.decrypt(&key, DecryptOptions::default())
            .expect("our decrypt (MAC check included)")
    }

    /// The real sops' `decrypt` of `enc`.
    fn theirs(&self, enc: &[u8]) -> String {
        std::fs::write(self.path().join("enc.yaml"), enc).unwrap();
        let kf = self.key.write(self.path(), "keys.txt");
        let out = sops_decrypt(self.path(), "enc.yaml", &kf, &[]);
        assert!(
            out.status.success(),
            "sops decrypt failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Encrypts with sops, decrypts with both, and requires byte-equal output.
    fn roundtrip(&self, plain: &str, args: &[&str]) -> String {
        self.roundtrip_with(plain, args, true)
    }

    /// `compare_plain_tree`: also require `parse_plain(plain)` to equal the decrypted tree. Not
    /// for clear values whose text sops rewrites (a clear `1.0` is written back as `1`, an int).
    fn roundtrip_with(&self, plain: &str, args: &[&str], compare_plain_tree: bool) -> String {
        let enc = self.encrypt("in.yaml", plain, args);
        let theirs = self.theirs(&enc);
        let ours = self.ours(&enc);
        assert_same_text(&ours, &theirs);
        // Our reading of the plaintext places comments and types values as sops did (NaN is
        // written as `.nan` so that trees with NaN compare equal).
        let tree =
            nix_sops::sops::parse_plain(Format::Yaml, plain.as_bytes()).expect("parse_plain");
        if !compare_plain_tree {
            return ours;
        }
        assert_eq!(
            nan_free(tree),
            nan_free(self.decrypted(&enc).tree),
            "parse_plain of the input differs from the tree sops encrypted"
        );
        ours
    }
}

/// Equal texts, or a panic showing the differing lines (test data only, never real secrets).
fn assert_same_text(ours: &str, theirs: &str) {
    if ours == theirs {
        return;
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.split('\n').collect(), theirs.split('\n').collect());
    let mut diffs = Vec::new();
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i), b.get(i));
        if x != y {
            diffs.push(format!("line {}:\n  ours:   {x:?}\n  theirs: {y:?}", i + 1));
        }
        if diffs.len() == 5 {
            break;
        }
    }
    panic!(
        "our decrypted output differs from sops decrypt:\n{}",
        diffs.join("\n")
    );
}

/// Replaces NaN floats (never equal to themselves) by a marker string.
fn nan_free(tree: Tree) -> Tree {
    fn v(x: Value) -> Value {
        match x {
            Value::Float(f) if f.is_nan() => Value::str("<NaN>"),
            Value::Map(m) => Value::Map(m.into_iter().map(mi).collect()),
            Value::List(l) => Value::List(
                l.into_iter()
                    .map(|i| match i {
                        ListItem::Value(x) => ListItem::Value(v(x)),
                        c => c,
                    })
                    .collect(),
            ),
            x => x,
        }
    }
    fn mi(i: MapItem) -> MapItem {
        match i {
            MapItem::Entry(k, x) => MapItem::Entry(k, v(x)),
            c => c,
        }
    }
    Tree {
        branches: tree
            .branches
            .into_iter()
            .map(|b| b.into_iter().map(mi).collect())
            .collect(),
    }
}

#[test]
fn simple_map_and_mac() {
    let env = Env::new();
    env.roundtrip("a: hello\nb: 42\nc:\n    d: true\n    e: null\n", &[]);
}

#[test]
fn ints_in_every_notation() {
    let env = Env::new();
    let out = env.roundtrip(
        "a: 1_000\nb: 0777\nc: 0o17\nd: 0b101\ne: 0x1F\nf: +1\ng: -12\nh: 9223372036854775807\n\
         i: -9223372036854775808\nj: 18446744073709551616\nk: 09\n",
        &[],
    );
    assert!(
        out.contains("a: 1000\n") && out.contains("b: 511\n"),
        "{out}"
    );
}

#[test]
fn floats_and_specials() {
    let env = Env::new();
    env.roundtrip(
        "a: .inf\nb: -.Inf\nc: .nan\nd: 1.0\ne: 1e6\nf: 1.5e-7\ng: 123456789.0\nh: -0.0\n\
         i: +.INF\nj: .5\nk: 1.\nl: 1e400\n",
        &[],
    );
}

#[test]
fn unencrypted_values_are_typed_for_the_mac() {
    let env = Env::new();
    // Everything clear: the MAC covers all of them by their go-yaml type.
    env.roundtrip_with(
        "a: 1_000\nb: 0777\nc: 0o17\nd: 0b101\ne: 0x1F\nf: +1\ng: .inf\nh: -.Inf\ni: .nan\n\
         j: 1.0\nk: 1e6\nl: 1.5e-7\nm: 2001-12-14t21:59:43.10-05:00\nn: 2002-12-14\n\
         o: 2001-12-14 21:59:43.10\np: 2001-12-14T21:59:43Z\nq: yes\nr: no\ns: on\nt: True\n\
         u: ~\nv: null\nw:\nx: !!str 123\ny: !!binary aGVsbG8=\nz: \"123\"\n",
        &["--unencrypted-regex", "."],
        false,
    );
}

#[test]
fn timestamps_strings_and_tags() {
    let env = Env::new();
    env.roundtrip(
        "t1: 2001-12-14t21:59:43.10-05:00\nt2: 2002-12-14\nt3: 2001-12-14 21:59:43.10\n\
         t4: 2001-12-14T21:59:43.123456789+01:00\nt5: !!timestamp 2001-12-14\n\
         t6: 2001-12-14T21:59:43+00:00\n\
         b1: yes\nb2: no\nb3: on\nb4: off\nb5: y\nn1: ~\nn2: null\nn3:\ns1: !!str 123\n\
         s2: !!binary aGVsbG8=\ns3: \"123\"\ns4: '0x1F'\ni1: !!int \"42\"\nf1: !!float 3\n\
         u: héllo ✓ 日本\ne: 😀 emoji\n",
        &[],
    );
}

#[test]
fn string_quoting_like_yaml_v3() {
    let env = Env::new();
    env.roundtrip(
        r##"s1: "yes"
s2: "a: b # c"
s3: "  lead"
s4: "trail "
s5: "multi\nline\n"
s6: "multi\nline"
s7: "keep\n\n"
s8: "tab\there"
s9: ""
s10: "1.5"
s11: "- x"
s12: "null"
s13: "12:30"
s14: "it's"
s16: "ctl\u0001"
s17: " lead\nline"
s18: "#c"
s19: "~"
s20: "0777"
s21: "a\n  indented\n"
s22: "trailsp \nx"
s23: "a 'quoted' \"word\""
s24: "x: "
s25: "@at"
s26: "%pct"
s27: "-"
s28: "a #b"
s29: "a#b"
s30: "1:2:3"
s31: "Y"
s32: "\n"
s33: "back\\slash"
s34: "--- doc"
s35: "{x}"
"key with: colon": 1
"y": 2
"123": 3
"true": 4
"": empty
"#": hash
"##,
        &[],
    );
}

#[test]
fn block_scalars() {
    let env = Env::new();
    env.roundtrip(
        "lit: |\n    line one\n    line two\nfold: >\n    folded\n    text\n\nkeep: |+\n    kept\n\n\
         strip: |-\n    stripped\nnested:\n    deeper: |\n        x\n          y\nlist:\n    - |\n        in list\n",
        &[],
    );
}

#[test]
fn nested_containers() {
    let env = Env::new();
    env.roundtrip(
        "a:\n  b:\n    c: [1, 2, {d: e}]\n  f:\n  - g: 1\n    h:\n    - i\n    - j: k\n  - - x\n    - y\n  - []\n  - {}\nempty_map: {}\nempty_list: []\n\
         lists_of_maps:\n  - name: a\n    value: 1\n  - name: b\n    value: 2\n",
        &[],
    );
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let env = Env::new();
    env.roundtrip(
        "base: &b\n    x: 1\n    y: [a, b]\nscalar: &s hello\nm:\n    <<: *b\n    z: 2\nc: *s\nl:\n  - *b\n  - *s\n",
        &[],
    );
}

#[test]
fn multiple_documents_share_one_mac() {
    let env = Env::new();
    env.roundtrip("a: 1\nb: two\n---\nc: 3\n---\nd:\n    e: [1]\n", &[]);
}

#[test]
fn empty_document() {
    let env = Env::new();
    let enc = env.encrypt("in.yaml", "{}\n", &[]);
    assert!(String::from_utf8_lossy(&enc).starts_with("sops:"));
    let tree = load(Format::Yaml, &enc).unwrap().tree;
    assert_eq!(tree.branches, vec![vec![]]);
    assert_eq!(env.ours(&enc), env.theirs(&enc));
}

#[test]
fn empty_document_among_others() {
    let env = Env::new();
    env.roundtrip("a: 1\n---\n---\nb: 2\n", &[]);
}

#[test]
fn comments_everywhere_encrypted() {
    let env = Env::new();
    env.roundtrip(COMMENTED, &[]);
}

#[test]
fn comments_everywhere_unencrypted() {
    let env = Env::new();
    env.roundtrip(COMMENTED, &["--encrypted-regex", "^nothing$"]);
}

const COMMENTED: &str = "# top comment

# second top
a: 1 # inline a
# before b
b:
    # inside b head
    c: 2 # inline c
    d: 3
    # foot of d in b
# before e, after b
e: # inline e key
    - 1 # inline item
    # before item 2
    - x: 1
      # inside list map
      y: 2
    # list foot
f: [1, 2] # flow inline
h:
    # only comment in map
i: |
    literal
    text
j:
    k:
        l: 1
    # at col 4 after l
m:
    - 1
    # foot scalar item
n:
- 1
# indentless col 0
o: 1
# end comment
";

#[test]
fn crypt_rules() {
    let env = Env::new();
    let doc = "name: x\npassword: secret\nport_unencrypted: 8080\nnested:\n    token: t\n    id_unencrypted: 7\n    when: 2020-01-02\n# c\nlist:\n    - 1\n    - 2.5\n";
    env.roundtrip(doc, &[]);
    env.roundtrip(doc, &["--unencrypted-suffix", "_unencrypted"]);
    env.roundtrip(doc, &["--encrypted-suffix", "word"]);
    env.roundtrip(doc, &["--encrypted-regex", "^(password|token)$"]);
    env.roundtrip(doc, &["--unencrypted-regex", "^(name|port.*)$"]);
}

/// Encrypts `plain` with a `.sops.yaml` whose one creation rule is this key plus `rule` (more
/// lines of options); decrypts with both and requires equal output.
fn with_rule(rule: &str, plain: &str) {
    let env = Env::new();
    let config = format!(
        "creation_rules:\n  - age: {}\n    {rule}\n",
        env.key.recipient
    );
    std::fs::write(env.path().join(".sops.yaml"), config).unwrap();
    let enc = sops_encrypt(env.path(), "in.yaml", plain.as_bytes(), &[]);
    let theirs = env.theirs(&enc);
    assert_eq!(env.ours(&enc), theirs);
}

#[test]
fn mac_only_encrypted_mix() {
    with_rule(
        "encrypted_regex: '^secret'\n    mac_only_encrypted: true",
        "secret: s\nsecret_n: 12\nclear: 1_000\nwhen: 2001-12-14\nf: 1.0\n# comment\nlist: [a, yes]\n",
    );
}

#[test]
fn encrypted_comment_regex() {
    with_rule(
        "encrypted_comment_regex: 'sops:enc'",
        "clear: 1\n# sops:enc\nsecret: s\n# sops:enc\n# second comment\nnested:\n    a: 1\n    b: [1, 2]\nafter: x\n",
    );
}

#[test]
fn unencrypted_comment_regex() {
    with_rule(
        "unencrypted_comment_regex: 'sops:clear'",
        "secret: 1\n# sops:clear\nclear: s\nnested:\n    # sops:clear\n    a: 1\n    b: 2\nlist:\n    # sops:clear\n    - x\n    - y\n",
    );
}

#[test]
fn extract_values_like_sops() {
    let env = Env::new();
    let enc = env.encrypt(
        "in.yaml",
        "n: 42\nf: 1.5\nb: true\nm:\n    # c\n    x: 1\n    y: [a, b]\nl:\n    # head\n    - 1\n    - a: b\n      # in\n      c: |\n        text\n    # foot\nt: 2001-12-14\nz: ~\nem: {}\nel: []\nfl: 1e100\nll:\n    - - x\n",
        &[],
    );
    let file = load(Format::Yaml, &enc).unwrap();
    let mut ring = Keyring::new();
    ring.age = parse_identity_file("test key", &env.key.file_text).unwrap();
    let key = ring.unwrap_data_key(&file.metadata).unwrap();
    let plain = file.decrypt(&key, DecryptOptions::default()).unwrap();
    std::fs::write(env.path().join("enc.yaml"), &enc).unwrap();
    let kf = env.key.write(env.path(), "keys.txt");
    for k in ["n", "f", "b", "m", "l", "t", "z", "em", "el", "fl", "ll"] {
        let out = sops_decrypt(
            env.path(),
            "enc.yaml",
            &kf,
            &["--extract", &format!("[\"{k}\"]")],
        );
        assert!(out.status.success());
        let v = nix_sops::sops::map_get(&plain.tree.branches[0], k).unwrap();
        let ours = nix_sops::sops::emit_value(Format::Yaml, v).unwrap();
        assert_eq!(
            String::from_utf8_lossy(ours.expose()),
            String::from_utf8_lossy(&out.stdout),
            "--extract [\"{k}\"]"
        );
    }
}

/// `parse_plain` of our output equals `parse_plain` of the input (comments and order kept).
#[test]
fn plain_roundtrip_through_our_emitter() {
    let t1 = nix_sops::sops::parse_plain(Format::Yaml, COMMENTED.as_bytes()).unwrap();
    let out = nix_sops::sops::emit(Format::Yaml, &t1).unwrap();
    let t2 = nix_sops::sops::parse_plain(Format::Yaml, out.expose()).unwrap();
    assert_eq!(t1, t2);
}

fn err_text(bytes: &[u8]) -> String {
    match load(Format::Yaml, bytes) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn negative_top_level_list() {
    let e = err_text(b"- a\n- b\n");
    assert!(e.contains("list"), "{e}");
    assert!(matches!(
        nix_sops::sops::parse_plain(Format::Yaml, b"- a\n"),
        Err(LoadError::Structure(_))
    ));
    assert!(matches!(
        nix_sops::sops::parse_plain(Format::Yaml, b"just a scalar\n"),
        Err(LoadError::Structure(_))
    ));
}

#[test]
fn negative_int_key() {
    let e = err_text(b"1: secretvalue\nsops: {}\n");
    assert!(
        e.contains("line 1") && e.contains("int") && !e.contains("secretvalue"),
        "{e}"
    );
    let e = err_text(b"true: x\nsops: {}\n");
    assert!(e.contains("bool"), "{e}");
}

#[test]
fn negative_missing_sops_block() {
    assert!(matches!(
        load(Format::Yaml, b"a: 1\n"),
        Err(LoadError::NoMetadata)
    ));
    assert!(matches!(
        load(Format::Yaml, b""),
        Err(LoadError::NoMetadata)
    ));
}

#[test]
fn negative_syntax_error() {
    let e = err_text(b"a: 1\nb: [secretvalue\n");
    assert!(e.contains("line") && !e.contains("secretvalue"), "{e}");
    let e = err_text(b"a: \"unterminated secretvalue\n");
    assert!(!e.contains("secretvalue"), "{e}");
}

#[test]
fn negative_uint64_value_matches_sops() {
    // sops itself refuses such a value (encrypting: "unknown type: uint64"; decrypting a file
    // holding one unencrypted: the same error). We refuse it when loading.
    let env = Env::new();
    let enc = env.encrypt("in.yaml", "a: 1\nbig_unencrypted: x\n", &[]);
    let text = String::from_utf8(enc).unwrap().replace(
        "big_unencrypted: x",
        "big_unencrypted: 10000000000000000000",
    );
    std::fs::write(env.path().join("enc.yaml"), &text).unwrap();
    let kf = env.key.write(env.path(), "keys.txt");
    let out = sops_decrypt(env.path(), "enc.yaml", &kf, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("uint64"));
    let e = err_text(text.as_bytes());
    assert!(e.contains("uint64") && e.contains("line 2"), "{e}");
    let _ = sops; // keep the helper import used in every configuration
}

/// Comment layouts beyond the main fixture; each is checked byte for byte and as a tree.
#[test]
fn comment_layouts() {
    let env = Env::new();
    let cases: &[&str] = &[
        "a: 1\n# c1\n\n# c2\nb: 2\n",
        "a:\n    b: 1\n# c1\n\nc: 2\n",
        "a:\n    b: 1\n    # c1\n\n# c2\nc: 2\n",
        "a:\n  b: 1\n    # deeper\n  c: 2\n",
        "a:\n  b: 1\n# low\n  c: 2\n",
        "l:\n- # after dash\n  x: 1\n- 2\n",
        "l:\n  # head of map item\n  - x: 1\n    # between\n    y: 2\n",
        "l:\n  - x: 1\n    y: 2\n  # after map item\n  - 3\n",
        "l:\n  - - 1\n    # inner\n    - 2\n  # outer\n  - 3\n",
        "a: [1, 2] # c\nb: {x: 1} # d\n",
        "a: | # c\n    text\nb: 1\n",
        "a: &x 1 # c\nb: *x # d\n",
        "# only comments\n{}\n",
        "a: 1 # c1\n# c2\n",
        "a:\n    b:\n        c: 1 # inline deep\n        # foot deep\n    # foot mid\n# foot top\n",
        "---\n# head of doc 1\na: 1\n# foot of doc 1\n---\n# head of doc 2\nb: 2\n",
        "a: 1\n#no space\n#  two spaces\nb: 2 #tight\n",
        "'quoted # key': 1 # real\nb: \"v # not\" # real\n",
        "l:\n  - a # c1\n  - b # c2\n# top\n",
    ];
    for (i, case) in cases.iter().enumerate() {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            env.roundtrip(case, &[]);
        }));
        assert!(result.is_ok(), "comment layout case {i} failed:\n{case}");
    }
}

/// Comments around lists, flow collections, block scalars and documents.
#[test]
fn comment_layouts_lists_and_flows() {
    let env = Env::new();
    let cases: &[&str] = &[
        "l:\n    # leading\n    - a: 1\n      b: 2\n    - c\n",
        "l:\n    - a: 1\n      # mid\n      b: 2\n    - c: 3\n      # foot of last map\n",
        "l:\n    - [1, 2] # flow in list\n    - x\n",
        "a: [] # empty list inline\nb: 1\n",
        "a: [\n    1, # one\n    2\n]\n",
        "a:\n    b: | # block header\n        text\n    c: 1\n",
        "a: >-\n    folded\n    more\n# after folded\nb: 1\n",
        "--- # on marker\na: 1\n",
        "a: 1\n---\n# only a comment doc\n---\nb: 2\n",
        "l:\n- a\n# between indentless\n- b\nz: 1\n",
        "a:\n\n    # after blank\n    b: 1\n",
        "a:\n    - b:\n        - c # deep\n        # deep foot\n    # seq foot\n# top foot\n",
        "k: v\n    # indented more than everything\n",
        "? complex\n: value # c\n",
        "l:\n    -\n      # inside item map\n      x: 1\n      y: 2\n",
        "l:\n    - a\n    # last\n",
        "m:\n    # only comments\n    # in this map\nn: 1\n",
        "m: [] # after empty list\n",
        "a: 1\n\n\n# spaced\n\n\nb: 2\n",
        "a: &anc\n    # inside anchor\n    x: 1\nb: *anc\n",
        "a: !!str # after tag\n    x\n",
        "%YAML 1.1\n---\na: 1\n...\n",
        "--- !!map\na: 1\n",
        "a: 1\n...\n---\nb: 2\n",
        "? a\n: 1\n",
        "l: [\n    a, # after a\n    # own line\n    b\n]\n",
        "m: {\n    a: 1, # after a\n    b: 2\n}\n",
        "a: !!str | # block header\n    text # not a comment\nb: &q !!str 'x # no' # yes\n",
    ];
    let mut failed = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            env.roundtrip(case, &[]);
        }));
        if result.is_err() {
            failed.push(i);
        }
    }
    assert!(failed.is_empty(), "comment layout cases {failed:?} failed");
}

/// `a: {} # c`: sops stores the comment inside the empty map and writes `a: {` comment `}`,
/// which go-yaml (and so sops) then reads back without the comment; we match both steps.
#[test]
fn comment_inside_nested_empty_flow_list() {
    // sops keeps no trace of these comments in its output; neither do we.
    let env = Env::new();
    for doc in [
        "l:\n    - [\n        # inside empty list item\n      ]\n    - x\n",
        "m:\n    n: [\n        # inside empty list value\n    ]\n",
    ] {
        env.roundtrip_with(doc, &[], false);
    }
}

#[test]
fn comment_on_empty_flow_map() {
    let env = Env::new();
    let plain = "a: {} # empty map inline\nb: 1\n";
    let tree = nix_sops::sops::parse_plain(Format::Yaml, plain.as_bytes()).unwrap();
    assert!(matches!(
        &tree.branches[0][0],
        MapItem::Entry(k, Value::Map(m)) if k == "a" && matches!(m.as_slice(), [MapItem::Comment(_)])
    ));
    let enc = env.encrypt("in.yaml", plain, &[]);
    assert!(String::from_utf8_lossy(&enc).starts_with("a: {\n    #ENC["));
    assert_eq!(env.ours(&enc), env.theirs(&enc));
}

#[test]
fn negative_duplicate_keys_like_sops() {
    // sops refuses to encrypt a repeated key at any level…
    let env = Env::new();
    let out = env.try_encrypt("dup.yaml", "a:\n  x: 1\n  x: 2\n");
    assert!(!out.status.success());
    let e = nix_sops::sops::parse_plain(Format::Yaml, b"a:\n  x: 1\n  x: 2\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 3") && e.contains("line 2"), "{e}");
    // …and to load an encrypted file with a repeated top-level key, but not a nested one.
    let e = err_text(b"a: 1\na: 2\nsops: {}\n");
    assert!(e.contains("already defined"), "{e}");
    // (It parses: what stops it is the metadata, which lists no keys.)
    assert!(matches!(
        load(
            Format::Yaml,
            b"a:\n  x: 1\n  x: 2\nsops:\n  version: 3.11.0\n"
        ),
        Err(LoadError::Metadata(_))
    ));
    // Later documents are not checked by sops.
    assert!(nix_sops::sops::parse_plain(Format::Yaml, b"a: 1\n---\nb: 1\nb: 2\n").is_ok());
}

#[test]
fn crlf_line_endings() {
    let env = Env::new();
    env.roundtrip(
        "# c\r\na: 1 # x\r\nb:\r\n    c: \"q\"\r\n    d: |\r\n        t\r\n",
        &[],
    );
}

#[test]
fn non_utf8_binary_value() {
    // `!!binary` holding bytes that are not UTF-8: sops encrypts them as `str` and prints them
    // back as `!!binary`.
    let env = Env::new();
    env.roundtrip(
        "a: !!binary /wD+\nb: !!binary aGVsbG8=\nlong: !!binary /wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+/wD+\nl:\n    - !!binary /wD+\n",
        &[],
    );
}

/// Strings that stress go-yaml's quoting, as values, keys and list items.
#[test]
fn string_styles_everywhere() {
    let strings: &[&str] = &[
        "plain", "with space", " lead", "trail ", "a: b", "a:b", "a #b", "a#b", "#x", "- x", "-x",
        "-", "?", "? x", ":x", ": x", "[x", "x]", "{x", "x}", ",x", "x,y", "&a", "*a", "!t", "|x",
        ">x", "'x", "\"x", "%x", "@x", "`x", "x'y", "x\"y", "x\\y", "tab\tin", "\ttab",
        "nl\nin", "\nlead nl", "trail nl\n", "two\n\n", "sp \nbreak", "break\n sp", "\u{1}",
        "\u{7f}", "\u{85}", "\u{a0}", "\u{feff}x", "\u{2028}", "é", "日本語", "😀", "a😀b",
        "yes", "No", "ON", "off", "y", "n", "true", "False", "null", "~", "NULL", "1", "-1",
        "+1", "0x1F", "0o7", "0b1", "1_0", "1.5", ".5", "1e3", ".inf", "-.Inf", ".NaN", "1:20",
        "1:20:30.5", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "<<", "=", "---", "...",
        "--- x", "... x", "x ---", "0777", "09", "1e400", "0x", "0.", "+", "+.", "e1",
        "a very long string that goes on and on beyond eighty characters without any line wrapping at all, really",
        "long words: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbb",
        "multi\nline with a very long line that goes on and on beyond eighty characters without wrapping\nend",
        "- single quoted because of the dash, and long enough to pass the eighty column mark for sure",
        "\tdouble quoted because of the tab, and long enough to pass the eighty column mark for sure",
    ];
    // YAML double-quoted, everything outside printable ASCII escaped.
    let q = |s: &str| {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                ' '..='~' => out.push(c),
                c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04X}", c as u32)),
                c => out.push_str(&format!("\\U{:08X}", c as u32)),
            }
        }
        out.push('"');
        out
    };
    let mut doc = String::from("values:\n");
    for (i, s) in strings.iter().enumerate() {
        doc.push_str(&format!("    v{i}: {}\n", q(s)));
    }
    doc.push_str("keys:\n");
    for s in strings {
        doc.push_str(&format!("    {}: k\n", q(s)));
    }
    doc.push_str("items:\n");
    for s in strings {
        doc.push_str(&format!("    - {}\n", q(s)));
    }
    doc.push_str("nested_items:\n");
    for s in strings {
        doc.push_str(&format!("    - - {}\n      - x: {}\n", q(s), q(s)));
    }
    let env = Env::new();
    env.roundtrip(&doc, &[]);
}

#[test]
fn negative_deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("a: {}1{}\nsops: {{}}\n", "[".repeat(5000), "]".repeat(5000));
    let e = err_text(deep.as_bytes());
    assert!(e.contains("recursion limit exceeded"), "{e}");
    // Block nesting, one space per level.
    let mut block = String::new();
    for i in 0..3000 {
        block.push_str(&format!("{}k:\n", " ".repeat(i)));
    }
    let e = nix_sops::sops::parse_plain(Format::Yaml, block.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(e.contains("exceeded max depth of 256 at line 257"), "{e}");
    // 200 levels are fine, and survive our emitter.
    let mut ok = String::new();
    for i in 0..200 {
        ok.push_str(&format!("{}k:\n", " ".repeat(i)));
    }
    let t = nix_sops::sops::parse_plain(Format::Yaml, ok.as_bytes()).unwrap();
    let out = nix_sops::sops::emit(Format::Yaml, &t).unwrap();
    assert_eq!(
        nix_sops::sops::parse_plain(Format::Yaml, out.expose()).unwrap(),
        t
    );
}

#[test]
fn negative_what_go_yaml_refuses() {
    // sops (go-yaml) refuses both; so do we, with a position.
    let env = Env::new();
    for (doc, needle) in [
        ("%YAML 1.2\n---\na: 1\n", "YAML 1.2"),
        ("? [b]\n: 2\n", "list"),
    ] {
        let out = env.try_encrypt("bad.yaml", doc);
        assert!(!out.status.success(), "sops accepted {doc:?}");
        let e = nix_sops::sops::parse_plain(Format::Yaml, doc.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle) && e.contains("line 1"), "{e}");
    }
}

#[test]
fn negative_bracket_indentation_that_cannot_be_fixed() {
    // A genuinely broken flow collection is reported, not retried forever.
    let e = nix_sops::sops::parse_plain(Format::Yaml, b"a:\n  b: [1,\n]\n  c: 2\n]\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line"), "{e}");
}

/// A deterministic generator of odd-but-valid comment layouts (nested maps, indentless and
/// indented lists, comments at random columns, inline comments).
struct Layouts(u64);

impl Layouts {
    fn next(&mut self, n: u64) -> u64 {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next(100) < percent
    }
    fn comment(&mut self, ind: usize, shifts: &[i64], out: &mut Vec<String>) {
        let s = shifts[self.next(shifts.len() as u64) as usize];
        let col = (ind as i64 + s).max(0) as usize;
        let id = self.next(1000);
        out.push(format!("{}# c{id}", " ".repeat(col)));
    }
    fn inline(&mut self) -> String {
        if self.chance(30) {
            format!(" # i{}", self.next(100))
        } else {
            String::new()
        }
    }
    fn map(&mut self, ind: usize, depth: usize, out: &mut Vec<String>) {
        for _ in 0..1 + self.next(3) {
            if self.chance(30) {
                self.comment(ind, &[-4, -2, 0, 0, 0, 2, 4], out);
            }
            let k = format!("k{}", self.next(100000));
            let inline = self.inline();
            let r = self.next(100);
            if depth < 3 && r < 35 {
                out.push(format!("{}{k}:{inline}", " ".repeat(ind)));
                let step = [2, 4][self.next(2) as usize];
                self.map(ind + step, depth + 1, out);
            } else if depth < 3 && r < 60 {
                out.push(format!("{}{k}:{inline}", " ".repeat(ind)));
                let step = [0, 2, 4][self.next(3) as usize];
                self.seq(ind + step, depth + 1, out);
            } else {
                let v = self.next(100);
                out.push(format!("{}{k}: v{v}{inline}", " ".repeat(ind)));
            }
        }
        if self.chance(40) {
            self.comment(ind, &[-4, -2, 0, 0, 2, 4], out);
        }
    }
    fn seq(&mut self, ind: usize, depth: usize, out: &mut Vec<String>) {
        for _ in 0..1 + self.next(3) {
            if self.chance(30) {
                self.comment(ind, &[-2, 0, 0, 2], out);
            }
            let inline = self.inline();
            if depth < 3 && self.chance(30) {
                let mut sub = Vec::new();
                self.map(ind + 2, depth + 1, &mut sub);
                if sub[0].trim_start().starts_with('#') {
                    out.push(format!("{}-{inline}", " ".repeat(ind)));
                    out.extend(sub);
                } else {
                    out.push(format!("{}- {}", " ".repeat(ind), sub[0].trim_start()));
                    out.extend(sub.into_iter().skip(1));
                }
            } else {
                let v = self.next(100);
                out.push(format!("{}- s{v}{inline}", " ".repeat(ind)));
            }
        }
        if self.chance(40) {
            self.comment(ind, &[-2, 0, 2, 4], out);
        }
    }
}

/// Files sops encrypted from generated layouts: our decryption prints exactly what sops prints
/// (comment positions decide AADs, so a misplaced encrypted comment fails to decrypt).
#[test]
fn generated_comment_layouts_decrypt_like_sops() {
    let env = Env::new();
    let mut gen = Layouts(0x9E37_79B9_7F4A_7C15);
    let mut tried = 0;
    for _ in 0..40 {
        let mut lines = Vec::new();
        gen.map(0, 0, &mut lines);
        let plain = lines.join("\n") + "\n";
        let out = env.try_encrypt("in.yaml", &plain);
        if !out.status.success() {
            // The generator can write YAML that go-yaml rejects; nothing to compare.
            continue;
        }
        tried += 1;
        let theirs = env.theirs(&out.stdout);
        let ours = env.ours(&out.stdout);
        if ours != theirs {
            eprintln!("layout:\n{plain}");
        }
        assert_same_text(&ours, &theirs);
    }
    assert!(
        tried >= 30,
        "only {tried} generated layouts were valid YAML"
    );
}

/// go-yaml v3's alias limit, counted as its decoder counts: a list of 1,000 items aliased `m`
/// times. Around m = 124 the aliased share passes 99%; sops and our reader must accept and
/// refuse exactly the same documents.
#[test]
fn alias_limit_matches_go_yaml_at_the_boundary() {
    let env = Env::new();
    let items: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
    let mut outcomes = Vec::new();
    for m in 118..=130 {
        let mut doc = format!("base: &b [{}]\n", items.join(", "));
        for i in 0..m {
            doc.push_str(&format!("c{i}: *b\n"));
        }
        let theirs = env.try_encrypt("alias.yaml", &doc);
        let their_refusal = String::from_utf8_lossy(&theirs.stderr).contains("excessive aliasing");
        assert_eq!(
            theirs.status.success(),
            !their_refusal,
            "m = {m}: {theirs:?}"
        );
        let ours = nix_sops::sops::parse_plain(Format::Yaml, doc.as_bytes());
        if let Err(e) = &ours {
            assert!(e.to_string().contains("excessive aliasing"), "m = {m}: {e}");
        }
        assert_eq!(ours.is_ok(), theirs.status.success(), "m = {m}");
        outcomes.push(theirs.status.success());
    }
    // The range covers both sides of the limit.
    assert!(
        outcomes.first() == Some(&true) && outcomes.last() == Some(&false),
        "{outcomes:?}"
    );
}

/// The bracket fix-up (a flow collection closed at or left of its block's indentation, as sops
/// writes `{` comment `}`) applies inside flow brackets only: never to a block scalar's lines,
/// a quoted scalar's lines or a plain scalar's brackets. Each layout decrypts like sops.
#[test]
fn closing_brackets_only_moved_inside_flow_collections() {
    let env = Env::new();
    let doc = "a: {} # only a comment\n\
               n:\n    m: {} # nested\n    k: 1\n\
               l:\n    - {} # in a list\n\
               s: |\n    }\n    ]\n     }\n\
               q: \"x\n  }\"\n\
               p: a{b\n\
               f: {x: \"}\", y: '{'}\n\
               g: [1,\n    2]\n";
    // (An inline comment on an empty map moves into it when sops encrypts: the plaintext
    // trees differ by design, the decrypted texts must not.)
    env.roundtrip_with(doc, &[], false);
    let enc = std::fs::read_to_string(env.path().join("enc.yaml")).unwrap();
    assert!(enc.contains("\n    m: {\n        #ENC["), "{enc}");
    // sops closes the nested map at column 0, left of its block.
    assert!(enc.contains("type:comment]\n}\n    k: ENC["), "{enc}");
}

/// A last document holding only comments: go-yaml gives the first run of comment lines (up to
/// a blank line) to the document before, the rest stay in the last one; a comment-only
/// document in the middle, or one ended by `...`, keeps its comments. What `nix-sops encrypt`
/// writes must decrypt with the real sops to what sops' own file decrypts to.
#[test]
fn comment_only_last_document_like_sops() {
    let env = Env::new();
    for doc in [
        "a: 1\n---\nb: 2\n---\n# only a comment\n",
        "a: 1\n---\nb:\n    c: 2\n---\n# c1\n# c1b\n\n# c2\n",
        "a: 1\n---\n# mid\n---\nb: 2\n",
        "a: 1\n---\n# only\n...\n",
        "a: 1\n--- # on the marker\n# only\n",
    ] {
        let theirs_enc = env.encrypt("multi.yaml", doc, &[]);
        let theirs = env.theirs(&theirs_enc);
        // Our reading of the plaintext is the tree sops encrypted.
        assert_eq!(
            nix_sops::sops::parse_plain(Format::Yaml, doc.as_bytes()).unwrap(),
            env.decrypted(&theirs_enc).tree,
            "{doc:?}"
        );
        // And our encrypted file decrypts with sops to the same text.
        std::fs::write(env.path().join("plain.yaml"), doc).unwrap();
        let out = support_run_ours_encrypt(&env, "plain.yaml");
        assert_eq!(env.theirs(&out), theirs, "{doc:?}");
    }
}

/// `nix-sops encrypt --age KEY NAME` in the env's directory; the encrypted text.
fn support_run_ours_encrypt(env: &Env, name: &str) -> Vec<u8> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nix-sops"))
        .args(["encrypt", "--age", &env.key.recipient, name])
        .current_dir(env.path())
        .env("HOME", env.path())
        .output()
        .expect("nix-sops runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
