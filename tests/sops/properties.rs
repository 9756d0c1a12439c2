//! Property test: random trees (nested maps and lists; strings with unicode, newlines and
//! look-alikes of other types; ints; floats; bools; nulls), written as YAML, as JSON and (flat)
//! as dotenv, encrypted by the real sops, decrypted by both tools: the outputs must agree.
//!
//! Each case spawns sops, so the count is small: `PROPTEST_CASES` (default 48).

use crate::{common, support};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use support::{Compare, Scratch};

#[derive(Debug, Clone)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// Strings that other types look like, and ones YAML needs quoting or escaping for.
const TRICKY: &[&str] = &[
    "",
    ".0_0",
    "-.5_5",
    "true",
    "False",
    "null",
    "~",
    "42",
    "-0",
    "0x1F",
    "1.5",
    "1e6",
    ".inf",
    "2001-12-14",
    "2001-12-14T21:59:43.10-05:00",
    "yes",
    "on",
    "a: b",
    "# not a comment",
    "- item",
    "'",
    "\"",
    "\\",
    "\\n",
    "  padded  ",
    "multi\nline\n",
    "trailing\n\n",
    "tab\there",
    "{a: b}",
    "[1]",
    "&anchor",
    "*alias",
    "!tag",
    "%",
    "@",
    "`",
    "|",
    ">",
    "<&>",
    "ENC[not really]",
    "sops",
    "héllo ☃",
    "日本語",
    "🎉 emoji",
    "\u{feff}bom",
    "zero\u{200b}width",
];

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9 _.,:;#'\"\\\\/\\-]{0,24}",
        2 => "[a-z \n]{0,12}",
        2 => "\\PC{0,10}",
        3 => proptest::sample::select(TRICKY).prop_map(str::to_owned),
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        (-1000i32..1000).prop_map(|i| i as f64 / 8.0),
        Just(0.1),
        Just(-0.0),
        Just(1e21),
        Just(1e-7),
        Just(123456789.125),
    ]
}

fn leaf() -> impl Strategy<Value = Node> {
    prop_oneof![
        1 => Just(Node::Null),
        1 => any::<bool>().prop_map(Node::Bool),
        2 => prop_oneof![any::<i64>(), -100i64..100].prop_map(Node::Int),
        2 => float().prop_map(Node::Float),
        5 => string().prop_map(Node::Str),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z][a-z0-9_]{0,7}",
        1 => "[a-zA-Z0-9 ._\\-]{1,10}",
        1 => "\\PC{1,6}",
    ]
}

/// Unique keys, in generation order.
fn map_of(
    value: impl Strategy<Value = Node>,
    max: usize,
) -> impl Strategy<Value = Vec<(String, Node)>> {
    proptest::collection::vec((key(), value), 0..max).prop_map(|entries| {
        let mut seen = std::collections::HashSet::new();
        entries
            .into_iter()
            .filter(|(k, _)| seen.insert(k.clone()))
            .collect()
    })
}

fn tree() -> impl Strategy<Value = Vec<(String, Node)>> {
    let node = leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Node::List),
            map_of(inner, 4).prop_map(Node::Map),
        ]
    });
    // sops refuses a top-level `sops` key.
    map_of(node, 6).prop_map(|m| m.into_iter().filter(|(k, _)| k != "sops").collect())
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A float as YAML and JSON read it back as a float: Rust's shortest round-trip digits, with a
/// `.0` or exponent so it never reads as an int.
fn float_text(f: f64) -> String {
    let s = format!("{f:?}");
    if s.contains(['.', 'e']) {
        s
    } else {
        format!("{s}.0")
    }
}

fn yaml_scalar(n: &Node) -> Option<String> {
    Some(match n {
        Node::Null => "null".into(),
        Node::Bool(b) => b.to_string(),
        Node::Int(i) => i.to_string(),
        Node::Float(f) => float_text(*f),
        Node::Str(s) => quoted(s),
        Node::List(l) if l.is_empty() => "[]".into(),
        Node::Map(m) if m.is_empty() => "{}".into(),
        _ => return None,
    })
}

/// Block-style YAML, 4-space indent, every string double-quoted with JSON escapes.
fn yaml_block(n: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match n {
        Node::Map(m) => {
            for (k, v) in m {
                match yaml_scalar(v) {
                    Some(s) => out.push_str(&format!("{pad}{}: {s}\n", quoted(k))),
                    None => {
                        out.push_str(&format!("{pad}{}:\n", quoted(k)));
                        yaml_block(v, indent + 4, out);
                    }
                }
            }
        }
        Node::List(l) => {
            for v in l {
                match yaml_scalar(v) {
                    Some(s) => out.push_str(&format!("{pad}- {s}\n")),
                    None => {
                        out.push_str(&format!("{pad}-\n"));
                        yaml_block(v, indent + 4, out);
                    }
                }
            }
        }
        scalar => out.push_str(&format!("{pad}{}\n", yaml_scalar(scalar).unwrap())),
    }
}

fn json(n: &Node) -> String {
    match n {
        Node::Null => "null".into(),
        Node::Bool(b) => b.to_string(),
        Node::Int(i) => i.to_string(),
        Node::Float(f) => float_text(*f),
        Node::Str(s) => quoted(s),
        Node::List(l) => format!("[{}]", l.iter().map(json).collect::<Vec<_>>().join(", ")),
        Node::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", quoted(k), json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        // Each shrink step spawns sops: keep shrinking short, and write no regression files.
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Encrypts `text` as `name` with sops, decrypts with both, compares. An input sops refuses to
/// encrypt is rejected (not counted as a case).
fn agree(s: &Scratch, name: &str, text: &str) -> Result<(), TestCaseError> {
    s.write(name, text.as_bytes());
    let enc = common::sops(s.path(), &["encrypt", "--age", &s.key.recipient, name], &[]);
    if !enc.status.success() {
        return Err(TestCaseError::reject(format!(
            "sops cannot encrypt it: {}",
            String::from_utf8_lossy(&enc.stderr)
        )));
    }
    s.write(name, &enc.stdout);
    let ours = s.ours(&[name]);
    let sops = s.sops(&[name]);
    let result = std::panic::catch_unwind(|| {
        support::assert_same(
            &format!("{name}:\n{text}\n"),
            Compare::for_ext(name),
            &ours,
            &sops,
        )
    });
    result.map_err(|e| {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        TestCaseError::fail(msg)
    })
}

#[test]
fn random_yaml_and_json_trees_decrypt_like_sops() {
    let s = Scratch::new();
    runner()
        .run(&tree(), |m| {
            let root = Node::Map(m);
            let mut yaml = String::new();
            yaml_block(&root, 0, &mut yaml);
            agree(&s, "p.yaml", &yaml)?;
            agree(&s, "p.json", &json(&root))
        })
        .unwrap();
}

#[test]
fn random_dotenv_files_decrypt_like_sops() {
    let s = Scratch::new();
    let entry = (
        "[A-Za-z_][A-Za-z0-9_]{0,10}",
        prop_oneof!["[^\n\r=]{0,20}", "[a-z=#' \"]{0,10}", "\\PC{0,8}"],
    );
    let comment = "[^\n\r]{0,16}";
    let line = prop_oneof![
        4 => entry.prop_map(|(k, v)| format!("{k}={v}")),
        1 => comment.prop_map(|c| format!("#{c}")),
    ];
    runner()
        .run(&proptest::collection::vec(line, 1..8), |lines| {
            let mut seen = std::collections::HashSet::new();
            let text: String = lines
                .into_iter()
                .filter(|l| {
                    l.starts_with('#') || seen.insert(l.split('=').next().unwrap().to_owned())
                })
                .filter(|l| !l.starts_with("sops_"))
                .map(|l| l + "\n")
                .collect();
            agree(&s, "p.env", &text)
        })
        .unwrap();
}
