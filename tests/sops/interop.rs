//! `nix-sops decrypt` against the real sops 3.11: every store, value type, crypt rule, key
//! source, `--extract` path and `--output-type` conversion. Each fixture is encrypted by the real
//! sops at test time; both tools decrypt it with the same clean environment and must print the
//! same bytes (YAML/JSON: the same bytes, or at least the same tree with comments and order; run
//! with `NIX_SOPS_STRICT_BYTES=1` to demand bytes there too).

use crate::{common, support};

use support::{assert_same, Compare, Scratch};

/// Decrypts `name` with both tools (`args` before the file name) and compares the outputs.
fn check(s: &Scratch, name: &str, args: &[&str], how: Compare) {
    let mut full = args.to_vec();
    full.push(name);
    let what = format!("decrypt {}", full.join(" "));
    assert_same(&what, how, &s.ours(&full), &s.sops(&full));
}

/// Encrypts `plaintext` as `name` with sops and checks the whole-file decrypt.
fn roundtrip(name: &str, plaintext: &str, enc_args: &[&str]) -> Scratch {
    let s = Scratch::new();
    s.encrypt(name, plaintext.as_bytes(), enc_args);
    check(&s, name, &[], Compare::for_ext(name));
    s
}

const YAML_TYPES: &str = r#"# head comment
str: hello world
unicode: "héllo ☃ 日本語 🎉"
multiline: |
    line one
    line two
folded: >
    folded text
    here
keep: |+
    kept newlines

quoted_num: "42"
yes_str: yes
on_str: on
empty: ""
html: "<a href='x'>&amp;</a>"
colon: 'a: b # c'
int: 42
neg: -17
hex: 0x1F
octal: 0o17
legacy_octal: 0777
underscored: 1_000
big: 9223372036854775807
float: 1.5
float_int: 1.0
exp: 1e6
small: 1.0e-7
neg_zero: -0.0
inf: .inf
neginf: -.inf
nan: .nan
bool_t: true
bool_f: False
time: 2001-12-14T21:59:43.10-05:00
date: 2002-12-14
spaced_time: 2001-12-14 21:59:43.10
nul: null
tilde: ~
nested:
    # nested comment
    list:
        - a
        - 1
        - 2.5
        - true
        - null
        # list comment
        - {x: y}
        - [p, q]
    inline: value # inline comment
    deep: {a: {b: {c: d}}}
empty_map: {}
empty_list: []
anchor: &anc
    k: v
alias: *anc
merge:
    <<: *anc
    extra: e
binary: !!binary aGVsbG8=
tagged_str: !!str 123
# trailing comment
"#;

#[test]
fn yaml_every_value_type() {
    roundtrip("types.yaml", YAML_TYPES, &[]);
}

#[test]
fn yaml_comments_everywhere() {
    roundtrip(
        "comments.yaml",
        "# first\n# second\n\na: 1 # after a\n# before b\nb:\n    # inside b\n    c: d\n    # end of b\nlist:\n    # head of list\n    - x # after x\n    # between\n    - y\n# last\n",
        &[],
    );
}

#[test]
fn yaml_multiple_documents() {
    roundtrip(
        "multi.yaml",
        "a: 1\nshared: one\n---\n# second doc\nb: two\nlist: [1, 2]\n---\nc: {d: e}\n",
        &[],
    );
}

#[test]
fn yaml_empty_document_among_others() {
    roundtrip("empty-doc.yaml", "a: 1\n---\n---\nb: 2\n", &[]);
}

#[test]
fn yaml_indentation_and_long_strings() {
    let long = "x".repeat(300);
    roundtrip(
        "long.yaml",
        &format!(
            "long: {long}\nspaces: \"  leading and trailing  \"\ntabs: \"a\\tb\"\nnl: \"a\\nb\\n\"\nctrl: \"bell\\a\"\nkey with spaces: v\n\"quoted key\": v\n"
        ),
        &[],
    );
}

const JSON_TYPES: &str = r#"{
    "str": "hello world",
    "unicode": "héllo ☃ 日本語 🎉 \u0000 \u001f",
    "html": "<a href=\"x\">&amp;</a>",
    "escapes": "tab\tnewline\nquote\"backslash\\",
    "empty": "",
    "int": 42,
    "neg": -17,
    "big": 12345678901234567890,
    "float": 1.5,
    "float_int": 1.0,
    "exp": 1e21,
    "exp_small": 1e-7,
    "tiny": 0.000001,
    "neg_zero": -0.0,
    "bool_t": true,
    "bool_f": false,
    "nul": null,
    "nested": {"list": ["a", 1, 2.5, true, null, {"x": "y"}, [1, [2]]], "deep": {"a": {"b": {}}}},
    "empty_map": {},
    "empty_list": [],
    "dup": 1,
    "dup": 2
}
"#;

#[test]
fn json_every_value_type() {
    roundtrip("types.json", JSON_TYPES, &[]);
}

#[test]
fn dotenv_values_and_comments() {
    roundtrip(
        "vars.env",
        "# comment line\nDB_PASS=s3cr3t\nKEY = spaced value \nQUOTED=\"quoted value\"\nSINGLE='single'\nMULTI=line1\\nline2\nEMPTY=\nexport EXPORTED=yes\nURL=postgres://u:p@h/db?x=1&y=2\nEQ=a=b=c\nNUM=42\nUNICODE=héllo ☃\n#another\nCRLF=value\r\nLAST=end",
        &[],
    );
}

#[test]
fn ini_sections_comments_quotes() {
    roundtrip(
        "conf.ini",
        "top=level\n; top comment\n[section]\n# sec comment\nkey = value\nquoted = \"a quoted value\"\nnum = 42\nunicode = héllo ☃\n\n[other]\nk2 = v2 ; inline\nempty =\n[other]\ndup = second section\n",
        &[],
    );
}

#[test]
fn binary_arbitrary_bytes() {
    let s = Scratch::new();
    let bytes: Vec<u8> = (0..=255u8)
        .chain((0..=255u8).rev())
        .chain(*b"\xff\xfe\0\n")
        .collect();
    s.encrypt("blob.bin", &bytes, &[]);
    check(&s, "blob.bin", &[], Compare::Bytes);
    let out = s.ours(&["blob.bin"]);
    assert_eq!(
        out.stdout, bytes,
        "binary plaintext comes back byte for byte"
    );
}

#[test]
fn binary_empty_and_text() {
    let s = Scratch::new();
    s.encrypt("empty.txt", b"", &[]);
    check(&s, "empty.txt", &[], Compare::Bytes);
    s.encrypt("text.cfg", b"some: yaml-looking\ntext = 1\n", &[]);
    check(&s, "text.cfg", &[], Compare::Bytes);
}

// ---- crypt rules ------------------------------------------------------------------------

const RULES_YAML: &str = "# top comment\nuser: alice\npassword_enc: hunter2\ntoken_unencrypted: visible\nnested:\n    db_password: p1\n    plain_unencrypted: {a: b, c: [1, 2]}\n    list: [x, 1, true]\n    # comment in nested\n    port: 5432\ndata_secret: {inner: v}\n";

#[test]
fn crypt_rule_unencrypted_suffix() {
    roundtrip(
        "rules.yaml",
        RULES_YAML,
        &["--unencrypted-suffix", "_unencrypted"],
    );
    roundtrip(
        "rules.yaml",
        RULES_YAML,
        &["--unencrypted-suffix", "password"],
    );
}

#[test]
fn crypt_rule_encrypted_suffix() {
    roundtrip("rules.yaml", RULES_YAML, &["--encrypted-suffix", "_enc"]);
    roundtrip(
        "rules.yaml",
        RULES_YAML,
        &["--encrypted-suffix", "password"],
    );
}

#[test]
fn crypt_rule_unencrypted_regex() {
    roundtrip(
        "rules.yaml",
        RULES_YAML,
        &["--unencrypted-regex", "^(user|port|nested)$"],
    );
    roundtrip("rules.yaml", RULES_YAML, &["--unencrypted-regex", "pass"]);
}

#[test]
fn crypt_rule_encrypted_regex() {
    roundtrip(
        "rules.yaml",
        RULES_YAML,
        &["--encrypted-regex", "^(password_enc|data_secret)$"],
    );
    roundtrip(
        "rules.yaml",
        RULES_YAML,
        &["--encrypted-regex", "secret|db_"],
    );
}

#[test]
fn crypt_rules_on_other_stores() {
    roundtrip(
        "rules.json",
        r#"{"user": "alice", "password": "x", "n": {"password": 1, "keep": true}}"#,
        &["--encrypted-regex", "^password$"],
    );
    roundtrip(
        "rules.env",
        "USER=alice\nPASSWORD=x\nPUBLIC_unencrypted=y\n",
        &[],
    );
    roundtrip(
        "rules.ini",
        "[db]\nuser = alice\npassword = x\n[public]\nurl = http://x\n",
        &["--encrypted-regex", "password"],
    );
}

/// Encrypts with a `.sops.yaml` creation rule that carries `extra` (a rule option only the
/// config file can set in 3.11).
/// A scratch directory whose `.sops.yaml` has one creation rule: its key, plus `extra` lines.
fn scratch_with_rule(extra: &str) -> Scratch {
    let s = Scratch::new();
    s.write(
        ".sops.yaml",
        format!("creation_rules:\n    - age: {}\n{extra}", s.key.recipient).as_bytes(),
    );
    s
}

fn roundtrip_with_config(name: &str, plaintext: &str, extra: &str) {
    let s = scratch_with_rule(extra);
    s.encrypt_raw(name, plaintext.as_bytes(), &[]);
    check(&s, name, &[], Compare::for_ext(name));
}

const COMMENT_RULES_YAML: &str = "# sops:enc\npassword: hunter2\nuser: alice\n# plain header\nhost: example.org\nnested:\n    # sops:enc\n    # more comment\n    key: v\n    other: w\nlist:\n    # sops:enc\n    - secret item\n    - clear item\n";

#[test]
fn config_encrypted_comment_regex() {
    roundtrip_with_config(
        "c.yaml",
        COMMENT_RULES_YAML,
        "      encrypted_comment_regex: sops:enc\n",
    );
}

#[test]
fn config_unencrypted_comment_regex() {
    roundtrip_with_config(
        "c.yaml",
        COMMENT_RULES_YAML,
        "      unencrypted_comment_regex: sops:enc\n",
    );
}

#[test]
fn config_mac_only_encrypted() {
    roundtrip_with_config(
        "m.yaml",
        RULES_YAML,
        "      mac_only_encrypted: true\n      encrypted_regex: ^(password_enc|db_password)$\n",
    );
    roundtrip_with_config(
        "m.json",
        r#"{"a": "x", "b_unencrypted": 1}"#,
        "      mac_only_encrypted: true\n",
    );
    roundtrip_with_config(
        "m.env",
        "A=x\nB_unencrypted=y\n",
        "      mac_only_encrypted: true\n",
    );
}

/// After `mac_only_encrypted`, changing a clear value keeps the MAC valid: both tools agree.
#[test]
fn mac_only_encrypted_ignores_clear_values() {
    let s = scratch_with_rule("      mac_only_encrypted: true\n");
    let enc = s.encrypt_raw("m.yaml", b"secret: s\nport_unencrypted: 1\n", &[]);
    let changed = String::from_utf8(enc)
        .unwrap()
        .replace("port_unencrypted: 1", "port_unencrypted: 2");
    s.write("m.yaml", changed.as_bytes());
    check(&s, "m.yaml", &[], Compare::Yaml);
}

// ---- keys (JSON files: the key code does not depend on the store) --------------------------

#[test]
fn two_recipients_each_key_alone() {
    let s = Scratch::new();
    let second = common::AgeKey::generate();
    let second_file = second.write(s.path(), "second.txt");
    let recipients = format!("{},{}", s.key.recipient, second.recipient);
    s.encrypt_raw(
        "two.json",
        br#"{"a": "secret", "b": [1, 2]}"#,
        &["--age", &recipients],
    );
    for key in [&s.key_file, &second_file] {
        let env = vec![(
            "SOPS_AGE_KEY_FILE".to_string(),
            key.to_str().unwrap().to_string(),
        )];
        assert_same(
            &format!("two recipients, key {}", key.display()),
            Compare::Json,
            &s.ours_env(&["two.json"], &env),
            &s.sops_env(&["two.json"], &env),
        );
    }
}

#[test]
fn age_key_from_env_text_cmd_and_default_path() {
    let s = Scratch::new();
    s.encrypt("k.json", br#"{"a": "secret"}"#, &[]);
    // SOPS_AGE_KEY: the key file's text.
    let env = vec![("SOPS_AGE_KEY".to_string(), s.key.file_text.clone())];
    assert_same(
        "SOPS_AGE_KEY",
        Compare::Json,
        &s.ours_env(&["k.json"], &env),
        &s.sops_env(&["k.json"], &env),
    );
    // SOPS_AGE_KEY_CMD: a command printing it.
    let cmd = format!("cat {}", s.key_file.display());
    let env = vec![("SOPS_AGE_KEY_CMD".to_string(), cmd)];
    assert_same(
        "SOPS_AGE_KEY_CMD",
        Compare::Json,
        &s.ours_env(&["k.json"], &env),
        &s.sops_env(&["k.json"], &env),
    );
    // ~/.config/sops/age/keys.txt under the private HOME both tools get.
    s.write(
        ".home/.config/sops/age/keys.txt",
        s.key.file_text.as_bytes(),
    );
    assert_same(
        "keys.txt",
        Compare::Json,
        &s.ours_env(&["k.json"], &[]),
        &s.sops_env(&["k.json"], &[]),
    );
}

#[test]
fn identity_flag_picks_the_key() {
    let s = Scratch::new();
    s.encrypt("k.json", br#"{"a": "secret"}"#, &[]);
    let other = common::AgeKey::generate();
    let other_file = other.write(s.path(), "other.txt");
    let key = s.key_file.to_str().unwrap();
    let other = other_file.to_str().unwrap();
    let sops = s.sops(&["k.json"]);
    // Ours takes --identity (several allowed); sops reads the same key from SOPS_AGE_KEY_FILE.
    assert_same(
        "--identity",
        Compare::Json,
        &s.ours_env(&["--identity", key, "k.json"], &[]),
        &sops,
    );
    assert_same(
        "--identity twice",
        Compare::Json,
        &s.ours_env(&["--identity", other, "--identity", key, "k.json"], &[]),
        &sops,
    );
    let wrong = s.ours_env(&["--identity", other, "k.json"], &[]);
    assert_eq!(
        wrong.status.code(),
        Some(128),
        "a non-matching --identity alone: no data key"
    );
}

#[test]
fn shamir_two_of_three_groups() {
    let s = Scratch::new();
    let k2 = common::AgeKey::generate();
    let k3 = common::AgeKey::generate();
    s.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n    - shamir_threshold: 2\n      key_groups:\n          - age: [{}]\n          - age: [{}]\n          - age: [{}]\n",
            s.key.recipient, k2.recipient, k3.recipient
        )
        .as_bytes(),
    );
    s.encrypt_raw("shamir.json", br#"{"a": "secret", "b": 2}"#, &[]);
    for (label, keys) in [
        ("1+3", format!("{}{}", s.key.file_text, k3.file_text)),
        ("2+3", format!("{}{}", k2.file_text, k3.file_text)),
        (
            "all",
            format!("{}{}{}", s.key.file_text, k2.file_text, k3.file_text),
        ),
    ] {
        let env = vec![("SOPS_AGE_KEY".to_string(), keys)];
        assert_same(
            &format!("shamir 2-of-3 with keys {label}"),
            Compare::Json,
            &s.ours_env(&["shamir.json"], &env),
            &s.sops_env(&["shamir.json"], &env),
        );
    }
    let env = vec![("SOPS_AGE_KEY".to_string(), k2.file_text.clone())];
    let ours = s.ours_env(&["shamir.json"], &env);
    let sops = s.sops_env(&["shamir.json"], &env);
    support::assert_both_fail("shamir with one share", &ours, &sops, 128, 128);
}

#[test]
fn ssh_ed25519_recipient_with_ssh_key_flag() {
    common::require("ssh-keygen");
    let s = Scratch::new();
    let key = s.path().join("id_ed25519");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success(), "ssh-keygen failed");
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let recipient: Vec<&str> = public.split_whitespace().take(2).collect();
    s.encrypt_raw(
        "ssh.json",
        br#"{"a": "secret"}"#,
        &["--age", &recipient.join(" ")],
    );
    let sops = s.sops_env(
        &["ssh.json"],
        &[(
            "SOPS_AGE_SSH_PRIVATE_KEY_FILE".into(),
            key.to_str().unwrap().into(),
        )],
    );
    let ours = s.ours_env(&["--ssh-key", key.to_str().unwrap(), "ssh.json"], &[]);
    assert_same("ssh-ed25519 recipient", Compare::Json, &ours, &sops);
}

// ---- --extract ------------------------------------------------------------------------------

const EXTRACT_YAML: &str = "str: hello\nmultiline: \"a\\nb\\n\"\nint: 42\nfloat: 1.5\nbool: true\nnul: null\nmap:\n    # comment kept\n    k: v\n    n: 1\nlist:\n    - first\n    - 2\n    - {x: y}\n    - [a, b]\ntime: 2001-12-14T21:59:43.10-05:00\n";

fn extract_scratch() -> Scratch {
    let s = Scratch::new();
    s.encrypt("x.yaml", EXTRACT_YAML.as_bytes(), &[]);
    s.encrypt(
        "x.json",
        br#"{"str": "hello", "int": 42, "float": 1.5, "bool": false, "nul": null, "map": {"k": "v", "l": [1, "2"]}, "list": ["first", {"x": "y"}]}"#,
        &[],
    );
    s.encrypt("x.env", b"A=alpha\nB=beta\\nmore\n", &[]);
    s.encrypt("x.ini", b"[sec]\nk = v\n", &[]);
    s
}

#[test]
fn extract_scalars_raw() {
    let s = extract_scratch();
    for path in [
        r#"["str"]"#,
        r#"["multiline"]"#,
        r#"["list"][0]"#,
        r#"['map']['k']"#,
        r#"["list"][2]["x"]"#,
        r#"["list"][3][1]"#,
    ] {
        check(&s, "x.yaml", &["--extract", path], Compare::Bytes);
    }
    let out = s.ours(&["--extract", r#"["str"]"#, "x.yaml"]);
    assert_eq!(
        out.stdout, b"hello",
        "an extracted string is printed raw, without a newline"
    );
    for path in [r#"["str"]"#, r#"["map"]["k"]"#, r#"["list"][0]"#] {
        check(&s, "x.json", &["--extract", path], Compare::Bytes);
    }
    for path in [r#"["A"]"#, r#"["B"]"#] {
        check(&s, "x.env", &["--extract", path], Compare::Bytes);
    }
    check(
        &s,
        "x.ini",
        &["--extract", r#"["sec"]["k"]"#],
        Compare::Bytes,
    );
}

#[test]
fn extract_non_strings() {
    let s = extract_scratch();
    for path in [
        r#"["int"]"#,
        r#"["float"]"#,
        r#"["bool"]"#,
        r#"["list"][1]"#,
        r#"["time"]"#,
        r#"["nul"]"#,
    ] {
        check(&s, "x.yaml", &["--extract", path], Compare::Bytes);
    }
    let out = s.ours(&["--extract", r#"["int"]"#, "x.yaml"]);
    assert_eq!(out.stdout, b"42\n");
    for path in [r#"["int"]"#, r#"["float"]"#, r#"["bool"]"#, r#"["nul"]"#] {
        check(&s, "x.json", &["--extract", path], Compare::Bytes);
    }
}

#[test]
fn extract_maps_and_lists() {
    let s = extract_scratch();
    for path in [r#"["map"]"#, r#"["list"][2]"#] {
        check(&s, "x.yaml", &["--extract", path], Compare::Yaml);
    }
    check(&s, "x.yaml", &["--extract", r#"["list"]"#], Compare::Yaml);
    for path in [r#"["map"]"#, r#"["list"][1]"#, r#"["map"]["l"]"#] {
        check(&s, "x.json", &["--extract", path], Compare::Json);
    }
}

#[test]
fn extract_errors_match_sops() {
    let s = extract_scratch();
    for (path, sops_code, needle) in [
        (r#"["missing"]"#, 1, "not found"),
        (r#"["map"]["missing"]"#, 1, "not found"),
        (r#"["list"][9]"#, 1, "out of bounds"),
        ("garbage", 91, "]"),
    ] {
        let args = ["--extract", path, "x.yaml"];
        let ours = s.ours(&args);
        let sops = s.sops(&args);
        let err = support::assert_both_fail(
            &format!("--extract {path}"),
            &ours,
            &sops,
            sops_code,
            sops_code,
        );
        assert!(
            err.contains(needle),
            "--extract {path}: stderr lacks {needle:?}: {err}"
        );
        assert!(
            err.starts_with("nix-sops: "),
            "--extract {path}: stderr format: {err}"
        );
        support::assert_no_secret(&format!("--extract {path}"), &err, &["hello", "first"]);
    }
}

// ---- --output-type / --input-type / --ignore-mac ----------------------------------------------

#[test]
fn output_type_conversions() {
    let s = Scratch::new();
    s.encrypt(
        "c.yaml",
        b"# comment\na: 1\nb: two\nc: {d: [1, 2.5, true, null]}\ne: 2001-12-14\n",
        &[],
    );
    s.encrypt(
        "c.json",
        br#"{"a": 1, "b": "two", "c": {"d": [1, 2.5, true, null]}}"#,
        &[],
    );
    s.encrypt("flat.yaml", b"# comment\nA: one\nB: two\\nlines\n", &[]);
    s.encrypt("c.env", b"# comment\nA=one\nB=two\\nlines\n", &[]);
    s.encrypt(
        "c.ini",
        b"top = t\n[s]\n; comment\nk = v\n[t]\nx = y\n",
        &[],
    );
    s.encrypt(
        "sections.yaml",
        b"s:\n    # comment\n    k: v\n    n: 1\nt:\n    x: y\n",
        &[],
    );
    s.encrypt(
        "sections.json",
        br#"{"s": {"k": "v", "b": true}, "t": {"x": 1.5}}"#,
        &[],
    );
    for (file, to, how) in [
        ("c.yaml", "json", Compare::Json),
        ("c.json", "yaml", Compare::Yaml),
        ("c.yaml", "yaml", Compare::Yaml),
        ("c.json", "json", Compare::Json),
        ("flat.yaml", "dotenv", Compare::Bytes),
        ("c.env", "yaml", Compare::Yaml),
        ("c.env", "json", Compare::Json),
        ("c.ini", "json", Compare::Json),
        ("c.ini", "yaml", Compare::Yaml),
        ("sections.yaml", "ini", Compare::Bytes),
        ("sections.json", "ini", Compare::Bytes),
    ] {
        check(&s, file, &["--output-type", to], how);
    }
}

/// Conversions sops refuses: nix-sops refuses them too, with sops' exit code.
#[test]
fn output_type_refusals_match_sops() {
    let s = Scratch::new();
    s.encrypt("c.yaml", b"a: {b: c}\nd: e\n", &[]);
    s.encrypt("c.json", br#"{"a": {"b": [1]}, "d": "e"}"#, &[]);
    s.encrypt("c.bin", b"raw bytes", &[]);
    s.encrypt("sections.yaml", b"s:\n    k: v\n", &[]);
    for (file, to) in [
        ("c.yaml", "dotenv"),
        ("c.yaml", "binary"),
        ("c.yaml", "ini"),
        ("c.json", "ini"),
        ("c.json", "binary"),
        ("sections.yaml", "dotenv"),
    ] {
        let args = ["--output-type", to, file];
        let sops = s.sops(&args);
        let ours = s.ours(&args);
        if sops.status.success() {
            assert_same(&format!("{file} as {to}"), Compare::Bytes, &ours, &sops);
        } else {
            let code = sops.status.code().unwrap();
            support::assert_both_fail(&format!("{file} as {to}"), &ours, &sops, code, code);
        }
    }
    check(&s, "c.bin", &["--output-type", "json"], Compare::Json);
    check(&s, "c.bin", &["--output-type", "yaml"], Compare::Yaml);
}

#[test]
fn input_type_overrides_extension() {
    let s = Scratch::new();
    s.encrypt(
        "y.txt",
        b"a: 1\nb: [x]\n",
        &["--input-type", "yaml", "--output-type", "yaml"],
    );
    check(
        &s,
        "y.txt",
        &["--input-type", "yaml", "--output-type", "yaml"],
        Compare::Yaml,
    );
    s.encrypt(
        "j.data",
        br#"{"a": "b"}"#,
        &["--input-type", "json", "--output-type", "json"],
    );
    check(
        &s,
        "j.data",
        &["--input-type", "json", "--output-type", "json"],
        Compare::Json,
    );
    s.encrypt(
        "e.cfg",
        b"A=b\n",
        &["--input-type", "dotenv", "--output-type", "dotenv"],
    );
    check(
        &s,
        "e.cfg",
        &["--input-type", "dotenv", "--output-type", "dotenv"],
        Compare::Bytes,
    );
}

#[test]
fn ignore_mac_reads_a_changed_file() {
    let s = Scratch::new();
    let enc = s.encrypt("t.yaml", b"secret: s3cr3t\npublic_unencrypted: one\n", &[]);
    let changed = String::from_utf8(enc)
        .unwrap()
        .replace("public_unencrypted: one", "public_unencrypted: two");
    s.write("t.yaml", changed.as_bytes());
    check(&s, "t.yaml", &["--ignore-mac"], Compare::Yaml);
    let ours = s.ours(&["t.yaml"]);
    let sops = s.sops(&["t.yaml"]);
    support::assert_both_fail("changed file without --ignore-mac", &ours, &sops, 51, 51);
}

/// A large document (thousands of top-level entries, over 512 KiB): every kind of entry,
/// optionally with top-level comments, so the reader's entry-by-entry conversion and its comment
/// placement are both exercised at size.
fn large_yaml(n: usize, comments: bool) -> String {
    let mut s = String::new();
    for i in 0..n {
        if comments && i % 400 == 7 {
            s.push_str(&format!("# section {i}\n"));
        }
        s.push_str(&match i % 10 {
            0 => format!("port_{i:05}_unencrypted: {i}\n"),
            1 => format!("group_{i:05}:\n    user: u{i}\n    pass: \"p ✓ {i}\"\n    n: {i}\n"),
            2 => format!("list_{i:05}:\n    - a{i}\n    - {i}\n    - true\n"),
            3 => format!("empty_{i:05}: \"\"\n"),
            4 => format!("flag_{i:05}: false\n"),
            5 => format!("ratio_{i:05}: {i}.5\n"),
            _ => format!("secret_{i:05}: {}\n", "s3cr3t-".repeat(9) + &i.to_string()),
        });
    }
    s
}

#[test]
fn large_documents_print_what_sops_prints() {
    let s = Scratch::new();
    let enc = s.encrypt("big.yaml", large_yaml(3500, false).as_bytes(), &[]);
    assert!(
        enc.len() > 600_000,
        "{} bytes: too small to be cut",
        enc.len()
    );
    check(&s, "big.yaml", &[], Compare::Bytes);
    check(&s, "big.yaml", &["--output-type", "json"], Compare::Bytes);
    check(
        &s,
        "big.yaml",
        &["--extract", r#"["group_03491"]"#],
        Compare::Bytes,
    );
}

#[test]
fn large_documents_with_comments_and_mac_only_encrypted() {
    let s = scratch_with_rule("      mac_only_encrypted: true\n");
    s.encrypt_raw("c.yaml", large_yaml(3500, true).as_bytes(), &[]);
    check(&s, "c.yaml", &[], Compare::Bytes);
    let s = Scratch::new();
    s.encrypt("u.yaml", large_yaml(3500, true).as_bytes(), &[]);
    check(&s, "u.yaml", &[], Compare::Bytes);
}

/// A change late in a large document is caught as it is in a small one: a clear value by the MAC, a value by its authentication tag.
#[test]
fn large_documents_changed_late_fail_like_sops() {
    let s = Scratch::new();
    let enc =
        String::from_utf8(s.encrypt("big.yaml", large_yaml(3500, false).as_bytes(), &[])).unwrap();
    let clear = enc.replace(
        "port_03490_unencrypted: 3490",
        "port_03490_unencrypted: 3491",
    );
    assert_ne!(clear, enc);
    s.write("clear.yaml", clear.as_bytes());
    let (ours, sops) = (s.ours(&["clear.yaml"]), s.sops(&["clear.yaml"]));
    support::assert_both_fail("a clear value changed late", &ours, &sops, 51, 51);

    let line = enc
        .lines()
        .find(|l| l.starts_with("secret_03489: ENC[AES256_GCM,data:"))
        .unwrap();
    let spoiled = line.replacen("data:", "data:AAAA", 1);
    s.write("value.yaml", enc.replace(line, &spoiled).as_bytes());
    let (ours, sops) = (s.ours(&["value.yaml"]), s.sops(&["value.yaml"]));
    assert_eq!(
        ours.status.code(),
        sops.status.code(),
        "same exit code as sops"
    );
    assert!(!ours.status.success());
    let err = String::from_utf8_lossy(&ours.stderr);
    assert!(
        err.contains(r#"["secret_03489"]"#),
        "names the value: {err}"
    );
}

/// A document with this many top-level items is decrypted in several runs on several threads
/// (src/sops/decrypt: 256 items per thread at least); its MAC must still come out in document
/// order and comments must still govern what follows them across the cuts.
fn large_document(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i % 7 == 0 {
            s.push_str("# sops:enc\n");
        }
        match i % 13 {
            0 => s.push_str(&format!("k{i}:\n    a: {i}\n    b: [x{i}, true, 1.5]\n")),
            1 => s.push_str(&format!("k{i}: {i}\n")),
            2 => s.push_str(&format!("k{i}: false\n")),
            3 => s.push_str(&format!("k{i}_unencrypted: clear {i}\n")),
            _ => s.push_str(&format!("k{i}: value-{i}\n")),
        }
    }
    s
}

#[test]
fn large_documents_decrypted_in_parallel_runs() {
    let text = large_document(1500);
    // No comment rule: every run decrypts alone; the MAC check proves the order.
    roundtrip("big.yaml", &text, &[]);
    // Comment rules: a run must start where the walk's comment stack is empty.
    roundtrip_with_config("c.yaml", &text, "      encrypted_comment_regex: sops:enc\n");
    roundtrip_with_config(
        "u.yaml",
        &text,
        "      unencrypted_comment_regex: sops:enc\n",
    );
    roundtrip_with_config("m.yaml", &text, "      mac_only_encrypted: true\n");
    // Every entry under its own marker comment: items alternate comment, entry (1602 of them),
    // so a cut made without moving on to just after an entry separates an entry from its
    // marker (on two cores the middle item is a comment).
    let marked: String = (0..801)
        .map(|i| format!("# sops:enc\nk{i}: v{i}\n"))
        .collect();
    roundtrip_with_config(
        "e.yaml",
        &marked,
        "      encrypted_comment_regex: sops:enc\n",
    );
    // The layout sops writes without comments: the YAML fast path, then the parallel runs.
    let flat: String = (0..2000).map(|i| format!("key_{i}: v{i}\n")).collect();
    roundtrip("flat.yaml", &flat, &[]);
    let json = format!(
        "{{{}}}",
        (0..1200)
            .map(|i| format!("\"k{i}\": {{\"v\": {i}, \"s\": \"x{i}\"}}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    roundtrip("big.json", &json, &[]);
}
