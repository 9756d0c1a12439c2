//! Hostile and broken inputs: files made by the real sops, then changed by hand. For each, the
//! real sops' exit code and nix-sops' exit code and message are asserted, and nix-sops' stderr
//! must not reveal any plaintext of the fixture.

use crate::{common, support};

use std::time::Instant;
use support::{assert_no_secret, assert_same, Compare, Scratch};

/// The plaintexts of [`FIXTURE`] that are encrypted: none may ever appear in stderr.
const SECRETS: &[&str] = &[
    "s3cr3t-alpha-7781",
    "tok-bravo-4412",
    "item-charlie-9034",
    "note-delta-1209",
];

const FIXTURE: &str = "password: s3cr3t-alpha-7781\n# note-delta-1209\napi:\n    token: tok-bravo-4412\n    port: 8443\nlist:\n    - item-charlie-9034\npublic_unencrypted: clear-value\n";

/// A scratch with [`FIXTURE`] encrypted by sops as `h.yaml`; returns the encrypted text.
fn fixture() -> (Scratch, String) {
    let s = Scratch::new();
    let enc = s.encrypt("h.yaml", FIXTURE.as_bytes(), &[]);
    (s, String::from_utf8(enc).unwrap())
}

/// The encrypted line of `key` (its first occurrence at any indentation).
fn line_of<'a>(enc: &'a str, key: &str) -> &'a str {
    enc.lines()
        .find(|l| {
            l.trim_start()
                .starts_with(&format!("{}:", key.trim_start()))
        })
        .unwrap_or_else(|| panic!("fixture has no {key} line"))
}

/// The ENC[…] value on `key`'s line.
fn enc_of<'a>(enc: &'a str, key: &str) -> &'a str {
    let l = line_of(enc, key);
    &l[l.find("ENC[").expect("an ENC value")..]
}

/// Replaces the field `field:` (data, iv, tag) of `key`'s ENC value with `with`.
fn with_field(enc: &str, key: &str, field: &str, with: &str) -> String {
    let value = enc_of(enc, key);
    let start = value.find(&format!("{field}:")).unwrap() + field.len() + 1;
    let end = start + value[start..].find([',', ']']).unwrap();
    let changed = format!("{}{}{}", &value[..start], with, &value[end..]);
    enc.replacen(value, &changed, 1)
}

/// Writes `bytes` as `name`, decrypts it with both tools (`args` before the name), and asserts
/// sops' exit code, ours, our message, and that no secret leaks. Returns our stderr.
fn expect_failure(
    s: &Scratch,
    name: &str,
    bytes: &[u8],
    args: &[&str],
    sops_code: i32,
    ours_code: i32,
    needles: &[&str],
) -> String {
    s.write(name, bytes);
    let mut full = args.to_vec();
    full.push(name);
    let what = format!("{name} {args:?}");
    let err =
        support::assert_both_fail(&what, &s.ours(&full), &s.sops(&full), sops_code, ours_code);
    assert!(
        err.starts_with(&format!("nix-sops: {name}: ")),
        "{what}: stderr should start with `nix-sops: {name}: `: {err}"
    );
    for n in needles {
        assert!(err.contains(n), "{what}: stderr lacks {n:?}: {err}");
    }
    assert_no_secret(&what, &err, SECRETS);
    err
}

// ---- the MAC catches changes to the tree ---------------------------------------------------

#[test]
fn changed_unencrypted_value() {
    let (s, enc) = fixture();
    let bad = enc.replace(
        "public_unencrypted: clear-value",
        "public_unencrypted: other-value",
    );
    expect_failure(&s, "h.yaml", bad.as_bytes(), &[], 51, 51, &["MAC mismatch"]);
}

#[test]
fn added_key() {
    let (s, enc) = fixture();
    let bad = enc.replace("sops:\n", "added_unencrypted: new\nsops:\n");
    expect_failure(&s, "h.yaml", bad.as_bytes(), &[], 51, 51, &["MAC mismatch"]);
}

#[test]
fn removed_key() {
    let (s, enc) = fixture();
    let bad = enc.replace(&format!("{}\n", line_of(&enc, "public_unencrypted")), "");
    expect_failure(&s, "h.yaml", bad.as_bytes(), &[], 51, 51, &["MAC mismatch"]);
}

#[test]
fn reordered_keys() {
    let (s, enc) = fixture();
    let public = format!("{}\n", line_of(&enc, "public_unencrypted"));
    let bad = format!("{public}{}", enc.replace(&public, ""));
    expect_failure(&s, "h.yaml", bad.as_bytes(), &[], 51, 51, &["MAC mismatch"]);
}

#[test]
fn missing_mac() {
    let (s, enc) = fixture();
    let bad = enc.replace(&format!("{}\n", line_of(&enc, "    mac")), "");
    expect_failure(&s, "h.yaml", bad.as_bytes(), &[], 51, 51, &["MAC"]);
}

#[test]
fn mac_not_enc() {
    let (s, enc) = fixture();
    let bad = enc.replace(line_of(&enc, "    mac"), "    mac: 0123456789ABCDEF");
    expect_failure(&s, "h.yaml", bad.as_bytes(), &[], 51, 51, &["MAC"]);
}

#[test]
fn mac_tampered_ciphertext() {
    let (s, enc) = fixture();
    let bad = with_field(&enc, "    mac", "tag", "AAAAAAAAAAAAAAAAAAAAAA==");
    expect_failure(&s, "h.yaml", bad.as_bytes(), &[], 51, 51, &["MAC"]);
}

/// `--ignore-mac` skips decrypting the stored MAC too: sops reads the file.
#[test]
fn broken_mac_with_ignore_mac() {
    let (s, enc) = fixture();
    let bad = with_field(&enc, "    mac", "tag", "AAAAAAAAAAAAAAAAAAAAAA==");
    s.write("h.yaml", bad.as_bytes());
    let args = ["--ignore-mac", "h.yaml"];
    assert_same(
        "broken MAC, --ignore-mac",
        Compare::Yaml,
        &s.ours(&args),
        &s.sops(&args),
    );
}

/// The MAC is bound to `lastmodified` (its AAD): a new time fails it.
#[test]
fn changed_lastmodified() {
    let (s, enc) = fixture();
    let bad = enc.replace(
        line_of(&enc, "    lastmodified"),
        "    lastmodified: \"2001-01-01T00:00:00Z\"",
    );
    expect_failure(&s, "h.yaml", bad.as_bytes(), &[], 51, 51, &["MAC"]);
}

/// sops re-formats `lastmodified` with RFC 3339 before using it as AAD, so fractions do not count.
#[test]
fn lastmodified_with_fraction_still_verifies() {
    let (s, enc) = fixture();
    let l = line_of(&enc, "    lastmodified");
    let fractional = l.replace("Z\"", ".25Z\"");
    s.write("h.yaml", enc.replace(l, &fractional).as_bytes());
    assert_same(
        "lastmodified with a fraction",
        Compare::Yaml,
        &s.ours(&["h.yaml"]),
        &s.sops(&["h.yaml"]),
    );
}

#[test]
fn bad_lastmodified() {
    let (s, enc) = fixture();
    let bad = enc.replace(
        line_of(&enc, "    lastmodified"),
        "    lastmodified: yesterday",
    );
    expect_failure(&s, "h.yaml", bad.as_bytes(), &[], 1, 1, &["lastmodified"]);
}

// ---- keys ---------------------------------------------------------------------------------------

#[test]
fn wrong_key() {
    let (s, enc) = fixture();
    let other = common::AgeKey::generate();
    let other_file = other.write(s.path(), "other.txt");
    let env = vec![(
        "SOPS_AGE_KEY_FILE".to_string(),
        other_file.to_str().unwrap().to_string(),
    )];
    s.write("h.yaml", enc.as_bytes());
    let ours = s.ours_env(&["h.yaml"], &env);
    let sops = s.sops_env(&["h.yaml"], &env);
    let err = support::assert_both_fail("wrong key", &ours, &sops, 128, 128);
    assert!(err.starts_with("nix-sops: h.yaml: "), "stderr: {err}");
    assert!(err.contains("data key"), "stderr: {err}");
    assert!(
        err.contains(&s.key.recipient),
        "names the file's recipient: {err}"
    );
    assert_no_secret("wrong key", &err, SECRETS);
}

#[test]
fn no_key_at_all() {
    let (s, enc) = fixture();
    s.write("h.yaml", enc.as_bytes());
    let ours = s.ours_env(&["h.yaml"], &[]);
    let sops = s.sops_env(&["h.yaml"], &[]);
    let err = support::assert_both_fail("no key", &ours, &sops, 128, 128);
    assert!(err.contains("data key"), "stderr: {err}");
}

#[test]
fn corrupted_age_stanza() {
    let (s, enc) = fixture();
    let armored = enc
        .lines()
        .find(|l| l.trim_start().starts_with("YWdl"))
        .expect("an armored age line");
    let bad = enc.replace(armored, &armored.replace("YWdl", "AAAA"));
    expect_failure(&s, "h.yaml", bad.as_bytes(), &[], 128, 128, &["data key"]);
}

// ---- broken files ---------------------------------------------------------------------------

#[test]
fn truncated_before_metadata() {
    let (s, enc) = fixture();
    let cut = &enc[..enc.find("list:").unwrap()];
    expect_failure(
        &s,
        "h.yaml",
        cut.as_bytes(),
        &[],
        1,
        1,
        &["metadata not found"],
    );
}

#[test]
fn truncated_inside_metadata() {
    let (s, enc) = fixture();
    let cut = &enc[..enc.find("    lastmodified").unwrap()];
    expect_failure(&s, "h.yaml", cut.as_bytes(), &[], 1, 1, &[]);
}

#[test]
fn truncated_mid_value() {
    let (s, enc) = fixture();
    let cut = &enc[..enc.find("password: ENC[").unwrap() + 30];
    expect_failure(&s, "h.yaml", cut.as_bytes(), &[], 1, 1, &[]);
}

#[test]
fn missing_sops_block() {
    let (s, enc) = fixture();
    let cut = &enc[..enc.find("sops:").unwrap()];
    expect_failure(
        &s,
        "h.yaml",
        cut.as_bytes(),
        &[],
        1,
        1,
        &["metadata not found"],
    );
}

#[test]
fn sops_block_not_a_map() {
    let (s, enc) = fixture();
    let cut = format!("{}sops: 5\n", &enc[..enc.find("sops:").unwrap()]);
    expect_failure(&s, "h.yaml", cut.as_bytes(), &[], 1, 1, &["sops"]);
}

#[test]
fn bad_version() {
    let (s, enc) = fixture();
    let bad = enc.replace("version: 3.11.0", "version: banana");
    expect_failure(&s, "h.yaml", bad.as_bytes(), &[], 1, 1, &["version"]);
}

#[test]
fn empty_file() {
    let s = Scratch::new();
    expect_failure(&s, "empty.yaml", b"", &[], 1, 1, &["metadata not found"]);
    expect_failure(&s, "empty.json", b"", &[], 1, 1, &[]);
}

#[test]
fn not_yaml_at_all() {
    let s = Scratch::new();
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    expect_failure(&s, "noise.yaml", &bytes, &[], 1, 1, &[]);
    expect_failure(&s, "noise.json", &bytes, &[], 1, 1, &[]);
    expect_failure(&s, "noise.yaml", b"a: [unclosed\n", &[], 1, 1, &[]);
}

#[test]
fn unreadable_input() {
    let s = Scratch::new();
    std::fs::create_dir(s.path().join("dir.yaml")).unwrap();
    let ours = s.ours(&["dir.yaml"]);
    let sops = s.sops(&["dir.yaml"]);
    let err = support::assert_both_fail("a directory", &ours, &sops, 2, 2);
    assert!(err.contains("dir.yaml"), "names the file: {err}");
}

/// sops checks that the file exists first and exits 100 ("cannot operate on non-existent
/// file"); so does nix-sops.
#[test]
fn missing_input() {
    let s = Scratch::new();
    let ours = s.ours(&["nope.yaml"]);
    let sops = s.sops(&["nope.yaml"]);
    let err = support::assert_both_fail("a missing file", &ours, &sops, 100, 100);
    assert!(err.contains("nope.yaml"), "names the file: {err}");
}

// ---- broken values ----------------------------------------------------------------------------

#[test]
fn plain_string_where_enc_expected() {
    let (s, enc) = fixture();
    let bad = enc.replace(line_of(&enc, "password"), "password: not-encrypted");
    expect_failure(&s, "h.yaml", bad.as_bytes(), &[], 25, 25, &["password"]);
}

/// sops 3.11 panics (Go exit 2) on a non-string where ENC[…] belongs; nix-sops gives a clear error.
#[test]
fn int_where_enc_expected() {
    let (s, enc) = fixture();
    let bad = enc.replace(line_of(&enc, "password"), "password: 42");
    expect_failure(&s, "h.yaml", bad.as_bytes(), &[], 2, 25, &["password"]);
}

#[test]
fn bad_base64() {
    let (s, enc) = fixture();
    let bad = with_field(&enc, "password", "data", "no*base64!");
    expect_failure(
        &s,
        "h.yaml",
        bad.as_bytes(),
        &[],
        25,
        25,
        &["password", "base64"],
    );
}

#[test]
fn wrong_iv_length() {
    let (s, enc) = fixture();
    let bad = with_field(&enc, "token", "iv", "AAAAAAAAAAAAAAAA");
    expect_failure(
        &s,
        "h.yaml",
        bad.as_bytes(),
        &[],
        25,
        25,
        &["[\"api\"][\"token\"]"],
    );
}

#[test]
fn wrong_tag() {
    let (s, enc) = fixture();
    let bad = with_field(&enc, "password", "tag", "AAAAAAAAAAAAAAAAAAAAAA==");
    expect_failure(&s, "h.yaml", bad.as_bytes(), &[], 25, 25, &["password"]);
}

#[test]
fn short_tag() {
    let (s, enc) = fixture();
    let bad = with_field(&enc, "password", "tag", "AAAA");
    expect_failure(&s, "h.yaml", bad.as_bytes(), &[], 25, 25, &["password"]);
}

#[test]
fn unknown_value_type() {
    let (s, enc) = fixture();
    let bad = with_field(&enc, "password", "type", "blob");
    expect_failure(&s, "h.yaml", bad.as_bytes(), &[], 25, 25, &["password"]);
}

/// A value's AAD is its key path: a ciphertext moved to another key does not authenticate.
#[test]
fn swapped_ciphertexts() {
    let (s, enc) = fixture();
    let pw = enc_of(&enc, "password").to_string();
    let tok = enc_of(&enc, "token").to_string();
    let bad = enc
        .replacen(&pw, "@PW@", 1)
        .replacen(&tok, &pw, 1)
        .replacen("@PW@", &tok, 1);
    expect_failure(&s, "h.yaml", bad.as_bytes(), &[], 25, 25, &["password"]);
}

/// Flipping a ciphertext bit fails authentication; sops and nix-sops both refuse.
#[test]
fn flipped_ciphertext_bit() {
    let (s, enc) = fixture();
    let data = {
        let v = enc_of(&enc, "token");
        let start = v.find("data:").unwrap() + 5;
        v[start..start + v[start..].find(',').unwrap()].to_string()
    };
    let mut flipped = data.clone().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let bad = with_field(
        &enc,
        "token",
        "data",
        std::str::from_utf8(&flipped).unwrap(),
    );
    expect_failure(
        &s,
        "h.yaml",
        bad.as_bytes(),
        &[],
        25,
        25,
        &["[\"api\"][\"token\"]"],
    );
}

/// A comment that no longer decrypts is kept as text, with a warning, as sops 3.11 does.
#[test]
fn tampered_comment_is_kept() {
    let (s, enc) = fixture();
    let bad = enc.replacen("#ENC[AES256_GCM,data:", "#ENC[AES256_GCM,data:A", 1);
    s.write("h.yaml", bad.as_bytes());
    assert_same(
        "tampered comment",
        Compare::Yaml,
        &s.ours(&["h.yaml"]),
        &s.sops(&["h.yaml"]),
    );
}

// ---- other stores -----------------------------------------------------------------------------

#[test]
fn json_broken() {
    let s = Scratch::new();
    let enc = String::from_utf8(s.encrypt(
        "h.json",
        br#"{"password": "s3cr3t-alpha-7781", "n": {"token": "tok-bravo-4412"}}"#,
        &[],
    ))
    .unwrap();
    let cut = &enc[..enc.len() / 2];
    expect_failure(&s, "h.json", cut.as_bytes(), &[], 1, 1, &[]);
    let no_sops = format!("{}}}\n", &enc[..enc.find(",\n\t\"sops\"").unwrap()]);
    expect_failure(
        &s,
        "h.json",
        no_sops.as_bytes(),
        &[],
        1,
        1,
        &["metadata not found"],
    );
    let bad = enc.replacen("\"password\": \"ENC[", "\"password\": \"XNC[", 1);
    expect_failure(&s, "h.json", bad.as_bytes(), &[], 25, 25, &["password"]);
    expect_failure(&s, "h.json", b"[1, 2]", &[], 1, 1, &[]);
}

#[test]
fn dotenv_broken() {
    let s = Scratch::new();
    let enc = String::from_utf8(s.encrypt(
        "h.env",
        b"PASSWORD=s3cr3t-alpha-7781\nTOKEN=tok-bravo-4412\n",
        &[],
    ))
    .unwrap();
    let no_sops: String = enc
        .lines()
        .filter(|l| !l.starts_with("sops_"))
        .map(|l| format!("{l}\n"))
        .collect();
    expect_failure(
        &s,
        "h.env",
        no_sops.as_bytes(),
        &[],
        1,
        1,
        &["metadata not found"],
    );
    let added = format!("EXTRA=x\n{enc}");
    expect_failure(&s, "h.env", added.as_bytes(), &[], 25, 25, &["EXTRA"]);
}

#[test]
fn ini_broken() {
    let s = Scratch::new();
    let enc = String::from_utf8(s.encrypt(
        "h.ini",
        b"[db]\npassword = s3cr3t-alpha-7781\ntoken = tok-bravo-4412\n",
        &[],
    ))
    .unwrap();
    let no_sops = &enc[..enc.find("[sops]").unwrap()];
    expect_failure(
        &s,
        "h.ini",
        no_sops.as_bytes(),
        &[],
        1,
        1,
        &["metadata not found"],
    );
    let moved = enc.replacen("[db]", "[other]", 1);
    expect_failure(&s, "h.ini", moved.as_bytes(), &[], 25, 25, &["password"]);
}

#[test]
fn binary_broken() {
    let s = Scratch::new();
    let enc = String::from_utf8(s.encrypt("h.bin", b"s3cr3t-alpha-7781 raw", &[])).unwrap();
    let bad = enc.replacen("\"data\": \"ENC[", "\"data\": \"XNC[", 1);
    expect_failure(&s, "h.bin", bad.as_bytes(), &[], 25, 25, &["data"]);
    let truncated = &enc[..enc.len() - 40];
    expect_failure(&s, "h.bin", truncated.as_bytes(), &[], 1, 1, &[]);
}

// ---- size ---------------------------------------------------------------------------------------

/// A ~50 MB binary secret (one huge value) decrypts, byte for byte. Prints the time taken
/// (no timing assertion: the benchmark measures speed).
#[test]
fn fifty_megabytes_binary() {
    let s = Scratch::new();
    let plain: Vec<u8> = (0..50_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    let enc = s.encrypt("big.bin", &plain, &[]);
    let start = Instant::now();
    let out = s.ours(&["big.bin"]);
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == plain, "50 MB binary plaintext differs");
    eprintln!(
        "fifty_megabytes_binary: {} MB encrypted file decrypted in {:.2?}",
        enc.len() / 1_000_000,
        took
    );
}

/// A ~40 MB YAML file of 250k values decrypts to its plaintext (written in sops' own layout, so
/// sops prints it back unchanged); prints the time taken.
#[test]
fn fifty_megabytes_yaml() {
    let s = Scratch::new();
    let mut plain = String::with_capacity(30_000_000);
    for i in 0..2500 {
        plain.push_str(&format!("section_{i:05}:\n"));
        for j in 0..100 {
            plain.push_str(&format!(
                "    key_{j:03}: value-{i:05}-{j:03}-{}\n",
                "x".repeat(44)
            ));
        }
    }
    let enc = s.encrypt("big.yaml", plain.as_bytes(), &[]);
    let start = Instant::now();
    let out = s.ours(&["big.yaml"]);
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout == plain.as_bytes(),
        "250k-value YAML plaintext differs"
    );
    eprintln!(
        "fifty_megabytes_yaml: {} MB encrypted file, 250k values, decrypted in {:.2?}",
        enc.len() / 1_000_000,
        took
    );
}

// ---- YAML bombs ---------------------------------------------------------------------------------

/// A "billion laughs" document: `lol0` is a string, each next level a list of 9 aliases of the
/// one before, 9 levels deep (9^9 ≈ 387 million strings once expanded). `first` is the text of
/// `lol0`'s value.
fn billion_laughs(first: &str) -> String {
    let mut doc = format!("lol0: &lol0 {first}\n");
    for level in 1..=9 {
        let refs = vec![format!("*lol{}", level - 1); 9].join(", ");
        doc.push_str(&format!("lol{level}: &lol{level} [{refs}]\n"));
    }
    doc
}

/// Runs `nix-sops ARGS` in the scratch with at most 512 MiB of address space, and how long it
/// took.
fn ours_bounded(s: &Scratch, args: &[&str]) -> (std::process::Output, std::time::Duration) {
    let start = Instant::now();
    let out = std::process::Command::new("prlimit")
        .arg("--as=536870912")
        .arg(support::ours_bin())
        .args(args)
        .current_dir(s.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", s.path())
        .env("SOPS_AGE_KEY_FILE", &s.key_file)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("prlimit runs nix-sops");
    (out, start.elapsed())
}

/// go-yaml v3 (so sops) refuses to encrypt a billion-laughs file with "excessive aliasing";
/// `nix-sops encrypt` refuses it the same way, at once and in little memory, naming the file.
#[test]
fn billion_laughs_plaintext_is_refused_like_sops() {
    let s = Scratch::new();
    let doc = billion_laughs("\"lol lol lol lol lol lol lol lol lol\"");
    let theirs = common::sops_try_encrypt(
        s.path(),
        "bomb.yaml",
        doc.as_bytes(),
        &["--age", &s.key.recipient],
    );
    let their_err = String::from_utf8_lossy(&theirs.stderr);
    assert!(!theirs.status.success(), "sops encrypted the bomb");
    assert!(
        their_err.contains("excessive aliasing"),
        "sops: {their_err}"
    );

    s.write("bomb.yaml", doc.as_bytes());
    let (out, took) = ours_bounded(&s, &["encrypt", "--age", &s.key.recipient, "bomb.yaml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "nix-sops encrypted the bomb");
    assert!(
        err.contains("excessive aliasing") && err.contains("bomb.yaml"),
        "{err}"
    );
    assert!(took.as_secs() < 10, "took {took:?}");
}

/// The same bomb in an encrypted file (anyone with the public recipient can write one, and the
/// YAML is read before the MAC is checked): `nix-sops decrypt` refuses it with "excessive
/// aliasing" in little memory. sops does not: it decodes encrypted files into go-yaml nodes and
/// expands the aliases itself, so it runs out of memory (asserted under a 1 GiB limit).
#[test]
fn billion_laughs_encrypted_is_refused() {
    let (s, enc) = fixture();
    let bomb = format!(
        "{}{}",
        billion_laughs(enc_of(&enc, "password")),
        &enc[enc.find("\nsops:").unwrap() + 1..]
    );
    let err = expect_failure_bounded(&s, "bomb.yaml", bomb.as_bytes());
    assert!(err.contains("excessive aliasing"), "{err}");

    let theirs = std::process::Command::new("prlimit")
        .arg("--as=1073741824")
        .arg(common::sops_bin())
        .args(["decrypt", "bomb.yaml"])
        .current_dir(s.path())
        .env("SOPS_AGE_KEY_FILE", &s.key_file)
        .output()
        .expect("prlimit runs sops");
    assert!(!theirs.status.success(), "sops decrypted the bomb in 1 GiB");
    assert!(
        String::from_utf8_lossy(&theirs.stderr).contains("out of memory"),
        "sops: {}",
        String::from_utf8_lossy(&theirs.stderr)
    );
}

/// `nix-sops decrypt NAME` under [`ours_bounded`]: fails with exit 1 within seconds, the message
/// names the file and reveals no secret. Returns stderr.
fn expect_failure_bounded(s: &Scratch, name: &str, bytes: &[u8]) -> String {
    s.write(name, bytes);
    let (out, took) = ours_bounded(s, &["decrypt", name]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{name}: {err}");
    assert!(err.starts_with(&format!("nix-sops: {name}: ")), "{err}");
    assert_no_secret(name, &err, SECRETS);
    assert!(took.as_secs() < 10, "{name}: took {took:?}");
    err
}

/// Aliases that expand to a few times the document's size are ordinary YAML: below go-yaml's
/// limit, sops and nix-sops decrypt them to the same text.
#[test]
fn modest_aliasing_still_decrypts_like_sops() {
    let s = Scratch::new();
    let mut plain = String::from("base: &base\n    user: admin\n    pass: hunter2\n");
    for i in 0..50 {
        plain.push_str(&format!("copy{i}: *base\n"));
    }
    s.encrypt("a.yaml", plain.as_bytes(), &[]);
    assert_same(
        "aliases",
        Compare::Yaml,
        &s.ours(&["a.yaml"]),
        &s.sops(&["a.yaml"]),
    );
}

/// Half a million nested brackets: go-yaml stops at 10,000 levels ("exceeded max depth"); the
/// reader here stops at 256 (flow: saphyr's 255), before holding the rest.
#[test]
fn deep_nesting_bomb_is_refused_like_sops() {
    let n = 500_000;
    let doc = format!("a: {}{}\n", "[".repeat(n), "]".repeat(n));
    let s = Scratch::new();
    let theirs = common::sops_try_encrypt(
        s.path(),
        "deep.yaml",
        doc.as_bytes(),
        &["--age", &s.key.recipient],
    );
    let their_err = String::from_utf8_lossy(&theirs.stderr);
    assert!(!theirs.status.success(), "sops encrypted the deep file");
    assert!(
        their_err.contains("exceeded max depth of 10000"),
        "sops: {their_err}"
    );

    s.write("deep.yaml", doc.as_bytes());
    let (out, took) = ours_bounded(&s, &["encrypt", "--age", &s.key.recipient, "deep.yaml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "nix-sops encrypted the deep file");
    assert!(
        err.contains("deep.yaml") && err.contains("recursion limit exceeded"),
        "{err}"
    );
    assert!(took.as_secs() < 10, "took {took:?}");

    // The same depth in an encrypted file, and block nesting (one space per level).
    let (s, enc) = fixture();
    let meta = &enc[enc.find("\nsops:").unwrap() + 1..];
    let err = expect_failure_bounded(&s, "deep.yaml", format!("{doc}{meta}").as_bytes());
    assert!(err.contains("recursion limit exceeded"), "{err}");
    let block: String = (0..2000)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    let err = expect_failure_bounded(&s, "block.yaml", format!("{block}{meta}").as_bytes());
    assert!(err.contains("exceeded max depth of 256"), "{err}");
}
