//! The sops workflow commands (`rotate`, `set`, `unset`, `groups`, `exec-env`, `exec-file`,
//! `filestatus`, `completions`) and passphrase-protected identities, each run side by side with
//! the real sops 3.11: the files we write must decrypt (with sops) to what sops' own command
//! gives, sops' files must go through ours, and exit codes must match.

use crate::common;

use common::AgeKey;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn nix_sops_cmd(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let home = dir.join(".home");
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nix-sops"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .args(args)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn ours(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    nix_sops_cmd(dir, args, env).output().unwrap()
}

fn keyed(key_file: &Path) -> [(&str, &str); 1] {
    [("SOPS_AGE_KEY_FILE", key_file.to_str().unwrap())]
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A directory with a key, and `plaintext` encrypted by the real sops as `name`.
struct Fixture {
    dir: tempfile::TempDir,
    key: AgeKey,
    key_file: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let (dir, key, key_file) = common::dir_with_key("key.txt");
        Fixture { dir, key, key_file }
    }
    fn d(&self) -> &Path {
        self.dir.path()
    }
    /// `plaintext` encrypted by sops to this fixture's key, written as `name`.
    fn sops_file(&self, name: &str, plaintext: &[u8]) {
        let enc = common::sops_encrypt(
            self.d(),
            &format!("plain-{name}"),
            plaintext,
            &["--age", &self.key.recipient],
        );
        // Encrypted under the final name's format: sops picks the store by extension.
        std::fs::write(self.d().join(name), enc).unwrap();
    }
    fn sops(&self, args: &[&str]) -> Output {
        common::sops(self.d(), args, &keyed(&self.key_file))
    }
    /// nix-sops with the environment `common::sops` gives sops (exec-env passes it on).
    fn ours(&self, args: &[&str]) -> Output {
        let [key] = keyed(&self.key_file);
        ours(self.d(), args, &[key, ("SOPS_DISABLE_VERSION_CHECK", "1")])
    }
    /// The plaintext of `name` as the real sops decrypts it.
    fn sops_plain(&self, name: &str) -> String {
        let out = self.sops(&["decrypt", name]);
        assert!(out.status.success(), "sops decrypt {name}: {}", err(&out));
        String::from_utf8(out.stdout).unwrap()
    }
    fn copy(&self, from: &str, to: &str) {
        std::fs::copy(self.d().join(from), self.d().join(to)).unwrap();
    }
    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.d().join(name)).unwrap()
    }
}

const YAML: &str = "\
# a comment
db:
    user: admin
    password: hunter2
    port: 5432
list:
    - one
    - 2
    - three: 3
flag: true
ratio: 1.5
";

const JSON: &str = "{\n\t\"db\": {\n\t\t\"user\": \"admin\",\n\t\t\"port\": 5432\n\t},\n\t\"list\": [\n\t\t\"one\",\n\t\t2\n\t],\n\t\"flag\": true\n}";

const DOTENV: &str = "USER=admin\nPASSWORD=hunter2\n# comment\nPORT=5432\n";

// ---------------------------------------------------------------------------------------------
// set / unset

/// Runs `cmd` (set/unset with its arguments, `{}` for the file) with sops on one copy of `src`
/// and with nix-sops on another: same exit code, and when it succeeds, the two files decrypt
/// (with sops) to the same text. Returns the decrypted text (or None).
fn same_as_sops(f: &Fixture, src: &str, args: &[&str]) -> Option<String> {
    let ext = Path::new(src).extension().unwrap().to_str().unwrap();
    let (a, b) = (format!("by-sops.{ext}"), format!("by-us.{ext}"));
    f.copy(src, &a);
    f.copy(src, &b);
    let with = |name: &str| -> Vec<String> {
        args.iter()
            .map(|x| {
                if *x == "{}" {
                    name.to_owned()
                } else {
                    (*x).to_owned()
                }
            })
            .collect()
    };
    let sa = with(&a);
    let sb = with(&b);
    let s = f.sops(&sa.iter().map(String::as_str).collect::<Vec<_>>());
    let o = f.ours(&sb.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        o.status.code(),
        s.status.code(),
        "{args:?}: exit codes differ; sops: {} / ours: {}",
        err(&s),
        err(&o)
    );
    if !s.status.success() {
        // Nothing written by either.
        assert_eq!(
            f.read(&b),
            f.read(src),
            "{args:?}: failed, yet the file changed"
        );
        return None;
    }
    let (pa, pb) = (f.sops_plain(&a), f.sops_plain(&b));
    assert_eq!(pb, pa, "{args:?}: sops decrypts our file differently");
    // And our result goes through ours as well.
    let mine = f.ours(&["decrypt", &b]);
    assert!(mine.status.success(), "{}", err(&mine));
    assert_eq!(String::from_utf8(mine.stdout).unwrap(), pa);
    Some(pa)
}

#[test]
fn set_matches_sops_on_yaml() {
    let f = Fixture::new();
    f.sops_file("s.yaml", YAML.as_bytes());
    let cases: &[&[&str]] = &[
        &["set", "{}", r#"["db"]["password"]"#, r#""n3w\nline""#],
        &["set", "{}", r#"["db"]["port"]"#, "6543"],
        &["set", "{}", r#"["new"]["deep"][0]"#, "true"],
        &[
            "set",
            "{}",
            r#"["list"][1]"#,
            r#"{"a": {"b": [1, "x", null]}, "c": 2.5}"#,
        ],
        &["set", "{}", r#"["list"][9]"#, "null"],
        &["set", "{}", r#"["flag"]["sub"]"#, r#""x""#],
        // String escapes, decoded by the JSON store; a string and more is not one value.
        &[
            "set",
            "{}",
            r#"["esc"]"#,
            r#" "\u00e9 \"q\" \ud83d\ude00 \/ \t" "#,
        ],
        &["set", "{}", r#"["esc"]"#, r#""unterminated"#],
        &["set", "{}", r#"["esc"]"#, r#""a" "b""#],
        &["set", "{}", r#"["list"][2]["three"]"#, "-4"],
        &["set", "{}", r#"["ratio"]"#, "1e3"],
        // An index on a map adds nothing (yet rewrites the file), as in sops.
        &["set", "{}", r#"["db"][0]"#, "1"],
        &["set", "{}", r#"["list"][1][2]"#, r#""x""#],
        // Errors: bad index (7), bad JSON (7), an array (7), too few arguments (100).
        &["set", "{}", "db", "1"],
        &["set", "{}", r#"["db"]"#, "notjson"],
        &["set", "{}", r#"["db"]"#, "[1, 2]"],
        &["set", "{}", r#"["db"]"#],
        &["set", "missing.yaml", r#"["db"]"#, "1"],
        // --decryption-order: a valid one works, a repeated type is 112.
        &[
            "set",
            "--decryption-order",
            "pgp,age",
            "{}",
            r#"["o"]"#,
            "1",
        ],
        &[
            "set",
            "--decryption-order",
            "age,age",
            "{}",
            r#"["o"]"#,
            "1",
        ],
        // decrypt refuses it the same way (112), before reading anything.
        &["decrypt", "--decryption-order", "age,age", "{}"],
    ];
    for case in cases {
        same_as_sops(&f, "s.yaml", case);
    }
}

#[test]
fn set_matches_sops_on_json_and_dotenv() {
    let f = Fixture::new();
    f.sops_file("s.json", JSON.as_bytes());
    f.sops_file("s.env", DOTENV.as_bytes());
    for case in [
        &["set", "{}", r#"["db"]["user"]"#, r#""root""#][..],
        &["set", "{}", r#"["list"][0]"#, "7"],
        &["set", "{}", r#"["extra"]"#, r#"{"k": "v"}"#],
    ] {
        same_as_sops(&f, "s.json", case);
    }
    for case in [
        &["set", "{}", r#"["PASSWORD"]"#, r#""s3cret""#][..],
        &["set", "{}", r#"["NEW"]"#, "1.25"],
        // A map cannot be written as dotenv: sops and we fail alike.
        &["set", "{}", r#"["NESTED"]"#, r#"{"a": "b"}"#],
    ] {
        same_as_sops(&f, "s.env", case);
    }
}

#[test]
fn set_and_unset_match_sops_on_multi_document_yaml_ini_and_binary() {
    let f = Fixture::new();
    // Only the first document changes; the others keep their values and comments.
    f.sops_file(
        "m.yaml",
        b"a: 1\n# c\nb: two\n---\na: other\n---\n# third\nz: [1, 2]\n",
    );
    f.sops_file(
        "s.ini",
        b"[db]\nuser = admin\npass = x\n\n[web]\nport = 80\n",
    );
    f.sops_file("s.bin", b"binary \x00\x01 data\n");
    for case in [
        &["set", "{}", r#"["a"]"#, r#""changed""#][..],
        &["set", "{}", r#"["n"]["m"]"#, "3"],
        &["unset", "{}", r#"["b"]"#],
    ] {
        same_as_sops(&f, "m.yaml", case);
    }
    for case in [
        &["set", "{}", r#"["db"]["pass"]"#, r#""s3cret""#][..],
        &["set", "{}", r#"["new"]"#, r#"{"k": "v"}"#],
        &["unset", "{}", r#"["web"]["port"]"#],
    ] {
        same_as_sops(&f, "s.ini", case);
    }
    let text = same_as_sops(
        &f,
        "s.bin",
        &["set", "{}", r#"["data"]"#, r#""replaced\n""#],
    );
    assert_eq!(text.as_deref(), Some("replaced\n"));
}

#[test]
fn set_unset_and_rotate_keep_the_files_crypt_rule() {
    let f = Fixture::new();
    let enc = common::sops_encrypt(
        f.d(),
        "plain-r.yaml",
        YAML.as_bytes(),
        &["--age", &f.key.recipient, "--encrypted-regex", "^(db|new)$"],
    );
    std::fs::write(f.d().join("r.yaml"), enc).unwrap();
    for case in [
        &["set", "{}", r#"["new"]"#, r#"{"x": "y"}"#][..],
        &["set", "{}", r#"["flag"]"#, "false"],
        &["unset", "{}", r#"["db"]["user"]"#],
        &["rotate", "-i", "{}"],
    ] {
        same_as_sops(&f, "r.yaml", case);
        // Only the selected keys are encrypted, as in sops' result.
        let ours = String::from_utf8(f.read("by-us.yaml")).unwrap();
        assert!(ours.contains("flag: "), "{ours}");
        assert!(!ours.contains("flag: ENC["), "{ours}");
        assert!(ours.contains("encrypted_regex: ^(db|new)$"), "{ours}");
    }
}

#[test]
fn set_value_from_stdin_and_file_and_idempotent() {
    let f = Fixture::new();
    f.sops_file("s.yaml", YAML.as_bytes());
    std::fs::write(f.d().join("value.json"), r#""from a file""#).unwrap();
    let a = same_as_sops(
        &f,
        "s.yaml",
        &[
            "set",
            "--value-file",
            "{}",
            r#"["db"]["password"]"#,
            "value.json",
        ],
    )
    .unwrap();
    assert!(a.contains("password: from a file"), "{a}");

    // --value-stdin: the value never appears in argv.
    f.copy("s.yaml", "stdin.yaml");
    let mut child = nix_sops_cmd(
        f.d(),
        &["set", "--value-stdin", "stdin.yaml", r#"["db"]["user"]"#],
        &keyed(&f.key_file),
    )
    .stdin(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"\"piped\"\n")
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", err(&out));
    assert!(f.sops_plain("stdin.yaml").contains("user: piped"));

    // --idempotent with the value already there: the file is not rewritten, by either.
    for who in ["sops", "ours"] {
        f.copy("s.yaml", "idem.yaml");
        let args = [
            "set",
            "--idempotent",
            "idem.yaml",
            r#"["db"]["user"]"#,
            r#""admin""#,
        ];
        let out = if who == "sops" {
            f.sops(&args)
        } else {
            f.ours(&args)
        };
        assert!(out.status.success(), "{who}: {}", err(&out));
        assert_eq!(
            f.read("idem.yaml"),
            f.read("s.yaml"),
            "{who} rewrote the file"
        );
        // An int in the file is not the JSON number (a float64) for sops: that is a change.
        let args = [
            "set",
            "--idempotent",
            "idem.yaml",
            r#"["db"]["port"]"#,
            "5432",
        ];
        let out = if who == "sops" {
            f.sops(&args)
        } else {
            f.ours(&args)
        };
        assert!(out.status.success(), "{who}: {}", err(&out));
        assert_ne!(f.read("idem.yaml"), f.read("s.yaml"), "{who} did not write");
    }
}

#[test]
fn unset_matches_sops() {
    let f = Fixture::new();
    f.sops_file("s.yaml", YAML.as_bytes());
    f.sops_file("s.json", JSON.as_bytes());
    for case in [
        &["unset", "{}", r#"["db"]["password"]"#][..],
        &["unset", "{}", r#"["list"][0]"#],
        &["unset", "{}", r#"["list"][2]["three"]"#],
        &["unset", "{}", r#"["db"]"#],
        // Missing: 1; with --idempotent: 0 and nothing written.
        &["unset", "{}", r#"["nope"]"#],
        &["unset", "{}", r#"["list"][7]"#],
        &["unset", "{}", r#"["db"][0]"#],
        &["unset", "--idempotent", "{}", r#"["nope"]"#],
        // Through a scalar: an error that --idempotent does not hide.
        &["unset", "--idempotent", "{}", r#"["flag"]["x"]"#],
        &["unset", "{}", "bad"],
        &["unset", "{}"],
    ] {
        same_as_sops(&f, "s.yaml", case);
    }
    f.copy("s.yaml", "idem.yaml");
    let out = f.ours(&["unset", "--idempotent", "idem.yaml", r#"["nope"]"#]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(f.read("idem.yaml"), f.read("s.yaml"));
    same_as_sops(&f, "s.json", &["unset", "{}", r#"["list"][1]"#]);
}

// ---------------------------------------------------------------------------------------------
// rotate and groups

fn enc_values(text: &str) -> Vec<String> {
    text.split("ENC[")
        .skip(1)
        .map(|s| s.split(']').next().unwrap().to_owned())
        .collect()
}

#[test]
fn rotate_gives_a_new_data_key_and_the_same_plaintext_as_sops() {
    let f = Fixture::new();
    f.sops_file("s.yaml", YAML.as_bytes());
    let before = String::from_utf8(f.read("s.yaml")).unwrap();
    let plain = f.sops_plain("s.yaml");

    f.copy("s.yaml", "ours.yaml");
    let out = f.ours(&["rotate", "-i", "ours.yaml"]);
    assert!(out.status.success(), "{}", err(&out));
    let after = String::from_utf8(f.read("ours.yaml")).unwrap();
    assert_eq!(f.sops_plain("ours.yaml"), plain);
    // Every value and the age stanza are new.
    let (old, new) = (enc_values(&before), enc_values(&after));
    assert_eq!(old.len(), new.len());
    assert!(old.iter().all(|v| !new.contains(v)));
    let stanza = |t: &str| {
        t.split("-----BEGIN AGE ENCRYPTED FILE-----")
            .nth(1)
            .unwrap()
            .to_owned()
    };
    assert_ne!(stanza(&before), stanza(&after));

    // Without -i: to stdout, the file untouched; sops rotates what we wrote, and we rotate sops'.
    let out = f.ours(&["rotate", "ours.yaml"]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(f.read("ours.yaml"), after.as_bytes());
    std::fs::write(f.d().join("stdout.yaml"), &out.stdout).unwrap();
    assert_eq!(f.sops_plain("stdout.yaml"), plain);
    let out = f.sops(&["rotate", "-i", "stdout.yaml"]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(f.sops_plain("stdout.yaml"), plain);
    f.copy("s.yaml", "theirs.yaml");
    assert!(f.sops(&["rotate", "-i", "theirs.yaml"]).status.success());
    assert!(f
        .ours(&["rotate", "--output", "out.yaml", "theirs.yaml"])
        .status
        .success());
    assert_eq!(f.sops_plain("out.yaml"), plain);

    // --filename-override: the types come from that name, not the file's.
    f.copy("s.yaml", "s.data");
    for who in ["sops", "ours"] {
        let out_name = format!("{who}-override.yaml");
        let args = [
            "rotate",
            "--filename-override",
            "x.yaml",
            "--output",
            &out_name,
            "s.data",
        ];
        let out = if who == "sops" {
            f.sops(&args)
        } else {
            f.ours(&args)
        };
        assert!(out.status.success(), "{who}: {}", err(&out));
        assert_eq!(f.sops_plain(&out_name), plain, "{who}");
    }

    // Exit codes: no file 100, a missing file 2, --output with -i 8, keys on a missing file 49.
    for args in [
        &["rotate"][..],
        &["rotate", "missing.yaml"],
        &["rotate", "-i", "--output", "x.yaml", "s.yaml"],
        &["rotate", "--add-age", &f.key.recipient, "missing.yaml"],
        &["rotate", "--decryption-order", "age,pgp,age", "s.yaml"],
    ] {
        let (s, o) = (f.sops(args), f.ours(args));
        assert_eq!(
            o.status.code(),
            s.status.code(),
            "{args:?}: {} / {}",
            err(&s),
            err(&o)
        );
    }
}

#[test]
fn rotate_adds_and_removes_keys_as_sops_does() {
    let f = Fixture::new();
    let other = AgeKey::generate();
    let other_file = other.write(f.d(), "other.txt");
    f.sops_file("s.yaml", YAML.as_bytes());
    let plain = f.sops_plain("s.yaml");
    for who in ["sops", "ours"] {
        let name = format!("{who}.yaml");
        f.copy("s.yaml", &name);
        let args = [
            "rotate",
            "-i",
            "--add-age",
            &other.recipient,
            "--rm-age",
            &f.key.recipient,
            &name,
        ];
        let out = if who == "sops" {
            f.sops(&args)
        } else {
            f.ours(&args)
        };
        assert!(out.status.success(), "{who}: {}", err(&out));
        // The removed key no longer decrypts; the added one does.
        let old = common::sops_decrypt(f.d(), &name, &f.key_file, &[]);
        assert_eq!(old.status.code(), Some(128), "{who}");
        let new = common::sops_decrypt(f.d(), &name, &other_file, &[]);
        assert!(new.status.success(), "{who}: {}", err(&new));
        assert_eq!(String::from_utf8(new.stdout).unwrap(), plain);
    }
    let recipients = |name: &str| -> Vec<String> {
        String::from_utf8(f.read(name))
            .unwrap()
            .lines()
            .filter(|l| l.contains("recipient:"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(recipients("ours.yaml"), recipients("sops.yaml"));
}

/// A throwaway GnuPG home with one passphrase-less key made by the real gpg: (home, fingerprint).
fn gpg_home(dir: &Path) -> (PathBuf, String) {
    common::require("gpg");
    let home = dir.join("gnupg");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .arg("--batch")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "gpg {args:?}: {}", err(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        "nix-sops <t@example.invalid>",
        "rsa2048",
        "encr",
        "never",
    ]);
    let fp = gpg(&["--with-colons", "--list-keys"])
        .lines()
        .find_map(|l| {
            l.strip_prefix("fpr:")
                .map(|r| r.trim_matches(':').to_owned())
        })
        .unwrap();
    (home, fp)
}

#[test]
fn rotate_adds_and_removes_pgp_keys_as_sops_does() {
    let f = Fixture::new();
    let (home, fp) = gpg_home(f.d());
    let home_s = home.to_str().unwrap();
    f.sops_file("s.yaml", YAML.as_bytes());
    let plain = f.sops_plain("s.yaml");
    let key = f.key_file.to_str().unwrap();
    let env = [("SOPS_AGE_KEY_FILE", key), ("GNUPGHOME", home_s)];
    // Only the GnuPG key: no age identity anywhere.
    let pgp_only = |name: &str| common::sops(f.d(), &["decrypt", name], &[("GNUPGHOME", home_s)]);
    for who in ["sops", "ours"] {
        let name = format!("{who}.yaml");
        f.copy("s.yaml", &name);
        let run = |args: &[&str]| {
            if who == "sops" {
                common::sops(f.d(), args, &env)
            } else {
                ours(f.d(), args, &env)
            }
        };
        let out = run(&["rotate", "-i", "--add-pgp", &fp, &name]);
        assert!(out.status.success(), "{who}: {}", err(&out));
        let out = pgp_only(&name);
        assert!(out.status.success(), "{who}: {}", err(&out));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), plain);
        let out = run(&["rotate", "-i", "--rm-pgp", &fp, &name]);
        assert!(out.status.success(), "{who}: {}", err(&out));
        assert_eq!(pgp_only(&name).status.code(), Some(128), "{who}");
        assert_eq!(f.sops_plain(&name), plain);
    }
}

#[test]
fn groups_exit_codes_as_sops() {
    let f = Fixture::new();
    f.sops_file("s.yaml", YAML.as_bytes());
    let other = AgeKey::generate();
    let other_file = other.write(f.d(), "other.txt");
    for args in [
        &["groups", "delete", "-f", "missing.yaml", "0"][..],
        &[
            "groups",
            "add",
            "-f",
            "missing.yaml",
            "--age",
            &other.recipient,
        ],
        &["groups", "delete", "-f", "s.yaml", "x"],
        &["groups", "delete", "-f", "s.yaml"],
        &["groups", "delete", "s.yaml", "0"],
    ] {
        let (s, o) = (f.sops(args), f.ours(args));
        assert_eq!(
            o.status.code(),
            s.status.code(),
            "{args:?}: {} / {}",
            err(&s),
            err(&o)
        );
    }
    // No key for the file: 1 here (not 128 as for decrypt), in both.
    let args = ["groups", "add", "-f", "s.yaml", "--age", &other.recipient];
    let s = common::sops(f.d(), &args, &keyed(&other_file));
    let o = ours(f.d(), &args, &keyed(&other_file));
    assert_eq!(s.status.code(), Some(1), "{}", err(&s));
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
}

#[test]
fn groups_add_and_delete_as_sops() {
    let f = Fixture::new();
    let b = AgeKey::generate();
    let both = f.d().join("both.txt");
    std::fs::write(&both, format!("{}{}", f.key.file_text, b.file_text)).unwrap();
    let b_file = b.write(f.d(), "b.txt");
    f.sops_file("s.yaml", YAML.as_bytes());
    let plain = f.sops_plain("s.yaml");
    for who in ["sops", "ours"] {
        let name = format!("{who}.yaml");
        f.copy("s.yaml", &name);
        let run_with = |key: &Path, args: &[&str]| {
            if who == "sops" {
                common::sops(f.d(), args, &keyed(key))
            } else {
                ours(f.d(), args, &keyed(key))
            }
        };
        let run = |args: &[&str]| run_with(&f.key_file, args);
        let out = run(&["groups", "add", "-i", "-f", &name, "--age", &b.recipient]);
        assert!(out.status.success(), "{who}: {}", err(&out));
        // Two groups, threshold 2: one key alone is not enough, both are.
        let text = String::from_utf8(f.read(&name)).unwrap();
        assert!(text.contains("shamir_threshold: 2"), "{who}: {text}");
        let one = common::sops_decrypt(f.d(), &name, &f.key_file, &[]);
        assert_ne!(one.status.code(), Some(0), "{who}");
        let two = common::sops_decrypt(f.d(), &name, &both, &[]);
        assert!(two.status.success(), "{who}: {}", err(&two));
        assert_eq!(String::from_utf8(two.stdout).unwrap(), plain);

        // Rotating a two-group file: new Shamir shares, same threshold, both keys still needed.
        let out = run_with(&both, &["rotate", "-i", &name]);
        assert!(out.status.success(), "{who}: {}", err(&out));
        let text = String::from_utf8(f.read(&name)).unwrap();
        assert!(text.contains("shamir_threshold: 2"), "{who}: {text}");
        let one = common::sops_decrypt(f.d(), &name, &b_file, &[]);
        assert_ne!(one.status.code(), Some(0), "{who}");
        let two = common::sops_decrypt(f.d(), &name, &both, &[]);
        assert!(two.status.success(), "{who}: {}", err(&two));
        assert_eq!(String::from_utf8(two.stdout).unwrap(), plain);

        // Deleting a group below the threshold is refused; with threshold 1 it works. (The
        // data key now needs both groups' keys.)
        let out = run_with(&both, &["groups", "delete", "-i", "-f", &name, "0"]);
        assert_eq!(out.status.code(), Some(1), "{who}");
        let out = run_with(
            &both,
            &[
                "groups",
                "delete",
                "-i",
                "-f",
                &name,
                "--shamir-secret-sharing-threshold",
                "1",
                "0",
            ],
        );
        assert!(out.status.success(), "{who}: {}", err(&out));
        let only_b = common::sops_decrypt(f.d(), &name, &b_file, &[]);
        assert!(only_b.status.success(), "{who}: {}", err(&only_b));
        assert_eq!(String::from_utf8(only_b.stdout).unwrap(), plain);
        let a = common::sops_decrypt(f.d(), &name, &f.key_file, &[]);
        assert_eq!(a.status.code(), Some(128), "{who}");
    }
}

// ---------------------------------------------------------------------------------------------
// exec-env / exec-file

const ENV_YAML: &str = "\
# skipped
PLAIN: hello world
MULTI: |
    line1
    line2
NUM: 42
FLOAT: 1.50
BIG: 1e21
FLAG: true
NOTHING: null
EMPTY: \"\"
";

/// The environment a command sees, as NUL-separated `env -0` output, sorted.
fn env_of(out: &Output) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

#[test]
fn exec_env_gives_the_environment_sops_gives() {
    let f = Fixture::new();
    f.sops_file("e.yaml", ENV_YAML.as_bytes());
    f.sops_file("s.yaml", YAML.as_bytes());
    for flags in [&[][..], &["--pristine"], &["--same-process"]] {
        let mut args = vec!["exec-env"];
        args.extend_from_slice(flags);
        args.extend(["e.yaml", "env -0"]);
        let (s, o) = (f.sops(&args), f.ours(&args));
        assert!(s.status.success(), "{}", err(&s));
        assert!(o.status.success(), "{}", err(&o));
        let (se, oe) = (env_of(&s), env_of(&o));
        assert!(se.iter().any(|l| l == "MULTI=line1\nline2\n"), "{se:?}");
        assert_eq!(oe, se, "{flags:?}");
    }
    // The command's exit code; a nested value is refused; a missing command is an error.
    for args in [
        &["exec-env", "e.yaml", "exit 7"][..],
        &["exec-env", "e.yaml", "kill -TERM $$"],
        &["exec-env", "s.yaml", "true"],
        &["exec-env", "e.yaml"],
        &["exec-env", "missing.yaml", "true"],
    ] {
        let (s, o) = (f.sops(args), f.ours(args));
        assert_eq!(
            o.status.code(),
            s.status.code(),
            "{args:?}: {} / {}",
            err(&s),
            err(&o)
        );
    }
}

#[test]
fn exec_file_hands_the_command_what_sops_hands_it() {
    let f = Fixture::new();
    f.sops_file("s.yaml", YAML.as_bytes());
    f.sops_file("s.env", DOTENV.as_bytes());
    for args in [
        &["exec-file", "s.yaml", "cat {}"][..],
        &["exec-file", "--output-type", "json", "s.yaml", "cat {}"],
        &[
            "exec-file",
            "--no-fifo",
            "--filename",
            "x.yaml",
            "s.yaml",
            "cat {}; cat {}",
        ],
        &["exec-file", "s.env", "cat {}"],
        &["exec-file", "s.yaml", "exit 3"],
        // A command that never opens the FIFO: nobody waits for a reader.
        &["exec-file", "s.yaml", "echo not read"],
        &["exec-file", "s.yaml"],
        // As another user (the suite runs as root): the FIFO is theirs to read.
        &[
            "exec-file",
            "--user",
            "nobody",
            "s.yaml",
            "id -u; id -g; id -G; cat {}",
        ],
        &[
            "exec-env",
            "--user",
            "nobody",
            "s.env",
            "id -u; id -G; echo \"$USER $PORT\"",
        ],
    ] {
        let (s, o) = (f.sops(args), f.ours(args));
        assert_eq!(
            o.status.code(),
            s.status.code(),
            "{args:?}: {} / {}",
            err(&s),
            err(&o)
        );
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&s.stdout),
            "{args:?}"
        );
    }
    // The plaintext's directory: 0700, named as asked, gone afterwards; a FIFO by default.
    for (flags, kind) in [(&[][..], "fifo"), (&["--no-fifo"][..], "regular file")] {
        let mut args = vec!["exec-file"];
        args.extend_from_slice(flags);
        args.extend([
            "--filename",
            "app.conf",
            "s.yaml",
            "echo {}; stat -c '%a %F' \"$(dirname {})\" {}",
        ]);
        let o = f.ours(&args);
        assert!(o.status.success(), "{}", err(&o));
        let text = String::from_utf8(o.stdout).unwrap();
        let mut lines = text.lines();
        let path = PathBuf::from(lines.next().unwrap());
        assert_eq!(path.file_name().unwrap(), "app.conf");
        assert_eq!(lines.next().unwrap(), "700 directory");
        assert!(lines.next().unwrap().contains(kind), "{text}");
        assert!(
            !path.parent().unwrap().exists(),
            "{} left behind",
            path.display()
        );
    }
}

#[test]
fn exec_file_removes_the_plaintext_when_killed() {
    let f = Fixture::new();
    f.sops_file("s.yaml", YAML.as_bytes());
    let marker = f.d().join("path");
    for signal in ["TERM", "HUP"] {
        let mut child = nix_sops_cmd(
            f.d(),
            &[
                "exec-file",
                "--no-fifo",
                "s.yaml",
                &format!("echo {{}} > '{}'; exec sleep 60", marker.display()),
            ],
            &keyed(&f.key_file),
        )
        .spawn()
        .unwrap();
        let start = std::time::Instant::now();
        while std::fs::read_to_string(&marker).map_or(true, |s| !s.ends_with('\n')) {
            assert!(start.elapsed().as_secs() < 20, "the command never started");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let path = PathBuf::from(std::fs::read_to_string(&marker).unwrap().trim());
        assert!(path.exists());
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let status = child.wait().unwrap();
        // The command was killed by the same signal; nix-sops says so (255, as sops) and
        // cleans up.
        assert_eq!(status.code(), Some(255));
        assert!(
            !path.parent().unwrap().exists(),
            "{signal}: plaintext left behind"
        );
        std::fs::remove_file(&marker).unwrap();
    }
}

#[test]
fn exec_file_keeps_plaintext_files_off_disks() {
    // In a private mount namespace, /dev/shm is made a directory on a disk (the test checks)
    // and $XDG_RUNTIME_DIR points at a disk too: a FIFO may then live in $TMPDIR, a plaintext
    // file (--no-fifo) may not.
    common::require("unshare");
    let f = Fixture::new();
    f.sops_file("s.yaml", YAML.as_bytes());
    // Under the target directory: on a disk even where /tmp is a tmpfs.
    let disk_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let disk = disk_dir.path().to_path_buf();
    let fs = Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(&disk)
        .output()
        .unwrap();
    assert_ne!(
        String::from_utf8_lossy(&fs.stdout).trim(),
        "tmpfs",
        "needs a disk under the target directory"
    );
    let run = |flags: &str| {
        let script = format!(
            "mount --bind '{disk}' /dev/shm && exec '{bin}' exec-file {flags} s.yaml 'echo {{}}; cat {{}}'",
            disk = disk.display(),
            bin = env!("CARGO_BIN_EXE_nix-sops"),
        );
        Command::new("unshare")
            .args(["-m", "sh", "-c", &script])
            .current_dir(f.d())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", f.d())
            .env("TMPDIR", &disk)
            .env("XDG_RUNTIME_DIR", &disk)
            .env("SOPS_AGE_KEY_FILE", &f.key_file)
            .output()
            .unwrap()
    };
    let out = run("--no-fifo");
    assert_eq!(out.status.code(), Some(1), "{}", err(&out));
    assert!(err(&out).contains("RAM-backed"), "{}", err(&out));
    assert!(out.stdout.is_empty());
    let out = run("");
    assert!(out.status.success(), "{}", err(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let path = text.lines().next().unwrap();
    assert!(path.starts_with(disk.to_str().unwrap()), "{text}");
    assert!(text.ends_with(&f.sops_plain("s.yaml")), "{text}");
    assert_eq!(std::fs::read_dir(&disk).unwrap().count(), 0, "left behind");
}

// ---------------------------------------------------------------------------------------------
// filestatus

#[test]
fn filestatus_prints_what_sops_prints() {
    let f = Fixture::new();
    f.sops_file("s.yaml", YAML.as_bytes());
    f.sops_file("s.json", JSON.as_bytes());
    f.sops_file("s.env", DOTENV.as_bytes());
    f.sops_file("s.ini", b"[section]\nkey = value\n");
    f.sops_file("s.bin", b"\x00\x01binary");
    std::fs::write(f.d().join("p.yaml"), YAML).unwrap();
    std::fs::write(f.d().join("p.json"), JSON).unwrap();
    std::fs::write(f.d().join("p.env"), DOTENV).unwrap();
    std::fs::write(f.d().join("p.ini"), "[a]\nb = c\n").unwrap();
    std::fs::write(f.d().join("broken.yaml"), "a: [\n").unwrap();
    std::fs::write(f.d().join("p.txt"), "just text\n").unwrap();
    // A sops block without a MAC, or with an empty version, is not "encrypted"; one that is
    // not a map is an error.
    let enc = String::from_utf8(f.read("s.yaml")).unwrap();
    let keep = |l: &str| !l.contains("mac:");
    let no_mac: String = enc
        .lines()
        .filter(|l| keep(l))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(f.d().join("no-mac.yaml"), no_mac).unwrap();
    let no_version = enc.replace("    version: 3.11.0\n", "    version: \"\"\n");
    assert_ne!(no_version, enc);
    std::fs::write(f.d().join("no-version.yaml"), no_version).unwrap();
    std::fs::write(f.d().join("bad-sops.yaml"), "a: 1\nsops: hello\n").unwrap();
    let mut cases: Vec<Vec<&str>> = [
        "s.yaml",
        "s.json",
        "s.env",
        "s.ini",
        "s.bin",
        "p.yaml",
        "p.json",
        "p.env",
        "p.ini",
        "broken.yaml",
        "p.txt",
        "missing.yaml",
        "no-mac.yaml",
        "no-version.yaml",
        "bad-sops.yaml",
    ]
    .iter()
    .map(|n| vec!["filestatus", *n])
    .collect();
    cases.push(vec!["filestatus"]);
    cases.push(vec!["filestatus", "--input-type", "json", "s.yaml"]);
    cases.push(vec!["filestatus", "--input-type", "yaml", "s.json"]);
    for args in &cases {
        let (s, o) = (f.sops(args), f.ours(args));
        assert_eq!(
            o.status.code(),
            s.status.code(),
            "{args:?}: {} / {}",
            err(&s),
            err(&o)
        );
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&s.stdout),
            "{args:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// passphrase-protected identities

/// `age -p` (the real age) of the key file, through a pseudo-terminal made by `script`.
fn age_passphrase_encrypt(input: &Path, output: &Path, passphrase: &str) {
    common::require("age");
    common::require("script");
    let cmd = format!("age -p -o '{}' '{}'", output.display(), input.display());
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        write!(stdin, "{passphrase}\n{passphrase}\n").unwrap();
    }
    assert!(child.wait().unwrap().success(), "age -p failed");
    assert!(output.exists());
}

/// Runs `nix-sops args` on a pseudo-terminal (`script`), typing `typed` once the prompt shows
/// (typed earlier, the terminal would still echo it). Returns the exit status and everything
/// the terminal showed.
fn ours_on_a_terminal(
    dir: &Path,
    args: &str,
    env: &[(&str, &str)],
    typed: &str,
) -> (std::process::ExitStatus, String) {
    use std::io::{Read, Write};
    let cmd = format!("{} {args}", env!("CARGO_BIN_EXE_nix-sops"));
    let mut c = Command::new("script");
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.join(".home"))
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut stdin = child.stdin.take().unwrap();
    let start = std::time::Instant::now();
    let mut typed_yet = false;
    while let Ok(chunk) = rx.recv_timeout(std::time::Duration::from_secs(30)) {
        seen.extend_from_slice(&chunk);
        if !typed_yet && String::from_utf8_lossy(&seen).contains("Type passphrase") {
            stdin.write_all(typed.as_bytes()).unwrap();
            stdin.flush().unwrap();
            typed_yet = true;
        }
        assert!(
            start.elapsed().as_secs() < 60,
            "timed out: {:?}",
            String::from_utf8_lossy(&seen)
        );
    }
    let status = child.wait().unwrap();
    drop(stdin);
    reader.join().unwrap();
    (status, String::from_utf8_lossy(&seen).replace("\r\n", "\n"))
}

#[test]
fn passphrase_protected_identity_made_by_age_decrypts() {
    let f = Fixture::new();
    std::fs::create_dir_all(f.d().join(".home")).unwrap();
    f.sops_file("s.yaml", YAML.as_bytes());
    let plain = f.sops_plain("s.yaml");
    let locked = f.d().join("key.age");
    age_passphrase_encrypt(&f.key_file, &locked, "correct horse");
    let locked_s = locked.to_str().unwrap();

    // SOPS_AGE_KEY_FILE, --identity and the default path all ask on the terminal.
    let config = f.d().join("config");
    let config_s = config.to_str().unwrap();
    std::fs::create_dir_all(config.join("sops/age")).unwrap();
    std::fs::copy(&locked, config.join("sops/age/keys.txt")).unwrap();
    let identity_args = format!("decrypt --identity {locked_s} s.yaml");
    let sources: [(&str, Vec<(&str, &str)>); 3] = [
        ("decrypt s.yaml", vec![("SOPS_AGE_KEY_FILE", locked_s)]),
        (&identity_args, vec![]),
        ("decrypt s.yaml", vec![("XDG_CONFIG_HOME", config_s)]),
    ];
    for (args, env) in &sources {
        let (status, text) = ours_on_a_terminal(f.d(), args, env, "correct horse\n");
        assert!(status.success(), "{args}: {text}");
        assert!(text.contains("passphrase"), "{args}: no prompt in {text:?}");
        assert!(text.ends_with(&plain), "{args}: {text:?}");
        assert!(
            !text.contains("correct horse"),
            "the passphrase was echoed: {text:?}"
        );
    }

    // Line editing: a backspace removes the last character; ^C cancels like an interrupt.
    let env = [("SOPS_AGE_KEY_FILE", locked_s)];
    let (status, text) = ours_on_a_terminal(f.d(), "decrypt s.yaml", &env, "correct horsX\x7fe\n");
    assert!(status.success(), "{text}");
    assert!(text.ends_with(&plain), "{text:?}");
    let (status, text) = ours_on_a_terminal(f.d(), "decrypt s.yaml", &env, "correct\x03");
    assert!(!status.success(), "{text}");
    assert!(!text.contains("hunter2"), "{text:?}");

    // A wrong passphrase: no key (128), the file named.
    let (status, text) = ours_on_a_terminal(
        f.d(),
        "decrypt s.yaml",
        &[("SOPS_AGE_KEY_FILE", locked_s)],
        "wrong\n",
    );
    assert_eq!(status.code(), Some(128), "{text}");
    assert!(
        text.contains(locked_s) && text.contains("wrong or missing passphrase"),
        "{text}"
    );

    // No terminal at all (setsid, stdin a pipe): never read from the pipe; a clear error.
    let mut child = Command::new("setsid")
        .arg(env!("CARGO_BIN_EXE_nix-sops"))
        .args(["decrypt", "s.yaml"])
        .current_dir(f.d())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", f.d().join(".home"))
        .env("SOPS_AGE_KEY_FILE", locked_s)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let _ = child.stdin.take().unwrap().write_all(b"correct horse\n");
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(128));
    let e = err(&out);
    assert!(e.contains(locked_s) && e.contains("/dev/tty"), "{e}");
}

#[test]
fn activation_never_asks_for_a_passphrase() {
    // The installer, on a terminal (`script`) with an `age -p` key file: it must fail at once,
    // naming the file, and never prompt (activation has nobody to answer).
    let f = Fixture::new();
    f.sops_file("s.yaml", b"token: t0k3n\n");
    let locked = f.d().join("key.age");
    age_passphrase_encrypt(&f.key_file, &locked, "correct horse");
    let run_dir = f.d().join("run");
    std::fs::create_dir(&run_dir).unwrap();
    let manifest = serde_json::json!({
        "secrets": [{
            "name": "token", "key": "token", "path": "%r/t/secrets/token", "format": "yaml",
            "mode": "0400", "owner": null, "uid": 0, "group": null, "gid": 0,
            "sopsFile": f.d().join("s.yaml"), "sopsFileHash": "", "restartUnits": [],
            "reloadUnits": [], "neededForUsers": false
        }],
        "templates": [], "placeholderBySecretName": {},
        "secretsMountPoint": "%r/t/secrets.d", "symlinkPath": "%r/t/secrets",
        "keepGenerations": 1, "gnupgHome": null, "sshKeyPaths": [], "ageKeyFile": locked,
        "ageSshKeyPaths": [], "useTmpfs": false, "userMode": true,
        "logging": { "keyImport": true, "secretChanges": true }
    });
    std::fs::write(f.d().join("m.json"), manifest.to_string()).unwrap();
    let cmd = format!(
        "{} {}",
        env!("CARGO_BIN_EXE_sops-install-secrets"),
        f.d().join("m.json").display()
    );
    let start = std::time::Instant::now();
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(f.d())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", f.d())
        .env("XDG_RUNTIME_DIR", &run_dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(start.elapsed().as_secs() < 30, "took {:?}", start.elapsed());
    assert!(!text.contains("Type passphrase"), "prompted: {text}");
    assert!(text.contains(locked.to_str().unwrap()), "{text}");
    assert!(text.contains("cannot ask for the passphrase"), "{text}");
    assert!(!run_dir.join("t/secrets/token").exists());
}

// ---------------------------------------------------------------------------------------------
// completions

#[test]
fn bash_completions_load_and_know_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = ours(dir.path(), &["completions", shell], &[]);
        assert!(out.status.success(), "{shell}: {}", err(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        for sub in ["rotate", "exec-env", "filestatus", "updatekeys"] {
            assert!(text.contains(sub), "{shell}: no {sub}");
        }
    }
    // bash itself loads the script and registers the completion function.
    let script = ours(dir.path(), &["completions", "bash"], &[]).stdout;
    std::fs::write(dir.path().join("c.bash"), script).unwrap();
    let out = Command::new("bash")
        .args(["-c", "source ./c.bash && complete -p nix-sops"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", err(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nix-sops"));
    // An unknown shell is a usage error.
    assert_eq!(
        ours(dir.path(), &["completions", "tcsh"], &[])
            .status
            .code(),
        Some(2)
    );
}

/// With `--user`, only the plaintext (file or FIFO) becomes the user's; its directory stays
/// root's and 0711, so the user can read the plaintext but never swap it for a link that root
/// would then chown or write through (root used to chown the directory to the user first).
#[test]
fn exec_file_as_another_user_gives_them_only_the_plaintext() {
    let f = Fixture::new();
    f.sops_file("s.yaml", YAML.as_bytes());
    let want = String::from_utf8(f.sops(&["decrypt", "s.yaml"]).stdout).unwrap();
    for extra in [&[][..], &["--no-fifo"]] {
        let mut args = vec!["exec-file", "--user", "nobody"];
        args.extend_from_slice(extra);
        args.extend(["s.yaml", r#"stat -c '%U %a' "$(dirname {})" {}; cat {}"#]);
        let o = f.ours(&args);
        assert!(o.status.success(), "{extra:?}: {}", err(&o));
        let out = String::from_utf8(o.stdout).unwrap();
        let (owners, text) = out.split_at(out.find('\n').unwrap() + 1);
        assert_eq!(owners, "root 711\n", "{extra:?}: {out}");
        let (file, text) = text.split_at(text.find('\n').unwrap() + 1);
        assert!(file.starts_with("nobody 600"), "{extra:?}: {file}");
        assert_eq!(text, want, "{extra:?}");
    }
}
