//! Helpers shared by the interop, hostile-input and property tests: a scratch directory with an
//! age key made by the real `age-keygen`, files encrypted by the real sops, and both decrypters
//! run side by side with the same clean environment.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{self, AgeKey};

/// The `nix-sops` binary under test.
pub fn ours_bin() -> &'static str {
    env!("CARGO_BIN_EXE_nix-sops")
}

/// A scratch directory with one age key (more can be added) and a private `HOME`.
pub struct Scratch {
    pub dir: tempfile::TempDir,
    pub key: AgeKey,
    pub key_file: PathBuf,
}

impl Scratch {
    pub fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let key = AgeKey::generate();
        let key_file = key.write(dir.path(), "key.txt");
        Scratch { dir, key, key_file }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `plaintext` as `name`, encrypts it in place with the real sops for this scratch's
    /// key (plus `args`, e.g. a crypt rule), and returns the encrypted bytes.
    pub fn encrypt(&self, name: &str, plaintext: &[u8], args: &[&str]) -> Vec<u8> {
        let mut full = vec!["--age", &self.key.recipient];
        full.extend_from_slice(args);
        self.encrypt_raw(name, plaintext, &full)
    }

    /// Like [`Scratch::encrypt`] without adding `--age`: the recipients come from `args` or a
    /// `.sops.yaml` in the scratch directory.
    pub fn encrypt_raw(&self, name: &str, plaintext: &[u8], args: &[&str]) -> Vec<u8> {
        let enc = common::sops_encrypt(self.path(), name, plaintext, args);
        std::fs::write(self.path().join(name), &enc).unwrap();
        enc
    }

    /// Writes `bytes` as `name` (a hand-made or tampered file).
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// The environment both tools get by default: this scratch's key file.
    pub fn key_env(&self) -> Vec<(String, String)> {
        vec![(
            "SOPS_AGE_KEY_FILE".into(),
            self.key_file.to_str().unwrap().into(),
        )]
    }

    /// `sops decrypt ARGS` with the scratch key.
    pub fn sops(&self, args: &[&str]) -> Output {
        self.sops_env(args, &self.key_env())
    }

    /// `nix-sops decrypt ARGS` with the scratch key.
    pub fn ours(&self, args: &[&str]) -> Output {
        self.ours_env(args, &self.key_env())
    }

    /// `sops decrypt ARGS` with exactly `env` (besides PATH and the private HOME).
    pub fn sops_env(&self, args: &[&str], env: &[(String, String)]) -> Output {
        let mut full = vec!["decrypt"];
        full.extend_from_slice(args);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        common::sops(self.path(), &full, &env)
    }

    /// `nix-sops decrypt ARGS` with the same clean environment [`common::sops`] gives sops.
    pub fn ours_env(&self, args: &[&str], env: &[(String, String)]) -> Output {
        run_ours(self.path(), "decrypt", args, env)
    }
}

/// Runs `nix-sops SUBCOMMAND ARGS` in `dir` with only PATH, a private HOME and `env`.
pub fn run_ours(dir: &Path, subcommand: &str, args: &[&str], env: &[(String, String)]) -> Output {
    let home = dir.join(".home");
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = Command::new(ours_bin());
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .arg(subcommand)
        .args(args)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("nix-sops runs")
}

/// How two outputs must agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    /// Byte for byte (dotenv, INI, binary, extracted strings).
    Bytes,
    /// YAML: byte-identical, or else the same event stream (order, tags, plain vs quoted
    /// scalars) and the same comment lines in the same order.
    Yaml,
    /// JSON: byte-identical, or else the same value with the same key order.
    Json,
}

impl Compare {
    pub fn for_ext(name: &str) -> Compare {
        if name.ends_with(".yaml") || name.ends_with(".yml") {
            Compare::Yaml
        } else if name.ends_with(".json") {
            Compare::Json
        } else {
            Compare::Bytes
        }
    }
}

/// Set `NIX_SOPS_STRICT_BYTES=1` to require byte-identical YAML/JSON too.
fn strict() -> bool {
    std::env::var_os("NIX_SOPS_STRICT_BYTES").is_some_and(|v| v == "1")
}

/// Asserts that `nix-sops` succeeded exactly like sops did and printed the same document.
pub fn assert_same(what: &str, how: Compare, ours: &Output, sops: &Output) {
    assert!(
        sops.status.success(),
        "{what}: the real sops failed ({:?}): {}",
        sops.status.code(),
        String::from_utf8_lossy(&sops.stderr)
    );
    assert!(
        ours.status.success(),
        "{what}: nix-sops failed ({:?}) where sops succeeded: {}",
        ours.status.code(),
        String::from_utf8_lossy(&ours.stderr)
    );
    assert_same_bytes_or_tree(what, how, &ours.stdout, &sops.stdout);
}

pub fn assert_same_bytes_or_tree(what: &str, how: Compare, ours: &[u8], sops: &[u8]) {
    if ours == sops {
        return;
    }
    let show = || {
        format!(
            "--- sops ---\n{}\n--- nix-sops ---\n{}",
            String::from_utf8_lossy(sops),
            String::from_utf8_lossy(ours)
        )
    };
    if strict() || how == Compare::Bytes {
        panic!("{what}: output differs from sops (bytes)\n{}", show());
    }
    let same = match how {
        Compare::Yaml => yaml_shape(ours) == yaml_shape(sops),
        Compare::Json => json_shape(ours) == json_shape(sops),
        Compare::Bytes => unreachable!(),
    };
    assert!(
        same,
        "{what}: output differs from sops (parsed)\n{}",
        show()
    );
    eprintln!("note: {what}: same tree as sops, not byte-identical");
}

/// A YAML document as comparable text: one line per parser event (scalars with their value, tag,
/// and plain-or-quoted style, since a plain `true` and a quoted `"true"` differ), then the
/// comment lines in order. Unparsable text compares as its error.
pub fn yaml_shape(bytes: &[u8]) -> Vec<String> {
    use saphyr_parser::{Event, Parser, ScalarStyle};
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return vec![format!("not UTF-8: {e}")],
    };
    let mut out = Vec::new();
    for ev in Parser::new_from_str(text) {
        let (ev, _span) = match ev {
            Ok(ev) => ev,
            Err(e) => {
                out.push(format!("error: {e}"));
                break;
            }
        };
        out.push(match ev {
            Event::Scalar(v, style, _, tag) => format!(
                "scalar {:?} {} {:?}",
                v,
                if style == ScalarStyle::Plain {
                    "plain"
                } else {
                    "quoted"
                },
                tag.map(|t| format!("{}{}", t.handle, t.suffix))
            ),
            Event::MappingStart(_, tag) => {
                format!("map {:?}", tag.map(|t| format!("{}{}", t.handle, t.suffix)))
            }
            Event::SequenceStart(_, tag) => {
                format!("seq {:?}", tag.map(|t| format!("{}{}", t.handle, t.suffix)))
            }
            other => format!("{other:?}"),
        });
    }
    out.extend(
        text.lines()
            .map(str::trim_start)
            .filter(|l| l.starts_with('#'))
            .map(|l| format!("comment {l}")),
    );
    out
}

/// A JSON document as comparable text (key order kept), or its parse error.
pub fn json_shape(bytes: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(v) => serde_json::to_string(&v).unwrap(),
        Err(e) => format!("error: {e}"),
    }
}

/// Asserts both tools failed with the given exit codes; returns nix-sops' stderr.
pub fn assert_both_fail(
    what: &str,
    ours: &Output,
    sops: &Output,
    sops_code: i32,
    ours_code: i32,
) -> String {
    let ours_err = String::from_utf8_lossy(&ours.stderr).into_owned();
    assert_eq!(
        sops.status.code(),
        Some(sops_code),
        "{what}: the real sops exited {:?}, expected {sops_code}: {}",
        sops.status.code(),
        String::from_utf8_lossy(&sops.stderr)
    );
    assert_eq!(
        ours.status.code(),
        Some(ours_code),
        "{what}: nix-sops exited {:?}, expected {ours_code}; stderr: {ours_err}",
        ours.status.code()
    );
    assert!(
        ours.stdout.is_empty(),
        "{what}: nix-sops printed to stdout on failure"
    );
    ours_err
}

/// Asserts none of `secrets` appears in `stderr`.
pub fn assert_no_secret(what: &str, stderr: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(
            !stderr.contains(s),
            "{what}: nix-sops' stderr reveals the plaintext {s:?}: {stderr}"
        );
    }
}
