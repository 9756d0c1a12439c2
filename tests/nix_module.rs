//! The Nix side: every `.nix` file parses; the manifest the module builds matches sops-nix's
//! field for field (bare `nix-instantiate`, no nixpkgs); that manifest installs real secrets
//! with the real installer; and, when `NIX_SOPS_NIXPKGS_LIB` names a nixpkgs `lib` directory,
//! the whole NixOS / home-manager module evaluated with `lib.evalModules`.
//!
//! The expected values in `tests/nix/cases/*.json` are sops-nix's own modules evaluated on each
//! case by the same harness (`tests/nix/cases/regenerate.sh`, from a sops-nix checkout): the
//! manifests, and with nixpkgs' lib the activation scripts, units and files. Markers in them:
//! `@PLACEHOLDER:<secret>@` (sops-nix's `<SOPS:sha256(name):PLACEHOLDER>`), `@FILE@` (a template's
//! store file, checked separately), `@STORE:<repo path>@` / `@SHA256:<repo path>@` (the store copy
//! and hash of a repository file, computed here with `nix-store --add` and sha2).
//!
//! The few values still typed by hand below cite their source as `sops-nix:<file>:<line>`, a
//! file of Mic92/sops-nix at commit 56b24064 (the commit regenerate.sh last read).

mod common;

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn nix_instantiate(args: &[&str]) -> Output {
    common::require("nix-instantiate");
    Command::new("nix-instantiate")
        .current_dir(repo())
        .args(args)
        .output()
        .expect("nix-instantiate runs (scripts/install-peers installs nix-bin)")
}

/// `nix-instantiate --eval --strict --json <file> <args>` → JSON, panicking with Nix's error.
fn eval_json(file: &str, args: &[&str]) -> Value {
    let mut full = vec!["--eval", "--strict", "--json", file];
    full.extend_from_slice(args);
    let out = nix_instantiate(&full);
    assert!(
        out.status.success(),
        "nix-instantiate {file} {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("nix-instantiate --json prints JSON")
}

fn cases() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("tests/nix/cases"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".nix").map(str::to_owned)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 7, "sample configurations missing: {names:?}");
    names
}

fn placeholder(secret: &str) -> String {
    format!("<SOPS:{:x}:PLACEHOLDER>", Sha256::digest(secret.as_bytes()))
}

fn store_copy(repo_path: &str) -> String {
    common::require("nix-store");
    let out = Command::new("nix-store")
        .arg("--add")
        .arg(repo().join(repo_path))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nix-store --add {repo_path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Replaces the markers of an expected manifest (see the module docs) in every string.
fn expand_markers(v: &mut Value) {
    match v {
        Value::String(s) => {
            while let Some(start) = s.find('@') {
                let Some(len) = s[start + 1..].find('@') else {
                    break;
                };
                let marker = s[start + 1..start + 1 + len].to_owned();
                let replacement = if let Some(name) = marker.strip_prefix("PLACEHOLDER:") {
                    placeholder(name)
                } else if let Some(p) = marker.strip_prefix("STORE:") {
                    store_copy(p)
                } else if let Some(p) = marker.strip_prefix("SHA256:") {
                    format!(
                        "{:x}",
                        Sha256::digest(std::fs::read(repo().join(p)).unwrap())
                    )
                } else {
                    break; // @FILE@ is compared separately
                };
                s.replace_range(start..start + len + 2, &replacement);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(expand_markers),
        Value::Object(o) => o.values_mut().for_each(expand_markers),
        _ => {}
    }
}

/// Checks every template's `file` (a store path named after the template; `nix-instantiate
/// --eval` does not write it, so only its name is checked) and replaces it by `@FILE@` so the
/// rest compares exactly.
fn check_template_files(manifest: &mut Value, case: &str) {
    let Some(templates) = manifest.get_mut("templates").and_then(Value::as_array_mut) else {
        return;
    };
    for t in templates {
        let name = t["name"].as_str().unwrap().to_owned();
        let file = t["file"].as_str().unwrap_or_default().to_owned();
        assert!(
            file.starts_with("/nix/store/") && file.ends_with(&format!("-{name}")),
            "{case}: template {name}: file {file:?} is not a store file named after the template"
        );
        t["file"] = Value::String("@FILE@".into());
    }
}

fn expected(case: &str) -> Value {
    let path = repo().join(format!("tests/nix/cases/{case}.json"));
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    expand_markers(&mut v);
    v
}

fn assert_same(case: &str, what: &str, actual: &Value, expected: &Value) {
    assert_eq!(
        actual,
        expected,
        "{case}: {what} differs from sops-nix's\nactual:   {}\nexpected: {}",
        serde_json::to_string_pretty(actual).unwrap(),
        serde_json::to_string_pretty(expected).unwrap()
    );
}

fn nix_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        let name = name.to_string_lossy();
        let path = e.path();
        if e.file_type().unwrap().is_dir() {
            if !matches!(name.as_ref(), "target" | ".git" | "node_modules") {
                nix_files(&path, out);
            }
        } else if name.ends_with(".nix") {
            out.push(path);
        }
    }
}

#[test]
fn every_nix_file_parses() {
    let mut files = Vec::new();
    nix_files(repo(), &mut files);
    for wanted in [
        "flake.nix",
        "nix/package.nix",
        "nix/modules/sops/default.nix",
        "nix/modules/home-manager/sops.nix",
        "nix/checks/nixos-tests.nix",
        "examples/server/flake.nix",
        "examples/server/nixos/hosts/server/configuration.nix",
    ] {
        assert!(
            files.iter().any(|f| f.ends_with(wanted)),
            "{wanted} is missing"
        );
    }
    let mut bad = Vec::new();
    for f in &files {
        let out = nix_instantiate(&["--parse", f.to_str().unwrap()]);
        if !out.status.success() {
            bad.push(format!(
                "{}: {}",
                f.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "Nix files that do not parse:\n{}",
        bad.join("\n")
    );
}

#[test]
fn flake_lock_pins_nixpkgs_to_a_revision_with_its_nar_hash() {
    let lock: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("flake.lock")).unwrap()).unwrap();
    let locked = &lock["nodes"]["nixpkgs"]["locked"];
    let rev = locked["rev"].as_str().expect("nixpkgs has a locked rev");
    assert_eq!(rev.len(), 40, "rev {rev} is not a full commit id");
    assert!(rev.chars().all(|c| c.is_ascii_hexdigit()));
    let nar = locked["narHash"].as_str().expect("nixpkgs has a narHash");
    assert!(
        nar.starts_with("sha256-") && nar.len() == 51,
        "narHash {nar}"
    );
    assert_eq!(lock["nodes"]["root"]["inputs"]["nixpkgs"], "nixpkgs");
}

/// Bare Nix: defaults, nested names, custom paths, owners, templates, the neededForUsers split
/// and home-manager, against the manifests sops-nix would write.
#[test]
fn bare_nix_manifests_match_sops_nix() {
    for case in cases() {
        let arg = format!("./tests/nix/cases/{case}.nix");
        let mut actual = eval_json("tests/nix/bare.nix", &["--arg", "case", &arg]);
        let exp = expected(&case);
        for which in ["manifest", "usersManifest"] {
            check_template_files(&mut actual[which], &case);
            if exp.get(which).is_some() {
                assert_same(&case, which, &actual[which], &exp[which]);
            }
        }
    }
}

#[test]
fn bare_nix_validation_errors_are_sops_nix_messages() {
    // validateSopsFiles (default on): a file outside the store, and one that does not exist
    // (sops-nix:modules/sops/manifest-for.nix:23 and :15).
    let expr = |file: &str| {
        format!(
            "builtins.toJSON ((import ./nix/lib/resolve.nix).nixos {{ sops = {{ defaultSopsFile = {file}; \
             age.keyFile = \"/k\"; secrets.\"a b\" = {{ }}; }}; }}).manifest"
        )
    };
    let outside = nix_instantiate(&["--eval", "--strict", "-E", &expr("\"/etc/hosts\"")]);
    let err = String::from_utf8_lossy(&outside.stderr);
    assert!(!outside.status.success());
    assert!(
        err.contains("'/etc/hosts' is not in the Nix store. Either add it to the Nix store or set sops.validateSopsFiles to false"),
        "{err}"
    );
    let missing = nix_instantiate(&["--eval", "--strict", "-E", &expr("\"/nonexistent/s.yaml\"")]);
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(
        err.contains("Cannot find path '/nonexistent/s.yaml' set in sops.secrets.\"a b\".sopsFile"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// The example server (examples/server).

const EXAMPLE_SECRETS: [&str; 6] = [
    "github_token",
    "GITHUB_TOKEN",
    "database_password",
    "ssh_private_key",
    "wireguard_private_key",
    "tailscale_auth_key",
];

#[test]
fn example_server_hands_each_consumer_its_secret_path() {
    let v = eval_json("tests/nix/example-server.nix", &[]);
    let mut names: Vec<&str> = v["manifest"]["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    names.sort();
    let mut want = EXAMPLE_SECRETS.to_vec();
    want.sort();
    assert_eq!(names, want);
    for name in EXAMPLE_SECRETS {
        let consumer = v["consumers"][name].to_string();
        assert!(
            consumer.contains(&format!("/run/secrets/{name}")),
            "{name}: its consumer does not use config.sops.secrets.{name}.path: {consumer}"
        );
    }
    // Decrypted with the server's SSH host key (services.openssh's default).
    assert_eq!(
        v["manifest"]["ageSshKeyPaths"],
        serde_json::json!(["/etc/ssh/ssh_host_ed25519_key"])
    );
    let db = v["manifest"]["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "database_password")
        .unwrap();
    assert_eq!(
        (&db["owner"], &db["group"]),
        (&"postgres".into(), &"postgres".into())
    );
}

#[test]
fn example_server_secrets_are_real_sops_files_for_the_example_keys() {
    let ex = repo().join("examples/server");
    let admin_key = ex.join("keys/admin-age-key.txt");
    for name in EXAMPLE_SECRETS {
        let out = common::sops_decrypt(
            &ex,
            "nixos/secrets/secrets.yaml",
            &admin_key,
            &["--extract", &format!("[\"{name}\"]")],
        );
        assert!(
            out.status.success() && !out.stdout.is_empty(),
            "the real sops cannot extract {name} with the example admin key: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // .sops.yaml: the rule matches the secrets file and names the admin key and the server's
    // host key converted to age; the file is encrypted to exactly those.
    let rules = std::fs::read_to_string(ex.join(".sops.yaml")).unwrap();
    assert!(rules.contains("path_regex: secrets/.*\\.yaml$"), "{rules}");
    let admin = Command::new("age-keygen")
        .arg("-y")
        .arg(&admin_key)
        .output()
        .unwrap();
    let admin = String::from_utf8(admin.stdout).unwrap().trim().to_owned();
    let pubkey = std::fs::read(ex.join("keys/ssh_host_ed25519_key.pub")).unwrap();
    let mut conv = Command::new(repo().join("nix/scripts/ed25519-to-age"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    Write::write_all(&mut conv.stdin.take().unwrap(), &pubkey).unwrap();
    let server = String::from_utf8(conv.wait_with_output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_owned();
    let encrypted = std::fs::read_to_string(ex.join("nixos/secrets/secrets.yaml")).unwrap();
    for r in [&admin, &server] {
        assert!(r.starts_with("age1"), "{r}");
        assert!(rules.contains(r.as_str()), ".sops.yaml lacks {r}");
        assert!(
            encrypted.contains(&format!("recipient: {r}")),
            "secrets.yaml not encrypted to {r}"
        );
    }
}

/// nix/scripts/ed25519-to-age (used by the fixture scripts) against sops-nix's own test vector:
/// its ssh-ed25519-key.pub is the recipient age1a8pk4… in its secrets.yaml.
#[test]
fn ed25519_to_age_matches_sops_nix_test_vector() {
    let pubkey =
        b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBI1+Q+ntzANebtnicCiAY29uqLGWOaOGLEa8bUqOVmS\n";
    let mut conv = Command::new(repo().join("nix/scripts/ed25519-to-age"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs nix/scripts/ed25519-to-age");
    Write::write_all(&mut conv.stdin.take().unwrap(), pubkey).unwrap();
    let out = conv.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs"
    );
}

// ---------------------------------------------------------------------------------------------
// Nix → manifest → the real installer.

/// Runs `script` as root in a private mount namespace (the installer mounts a ramfs there); it
/// must succeed (else the panic says `failure` and shows both outputs). Returns stdout, stderr.
fn in_private_mount_ns(script: &str, failure: &str) -> (String, String) {
    common::require("unshare");
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-euc", script])
        .output()
        .expect("unshare runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{failure}:\nstdout: {stdout}\nstderr: {stderr}"
    );
    (stdout, stderr)
}

struct Installed {
    uid: u32,
    gid: u32,
    mode: u32,
    content: Vec<u8>,
}

/// Parses the `path uid gid mode hex` lines the namespace script prints.
fn parse_report(stdout: &str) -> std::collections::HashMap<String, Installed> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("FILE "))
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let content = (0..f[4].len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&f[4][i..i + 2], 16).unwrap())
                .collect();
            (
                f[0].to_owned(),
                Installed {
                    uid: f[1].parse().unwrap(),
                    gid: f[2].parse().unwrap(),
                    mode: u32::from_str_radix(f[3], 8).unwrap(),
                    content,
                },
            )
        })
        .collect()
}

#[test]
fn nix_manifest_installs_yaml_secrets_with_the_real_installer() {
    install_from_nix_manifest(
        "yaml",
        "github_token: ghp_example\ndb:\n    password: hunter2\nnested:\n    deep: deep value\n",
    );
}

/// Nested JSON keys fail in sops-nix's Go installer (a bug); ours reads them.
#[test]
fn nix_manifest_installs_json_secrets_with_the_real_installer() {
    install_from_nix_manifest(
        "json",
        r#"{"github_token": "ghp_example", "db": {"password": "hunter2"}, "nested": {"deep": "deep value"}}"#,
    );
}

/// The example server's manifest passes the check its build runs (`-check-mode=sopsfile`: every
/// key exists in the encrypted file), with the sops file at the store path Nix gives it.
#[test]
fn example_server_manifest_passes_the_installers_build_check() {
    let v = eval_json("tests/nix/example-server.nix", &[]);
    let stored = store_copy("examples/server/nixos/secrets/secrets.yaml");
    assert_eq!(v["manifest"]["secrets"][0]["sopsFile"], stored.as_str());
    // It sets sops.hostPubKeys to its host key, so the check also proves the server can decrypt.
    let host_key =
        std::fs::read_to_string(repo().join("examples/server/keys/ssh_host_ed25519_key.pub"))
            .unwrap();
    let host_key: Vec<&str> = host_key.split_whitespace().take(2).collect();
    assert_eq!(
        v["manifest"]["hostPubKeys"],
        serde_json::json!([host_key.join(" ")])
    );
    let dir = tempfile::tempdir().unwrap();
    let out = check_sopsfile(&write_manifest(dir.path(), &v["manifest"]));
    assert!(
        out.status.success(),
        "the build-time check rejects the example: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The example as the server runs it: its manifest, decrypted with its SSH host key converted to
/// age (sops.age.sshKeyPaths), every secret installed with the value the admin encrypted.
#[test]
fn example_server_secrets_install_with_its_ssh_host_key() {
    let v = eval_json("tests/nix/example-server.nix", &[]);
    store_copy("examples/server/nixos/secrets/secrets.yaml");
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().to_str().unwrap();
    let mut m = v["manifest"].clone();
    m["secretsMountPoint"] = format!("{r}/secrets.d").into();
    m["symlinkPath"] = format!("{r}/secrets").into();
    m["ageSshKeyPaths"] = serde_json::json!([repo()
        .join("examples/server/keys/ssh_host_ed25519_key")
        .to_str()
        .unwrap()]);
    for s in m["secrets"].as_array_mut().unwrap() {
        let name = s["name"].as_str().unwrap().to_owned();
        s["path"] = format!("{r}/secrets/{name}").into();
    }
    let manifest = write_manifest(dir.path(), &m);
    // -ignore-passwd: the example's owners (postgres, admin) do not exist on this machine.
    let mut script = format!(
        "'{}' -ignore-passwd '{}'\n",
        installer(),
        manifest.display()
    );
    for name in EXAMPLE_SECRETS {
        script.push_str(&format!(
            "printf 'FILE {name} 0 0 400 %s\\n' \"$(od -An -v -tx1 '{r}/secrets/{name}' | tr -d ' \\n')\"\n"
        ));
    }
    let (stdout, _) =
        in_private_mount_ns(&script, "the example does not install with its host key");
    let got = parse_report(&stdout);
    let admin_key = repo().join("examples/server/keys/admin-age-key.txt");
    for name in EXAMPLE_SECRETS {
        let want = common::sops_decrypt(
            &repo().join("examples/server"),
            "nixos/secrets/secrets.yaml",
            &admin_key,
            &["--extract", &format!("[\"{name}\"]")],
        );
        assert_eq!(
            got[name].content, want.stdout,
            "{name}: installed value differs from what sops decrypts"
        );
    }
}

/// The installer under test; NIX_SOPS_TEST_INSTALLER runs these tests against another build
/// (e.g. sops-nix's Go one).
fn installer() -> String {
    std::env::var("NIX_SOPS_TEST_INSTALLER")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_sops-install-secrets").to_owned())
}

/// A temporary root with an age key: sops files are encrypted to it, Nix builds manifests there.
struct Root {
    dir: tempfile::TempDir,
    key: common::AgeKey,
    key_file: PathBuf,
}

impl Root {
    fn new() -> Root {
        let (dir, key, key_file) = common::dir_with_key("age-keys.txt");
        Root { dir, key, key_file }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn str(&self) -> &str {
        self.path().to_str().unwrap()
    }

    /// `plain` encrypted to the key by the real sops, as `root/name`.
    fn encrypt(&self, name: &str, plain: &[u8]) -> PathBuf {
        let enc = common::sops_encrypt(self.path(), name, plain, &["--age", &self.key.recipient]);
        let path = self.path().join(name);
        std::fs::write(&path, enc).unwrap();
        path
    }

    /// Evaluates the Nix `file` with `root` and `keyFile` and the other `args` as `--argstr`s.
    fn eval(&self, file: &str, args: &[(&str, &str)]) -> Value {
        let key_file = self.key_file.to_str().unwrap();
        let mut argv = vec![
            "--argstr",
            "root",
            self.str(),
            "--argstr",
            "keyFile",
            key_file,
        ];
        for (name, value) in args {
            argv.extend(["--argstr", name, value]);
        }
        eval_json(file, &argv)
    }
}

/// `manifest` as `dir/manifest.json`.
fn write_manifest(dir: &Path, manifest: &Value) -> PathBuf {
    let path = dir.join("manifest.json");
    std::fs::write(&path, serde_json::to_vec(manifest).unwrap()).unwrap();
    path
}

/// The installer's build-time check of `manifest` (`-check-mode=sopsfile`).
fn check_sopsfile(manifest: &Path) -> Output {
    Command::new(installer())
        .arg("-check-mode=sopsfile")
        .arg(manifest)
        .output()
        .unwrap()
}

/// Nix (tests/nix/e2e.nix, the module's pure manifest code) → manifest → the real installer in
/// a private mount namespace → files with the right content, owner and mode.
fn install_from_nix_manifest(format: &str, plaintext: &str) {
    let root = Root::new();
    let sops_file = root.encrypt(&format!("secrets.{format}"), plaintext.as_bytes());
    let manifest = root.eval(
        "tests/nix/e2e.nix",
        &[
            ("format", format),
            ("sopsFile", sops_file.to_str().unwrap()),
        ],
    );
    let manifest_path = write_manifest(root.path(), &manifest);

    let bin = installer();
    let r = root.str();
    let files = [
        "secrets/github_token",
        "secrets/db/password",
        "secrets/numeric",
        "secrets/linked",
        "etc/app/token",
        "secrets/rendered/app.env",
    ];
    let mut script = format!(
        "'{bin}' -check-mode=sopsfile '{m}'\n'{bin}' '{m}'\n",
        m = manifest_path.display()
    );
    for f in files {
        script.push_str(&format!(
            "printf 'FILE {f} %s %s\\n' \"$(stat -L -c '%u %g %a' '{r}/{f}')\" \"$(od -An -v -tx1 '{r}/{f}' | tr -d ' \\n')\"\n"
        ));
    }
    script.push_str(&format!(
        "readlink '{r}/etc/app/token'\nreadlink '{r}/secrets'\n"
    ));
    let (stdout, stderr) =
        in_private_mount_ns(&script, "installer in a private mount namespace failed");
    assert!(
        !stdout.contains("hunter2") && !stderr.contains("hunter2"),
        "a secret value was logged"
    );
    let got = parse_report(&stdout);

    let nobody = 65534;
    let check = |f: &str, uid: u32, gid: u32, mode: u32, content: &[u8]| {
        let i = got
            .get(f)
            .unwrap_or_else(|| panic!("{f} not reported: {stdout}"));
        assert_eq!((i.uid, i.gid, i.mode), (uid, gid, mode), "{f}: owner/mode");
        assert_eq!(i.content, content, "{f}: content");
    };
    check("secrets/github_token", 0, 0, 0o400, b"ghp_example");
    check("secrets/db/password", nobody, nobody, 0o440, b"hunter2");
    check("secrets/numeric", 1234, 5678, 0o600, b"deep value");
    check("secrets/linked", 0, 0, 0o400, b"ghp_example");
    check("etc/app/token", 0, 0, 0o400, b"ghp_example");
    check(
        "secrets/rendered/app.env",
        0,
        0,
        0o444,
        b"TOKEN=ghp_example\nDB=hunter2\n",
    );
    // The custom path is a link to the stable /…/secrets name, which points at generation 1.
    assert!(
        stdout.contains(&format!("{r}/secrets/linked\n")),
        "custom path is not a link to the secrets dir: {stdout}"
    );
    assert!(stdout.contains(&format!("{r}/secrets.d/1\n")), "{stdout}");
}

/// home-manager: the user-mode manifest (`%r` → $XDG_RUNTIME_DIR, no mount, no chown) installs
/// as the invoking user, as the `sops-nix` user service runs it.
#[test]
fn home_manager_manifest_installs_in_user_mode() {
    let fixture = Root::new();
    let root = fixture.path();
    let plaintext = r#"{"github_token": "ghp_example", "db": {"password": "hunter2"}}"#;
    let sops_file = fixture.encrypt("secrets.json", plaintext.as_bytes());
    let v = fixture.eval(
        "tests/nix/e2e-home.nix",
        &[
            ("format", "json"),
            ("sopsFile", sops_file.to_str().unwrap()),
        ],
    );
    assert_eq!(v["manifest"]["userMode"], true);
    assert_eq!(v["manifest"]["secretsMountPoint"], "%r/secrets.d");
    let manifest = write_manifest(root, &v["manifest"]);
    let runtime = root.join("run");
    std::fs::create_dir(&runtime).unwrap();
    let out = Command::new(installer())
        .arg("-ignore-passwd")
        .arg(&manifest)
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "user-mode install failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = root.join("config/sops-nix/secrets");
    let read =
        |p: PathBuf| std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert_eq!(read(link.join("github_token")), "ghp_example");
    assert_eq!(read(link.join("db/password")), "hunter2");
    assert_eq!(read(link.join("rendered/app.env")), "TOKEN=ghp_example\n");
    assert_eq!(read(runtime.join("app/token")), "ghp_example");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(link.join("db/password"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o440);
    // The generations live under %r (the runtime dir), the stable link under ~/.config.
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        runtime.join("secrets.d/1")
    );
}

/// Whole-file formats from Nix: `format = "binary"` installs the file's bytes, `dotenv` the whole
/// env file, each secret with its own sopsFile.
#[test]
fn nix_manifest_installs_whole_file_formats() {
    let root = Root::new();
    let bin: Vec<u8> = (0u8..=255).chain(*b"\n\0tail").collect();
    root.encrypt("blob.bin", &bin);
    let env = "API_KEY=abc123\nMODE=prod\n";
    root.encrypt("app.env", env.as_bytes());
    let r = root.str();
    let secrets = serde_json::json!({
        "blob": {"format": "binary", "sopsFile": format!("{r}/blob.bin"), "path": format!("{r}/secrets/blob")},
        "env": {"format": "dotenv", "sopsFile": format!("{r}/app.env"), "path": format!("{r}/secrets/env"),
                "mode": "0600"},
    });
    let manifest = root.eval(
        "tests/nix/e2e-secrets.nix",
        &[("secrets", &secrets.to_string())],
    );
    let manifest_path = write_manifest(root.path(), &manifest);
    let script = format!(
        "'{bin}' '{m}'\nfor f in blob env; do printf 'FILE %s %s %s\\n' $f \"$(stat -L -c '%u %g %a' '{r}/secrets/'$f)\" \"$(od -An -v -tx1 '{r}/secrets/'$f | tr -d ' \\n')\"; done\n",
        bin = installer(),
        m = manifest_path.display()
    );
    let (stdout, _) = in_private_mount_ns(&script, "installer failed");
    let got = parse_report(&stdout);
    let blob = &got["blob"];
    assert_eq!((blob.uid, blob.gid, blob.mode), (0, 0, 0o400));
    assert_eq!(blob.content, bin, "binary secret bytes");
    let envf = &got["env"];
    assert_eq!(envf.mode, 0o600);
    assert_eq!(String::from_utf8_lossy(&envf.content), env);
}

/// The manifest's build-time check (the `checkPhase` the module gives it) fails on a key the
/// sops file lacks, naming the secret and the key, and passes once the key exists.
#[test]
fn nix_manifest_build_check_rejects_a_missing_key() {
    let root = Root::new();
    root.encrypt("s.json", br#"{"present": "x"}"#);
    let r = root.str();
    let check = |secret_key: &str| {
        let secrets = serde_json::json!({
            "api_token": {"format": "json", "key": secret_key, "sopsFile": format!("{r}/s.json")},
        });
        let manifest = root.eval(
            "tests/nix/e2e-secrets.nix",
            &[("secrets", &secrets.to_string())],
        );
        check_sopsfile(&write_manifest(root.path(), &manifest))
    };
    let bad = check("absent");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success(),
        "a missing key passed the build check"
    );
    assert!(err.contains("api_token") && err.contains("absent"), "{err}");
    let good = check("present");
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// The whole module with nixpkgs' lib.evalModules (optional: needs a nixpkgs lib checkout).

fn nixpkgs_lib() -> Option<String> {
    let lib = std::env::var("NIX_SOPS_NIXPKGS_LIB").ok()?;
    assert!(
        Path::new(&lib).join("default.nix").exists(),
        "NIX_SOPS_NIXPKGS_LIB={lib} is not a nixpkgs lib directory (no default.nix)"
    );
    Some(lib)
}

fn eval_module(lib: &str, case: &str, extra_modules: &str) -> Value {
    eval_module_attr(lib, case, extra_modules, None)
}

/// `attr` selects one output (`-A`), so e.g. assertions can be read without building a
/// manifest that would not validate.
fn eval_module_attr(lib: &str, case: &str, extra_modules: &str, attr: Option<&str>) -> Value {
    let arg = format!("./tests/nix/cases/{case}.nix");
    let mut args = vec![
        "--arg",
        "lib",
        lib,
        "--arg",
        "case",
        &arg,
        "--arg",
        "extraModules",
        extra_modules,
    ];
    if let Some(a) = attr {
        args.extend(["-A", a]);
    }
    eval_json("tests/nix/module.nix", &args)
}

fn failed_assertions(v: &Value) -> Vec<String> {
    let list = if v.is_array() {
        v
    } else {
        &v["failedAssertions"]
    };
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect()
}

/// The installer package tests/nix/cases/regenerate.sh gives sops-nix's module: one store path
/// for both, so scripts compare.
const SAME_PACKAGE: &str =
    "[ { sops.package = { type = \"derivation\"; name = \"sops-install-secrets\"; \
     outPath = \"/nix/store/00000000000000000000000000000000-sops-install-secrets\"; }; } ]";

/// Our module on `case`, evaluated as regenerate.sh evaluates sops-nix's: the harness's outputs,
/// and the files the module writes (`traceFiles`: name → text and checkPhase; a manifest's text
/// is left out, it is compared as JSON).
fn eval_module_traced(lib: &str, case: &str) -> (Value, Value) {
    let arg = format!("./tests/nix/cases/{case}.nix");
    let out = nix_instantiate(&[
        "--eval",
        "--strict",
        "--json",
        "tests/nix/module.nix",
        "--arg",
        "lib",
        lib,
        "--arg",
        "case",
        &arg,
        "--arg",
        "extraModules",
        SAME_PACKAGE,
        "--arg",
        "traceFiles",
        "true",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{case}: nix-instantiate failed:\n{stderr}"
    );
    let mut files = serde_json::Map::new();
    for line in stderr.lines() {
        let Some(json) = line.strip_prefix("trace: ").filter(|j| j.starts_with('{')) else {
            continue;
        };
        let mut file: serde_json::Map<String, Value> = serde_json::from_str(json).unwrap();
        let name = file.remove("file").unwrap().as_str().unwrap().to_owned();
        if name.starts_with("manifest") && name.ends_with(".json") {
            file.remove("text");
        }
        files.insert(name, Value::Object(file));
    }
    let outputs = serde_json::from_slice(&out.stdout).expect("nix-instantiate --json prints JSON");
    (outputs, Value::Object(files))
}

/// One test, so a checkout without nixpkgs' lib prints one skip line.
#[test]
fn module_and_flake_evaluate_with_nixpkgs_lib() {
    let Some(lib) = nixpkgs_lib() else {
        // Straight to stderr (not eprintln!, which the test harness captures) so the skip shows.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED module_and_flake_evaluate_with_nixpkgs_lib: set NIX_SOPS_NIXPKGS_LIB to a nixpkgs lib directory to evaluate the NixOS/home-manager modules (lib.evalModules) and the flake outputs"
        );
        return;
    };

    // The same sample configurations through the real module give the same manifests, and
    // the same activation scripts, units and files as sops-nix's module (tests/nix/cases/*.json).
    for case in cases() {
        let (mut v, files) = eval_module_traced(&lib, &case);
        let exp = expected(&case);
        for which in ["manifest", "usersManifest"] {
            check_template_files(&mut v[which], &case);
            if exp.get(which).is_some() {
                assert_same(&case, which, &v[which], &exp[which]);
            }
        }
        let mut outputs = v.clone();
        for manifest_field in ["manifest", "usersManifest", "checkPhase"] {
            outputs.as_object_mut().unwrap().remove(manifest_field);
        }
        assert_same(&case, "module outputs", &outputs, &exp["module"]);
        assert_same(&case, "files written", &files, &exp["files"]);
        assert_eq!(failed_assertions(&v), Vec::<String>::new(), "{case}");
        // The same module through sops-nix's file paths (modules/sops,
        // modules/home-manager/sops.nix): the same evaluation, output for output.
        let arg = format!("./tests/nix/cases/{case}.nix");
        let via_paths = eval_json(
            "tests/nix/module.nix",
            &[
                "--arg",
                "lib",
                &lib,
                "--arg",
                "case",
                &arg,
                "--argstr",
                "entry",
                "sops-nix-paths",
            ],
        );
        let mut flake_path = eval_module(&lib, &case, "[ ]");
        for which in ["manifest", "usersManifest"] {
            check_template_files(&mut flake_path[which], &case);
        }
        let mut via_paths = via_paths;
        for which in ["manifest", "usersManifest"] {
            check_template_files(&mut via_paths[which], &case);
        }
        assert_same(
            &case,
            "evaluation through modules/",
            &via_paths,
            &flake_path,
        );
    }

    // sops.hostPubKeys: declared by both modules, in the manifest only when set.
    let host = "age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs";
    let extra = format!("[ {{ sops.hostPubKeys = [ \"{host}\" ]; }} ]");
    for case in ["defaults", "home-manager"] {
        let v = eval_module(&lib, case, &extra);
        assert_eq!(
            v["manifest"]["hostPubKeys"],
            serde_json::json!([host]),
            "{case}"
        );
    }

    // Activation-script wiring (the default without sysusers/userborn): sops-nix:
    // modules/sops/default.nix:498-515 and :41 (HOME), secrets-for-users/
    // default.nix:59-67; compared whole with sops-nix's output in cases/templates.json above.
    let v = eval_module(&lib, "templates", "[ ]");
    assert_eq!(v["useSystemdActivation"], false);
    assert_eq!(
        v["setupSecretsDeps"],
        serde_json::json!(["specialfs", "users", "groups"])
    );
    assert_eq!(v["supportsDryActivation"], true);
    assert_eq!(
        v["setupSecretsForUsersDeps"],
        serde_json::json!(["specialfs"])
    );
    assert_eq!(v["usersDeps"], serde_json::json!(["setupSecretsForUsers"]));
    let text = v["setupSecretsText"].as_str().unwrap();
    assert!(text.contains("export HOME='/var/empty'"), "{text}");
    assert!(
        text.contains("/bin/sops-install-secrets /nix/store/"),
        "{text}"
    );
    assert_eq!(v["services"], serde_json::json!({}));
    assert_eq!(
        v["paths"],
        serde_json::json!({"api/key": "/run/secrets/api/key", "db_pass": "/run/secrets/db_pass",
                           "root_pw": "/run/secrets-for-users/root_pw"})
    );
    let v = eval_module(&lib, "validated", "[ ]");
    assert!(v["checkPhase"]
        .as_str()
        .unwrap()
        .contains("-check-mode=sopsfile \"$out\""));

    // generateKey adds the key script and orders setupSecrets after it (sops-nix:
    // modules/sops/default.nix:506, 517-530; whole in cases/generate-key.json).
    let v = eval_module(
        &lib,
        "defaults",
        "[ { sops.age.generateKey = true; sops.age.keyFile = \"/var/lib/k.txt\"; } ]",
    );
    assert_eq!(
        v["setupSecretsDeps"],
        serde_json::json!(["specialfs", "users", "groups", "generate-age-key"])
    );
    assert!(v["activationScripts"]
        .as_array()
        .unwrap()
        .contains(&"generate-age-key".into()));

    // sysusers: systemd units with sops-nix's ordering, no activation scripts (sops-nix:
    // modules/sops/default.nix:467-495, secrets-for-users/default.nix:33-55; whole in
    // cases/sysusers.json).
    let v = eval_module(
        &lib,
        "templates",
        "[ { systemd.sysusers.enable = true; sops.environment.FOO = \"bar\"; } ]",
    );
    assert_eq!(v["useSystemdActivation"], true);
    assert_eq!(v["activationScripts"], serde_json::json!([]));
    let unit = &v["services"]["sops-install-secrets"];
    assert_eq!(unit["wantedBy"], serde_json::json!(["sysinit.target"]));
    assert_eq!(
        unit["after"],
        serde_json::json!([
            "local-fs.target",
            "systemd-sysusers.service",
            "userborn.service"
        ])
    );
    assert_eq!(
        unit["before"],
        serde_json::json!(["sysinit-reactivation.target"])
    );
    assert_eq!(
        unit["requiredBy"],
        serde_json::json!(["sysinit-reactivation.target"])
    );
    assert_eq!(unit["unitConfig"]["DefaultDependencies"], "no");
    assert_eq!(
        unit["unitConfig"]["RequiresMountsFor"],
        serde_json::json!(["/var/lib/sops-nix/key.txt"])
    );
    assert_eq!(unit["serviceConfig"]["Type"], "oneshot");
    assert_eq!(unit["serviceConfig"]["RemainAfterExit"], true);
    assert_eq!(
        unit["environment"],
        serde_json::json!({"FOO": "bar", "SOPS_RESTART_UNITS_VIA_SYSTEMCTL": "1"})
    );
    let users_unit = &v["services"]["sops-install-secrets-for-users"];
    assert_eq!(
        users_unit["wantedBy"],
        serde_json::json!(["systemd-sysusers.service"])
    );
    assert_eq!(
        users_unit["before"],
        serde_json::json!(["systemd-sysusers.service"])
    );
    assert!(users_unit["serviceConfig"]["ExecStart"][0]
        .as_str()
        .unwrap()
        .contains("sops-install-secrets -ignore-passwd /nix/store/"));

    // Assertions: sops-nix's (modules/sops/default.nix:440, 444, 452; secrets-for-users/
    // default.nix:76, 81; templates/default.nix:141), plus nix-sops's own gnupg.home with
    // age.keyFile (sops-nix's module accepts it; its installer then refuses the manifest,
    // pkgs/sops-install-secrets/main.go:727).
    let cases_and_messages = [
        (
            "({ lib, ... }: { sops.age.keyFile = lib.mkForce null; })",
            "No key source configured for sops",
        ),
        (
            "{ sops.gnupg.home = \"/root/.gnupg\"; }",
            "sops.gnupg.home and sops.age.keyFile cannot both be set",
        ),
        (
            "({ lib, ... }: { sops.age.keyFile = lib.mkForce null; sops.gnupg.home = \"/g\"; sops.gnupg.sshKeyPaths = [ \"/etc/ssh/k\" ]; })",
            "Exactly one of sops.gnupg.home and sops.gnupg.sshKeyPaths must be set",
        ),
        (
            "({ lib, ... }: { sops.validateSopsFiles = lib.mkForce true; sops.secrets.regular = { uid = 5; owner = \"root\"; }; })",
            "In regular exactly one of sops.owner and sops.uid must be set",
        ),
        (
            "{ sops.secrets.alice_pw.uid = 7; }",
            "neededForUsers cannot be used for secrets that are not root-owned",
        ),
        (
            "{ systemd.sysusers.enable = true; users.mutableUsers = false; }",
            "can only work with config.users.mutableUsers enabled",
        ),
    ];
    for (module, message) in cases_and_messages {
        let v = eval_module_attr(
            &lib,
            "for-users",
            &format!("[ {module} ]"),
            Some("failedAssertions"),
        );
        let failed = failed_assertions(&v);
        assert!(
            failed.iter().any(|m| m.contains(message)),
            "{module}: expected an assertion containing {message:?}, got {failed:?}"
        );
    }
    let v = eval_module_attr(
        &lib,
        "templates",
        "[ { sops.templates.linked = { owner = \"root\"; group = \"root\"; }; } ]",
        Some("failedAssertions"),
    );
    assert!(failed_assertions(&v)
        .iter()
        .any(|m| m.contains("Both `owner` and `uid` cannot be defined")));

    // The renamed options still work (sops-nix:modules/sops/default.nix:408-429).
    let v = eval_module(
        &lib,
        "nested",
        "[ ({ lib, ... }: { sops.gnupgHome = \"/g\"; sops.age.keyFile = lib.mkForce null; }) ]",
    );
    assert_eq!(v["manifest"]["gnupgHome"], "/g");
    let v = eval_module(
        &lib,
        "nested",
        "[ { sops.sshKeyPaths = [ \"/etc/ssh/rsa\" ]; } ]",
    );
    assert_eq!(v["gnupgSshKeyPaths"], serde_json::json!(["/etc/ssh/rsa"]));
    assert_eq!(
        v["manifest"]["sshKeyPaths"],
        serde_json::json!(["/etc/ssh/rsa"])
    );
    assert_eq!(
        v["environment"]["SOPS_GPG_EXEC"],
        "/nix/store/00000000000000000000000000000000-gnupg/bin/gpg"
    );

    check_flake_outputs(&lib);

    // Every sops.* option's type and default as sops-nix declares them.
    let mismatches = eval_json("tests/nix/option-types.nix", &["--arg", "lib", &lib]);
    assert_eq!(
        mismatches,
        serde_json::json!([]),
        "options that differ from sops-nix's"
    );

    // home-manager: the user service restarted on activation, -ignore-passwd, WantedBy
    // (sops-nix:modules/home-manager/sops.nix:110, 380-393; assertions :331, :348, the
    // gnupg.home one nix-sops's own as above; the defaults whole in cases/home-manager.json).
    let v = eval_module(&lib, "home-manager", "[ ]");
    let unit = &v["services"]["sops-nix"];
    assert_eq!(unit["Service"]["Type"], "oneshot");
    assert_eq!(
        unit["Install"]["WantedBy"],
        serde_json::json!(["default.target"])
    );
    assert!(v["checkPhase"]
        .as_str()
        .unwrap()
        .contains("-check-mode=manifest"));
    let v = eval_module(
        &lib,
        "home-manager",
        "[ ({ lib, ... }: { sops.age.keyFile = lib.mkForce null; sops.gnupg.home = \"/home/alice/.gnupg\"; }) ]",
    );
    assert_eq!(
        v["services"]["sops-nix"]["Install"]["WantedBy"],
        serde_json::json!(["graphical-session-pre.target"])
    );
    assert_eq!(
        v["environment"]["SOPS_GPG_EXEC"],
        "/nix/store/00000000000000000000000000000000-gnupg/bin/gpg"
    );
    for (module, message) in [
        (
            "{ sops.gnupg.qubes-split-gpg.enable = true; }",
            "sops.gnupg.qubes-split-gpg.domain is required",
        ),
        (
            "({ lib, ... }: { sops.age.keyFile = lib.mkForce null; })",
            "No key source configured for sops",
        ),
        (
            "{ sops.gnupg.home = \"/g\"; }",
            "sops.gnupg.home and sops.age.keyFile cannot both be set",
        ),
    ] {
        let failed = failed_assertions(&eval_module_attr(
            &lib,
            "home-manager",
            &format!("[ {module} ]"),
            Some("failedAssertions"),
        ));
        assert!(
            failed.iter().any(|m| m.contains(message)),
            "home-manager {module}: expected {message:?}, got {failed:?}"
        );
    }
}

/// The flake's outputs with a stub package set: sops-nix's output names, the package built from
/// this crate's Cargo.lock, the VM tests as Linux checks.
fn check_flake_outputs(lib: &str) {
    let v = eval_json("tests/nix/flake-outputs.nix", &["--arg", "lib", lib]);
    let root = repo().to_str().unwrap();
    for out in [
        "packages",
        "nixosModules",
        "homeManagerModules",
        "overlays",
        "devShells",
        "checks",
        "formatter",
    ] {
        assert!(
            v["outputs"].as_array().unwrap().contains(&out.into()),
            "flake output {out} missing: {}",
            v["outputs"]
        );
    }
    assert_eq!(v["nixosModules"], serde_json::json!(["default", "sops"]));
    assert_eq!(
        v["homeManagerModules"],
        serde_json::json!(["default", "sops"])
    );
    assert_eq!(
        v["nixosModule"],
        format!("{root}/nix/modules/sops").as_str()
    );
    assert_eq!(
        v["packages"],
        serde_json::json!([
            "default",
            "nix-sops",
            "sops-import-keys-hook",
            "sops-init-gpg-key",
            "sops-install-secrets",
            "sops-pgp-hook",
            "ssh-to-pgp"
        ])
    );
    assert_eq!(v["cargoLock"], format!("{root}/Cargo.lock").as_str());
    assert_eq!(
        v["overlay"],
        serde_json::json!([
            "nix-sops",
            "sops-import-keys-hook",
            "sops-init-gpg-key",
            "sops-install-secrets",
            "sops-pgp-hook",
            "ssh-to-pgp"
        ])
    );
    for tool in ["cargo", "sops", "age", "ssh-to-age"] {
        assert!(v["devShell"].as_array().unwrap().contains(&tool.into()));
    }
    for check in [
        "cargo-tests",
        "module-eval",
        "age-keys",
        "age-ssh-keys",
        "pgp-keys",
        "pruning",
        "templates",
        "restart-and-reload",
        "dry-activate",
        "user-passwords",
        "user-passwords-sysusers",
        "user-passwords-userborn",
        "ssh-keys",
    ] {
        assert!(
            v["checksLinux"].as_array().unwrap().contains(&check.into()),
            "check {check} missing"
        );
    }
    // Linux only: nothing was built on macOS (README, "Limitations").
    assert_eq!(
        v["systems"],
        serde_json::json!(["aarch64-linux", "x86_64-linux"])
    );
    if !v["srcFiles"].is_null() {
        let files: Vec<&str> = v["srcFiles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert!(files.contains(&"/Cargo.toml") && files.contains(&"/Cargo.lock"));
        assert!(files
            .iter()
            .all(|f| f.starts_with("/src/") || f.starts_with("/Cargo.")));
    }
}

// ---------------------------------------------------------------------------------------------
// sops-nix's entry points (flake outputs, default.nix, module paths, hooks), bare Nix.

/// tests/nix/compat.nix with the bare lib: no nixpkgs needed, so this runs everywhere.
fn compat() -> Value {
    eval_json("tests/nix/compat.nix", &["--arg", "lib", "null"])
}

fn names(v: &Value) -> Vec<&str> {
    match v {
        Value::Object(o) => o.keys().map(String::as_str).collect(),
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap()).collect(),
        _ => panic!("not a list or attrset: {v}"),
    }
}

/// The packages sops-nix's flake, overlay and default.nix carry (its flake.nix and default.nix).
const SOPS_NIX_PACKAGES: [&str; 5] = [
    "sops-install-secrets",
    "sops-init-gpg-key",
    "sops-pgp-hook",
    "sops-import-keys-hook",
    "ssh-to-pgp",
];

#[test]
fn every_sops_nix_flake_output_exists_with_its_meaning() {
    let v = compat();
    // sops-nix's public outputs (its flake.nix, above the "dev outputs").
    for out in [
        "overlays",
        "nixosModules",
        "homeManagerModules",
        "homeManagerModule",
        "homeModules",
        "darwinModules",
        "packages",
    ] {
        assert!(
            names(&v["outputs"]).contains(&out),
            "flake output {out} missing"
        );
    }
    // Only what was built and can work: no macOS (README, "Limitations").
    assert_eq!(
        v["flakeSystems"],
        serde_json::json!(["aarch64-linux", "x86_64-linux"])
    );
    for (system, pkgs) in v["packageNamesPerSystem"].as_object().unwrap() {
        for p in SOPS_NIX_PACKAGES.iter().chain(&["default"]) {
            assert!(names(pkgs).contains(p), "packages.{system}.{p} missing");
        }
    }
    for (what, set) in [
        ("packages", &v["packages"]),
        ("overlay", &v["overlay"]),
        ("default.nix", &v["defaultNix"]),
    ] {
        for p in SOPS_NIX_PACKAGES {
            assert!(set.get(p).is_some(), "{what}: {p} missing");
        }
        // The installer is this crate's binary under sops-nix's name.
        assert_eq!(
            set["sops-install-secrets"]["mainProgram"], "nix-sops",
            "{what}"
        );
        assert_eq!(
            set["sops-init-gpg-key"]["src"],
            "/nix/pkgs/sops-init-gpg-key"
        );
        // Hooks as sops-nix builds them: makeSetupHook with @gpg@ and sops + gnupg propagated.
        for (hook, script) in [
            ("sops-import-keys-hook", "/nix/pkgs/hooks/import-keys.bash"),
            ("sops-pgp-hook", "/nix/pkgs/hooks/pgp.bash"),
        ] {
            assert_eq!(set[hook]["name"], hook, "{what}");
            assert_eq!(set[hook]["script"], script, "{what}");
            assert_eq!(
                set[hook]["substitutions"]["gpg"],
                "/nix/store/00000000000000000000000000000000-gnupg/bin/gpg"
            );
            assert_eq!(
                set[hook]["propagatedBuildInputs"],
                serde_json::json!(["sops", "gnupg"])
            );
        }
        // Passed through from nixpkgs, as sops-nix does.
        assert_eq!(set["ssh-to-pgp"]["name"], "ssh-to-pgp", "{what}");
    }
    // `(pkgs.callPackage sops-nix { })` — how sops-nix's README reaches the hooks.
    for p in SOPS_NIX_PACKAGES {
        assert!(names(&v["callPackageDefaultNix"]).contains(&p));
    }
    for (system, f) in v["formatter"].as_object().unwrap() {
        assert_eq!(f, "nixfmt-tree", "formatter.{system}");
    }
}

#[test]
fn sops_nix_module_paths_and_flake_modules_are_the_same_modules() {
    let v = compat();
    let m = &v["modules"];
    let nixos = "/nix/modules/sops";
    let home = "/nix/modules/home-manager/sops.nix";
    let darwin = "/nix/modules/nix-darwin";
    for (attr, path) in [
        (&m["nixosModules"]["sops"], nixos),
        (&m["nixosModules"]["default"], nixos),
        (&m["homeManagerModules"]["sops"], home),
        (&m["homeManagerModules"]["default"], home),
        (&m["homeManagerModule"], home),
        (&m["homeModules"]["sops"], home),
        (&m["homeModules"]["default"], home),
        (&m["darwinModules"]["sops"], darwin),
        (&m["darwinModules"]["default"], darwin),
    ] {
        assert_eq!(attr["path"], path, "{attr}");
    }
    // sops-nix's file paths (niv, npins, fetchTarball users) import exactly those modules.
    for (file, target) in [
        ("modules/sops", nixos),
        ("modules/home-manager/sops.nix", home),
        ("modules/nix-darwin", darwin),
    ] {
        assert_eq!(m[file]["path"], format!("/{file}").as_str());
        assert_eq!(
            m[file]["imports"],
            serde_json::json!([target]),
            "{file} must import {target}"
        );
    }
    // A user's flake written for sops-nix, with nix-sops as its `sops-nix` input.
    let u = &v["userFlakeModules"];
    assert_eq!(u["nixos"], serde_json::json!([nixos]));
    assert_eq!(u["home"], serde_json::json!([home]));
    assert_eq!(u["darwin"], serde_json::json!([darwin]));
    for p in SOPS_NIX_PACKAGES {
        assert!(names(&u["overlay"]).contains(&p), "overlay {p}");
    }
}

/// A sops-nix user's devShells (sops-nix README's shell.nix, and a flake devShell on both hooks)
/// evaluate unchanged with nix-sops in sops-nix's place, and get our hooks.
#[test]
fn migrating_users_devshells_evaluate_unchanged() {
    let v = compat();
    let shell = &v["shell"];
    assert_eq!(shell["sopsCreateGPGHome"], true);
    assert_eq!(
        shell["nativeBuildInputs"][0]["script"],
        "/nix/pkgs/hooks/import-keys.bash"
    );
    assert_eq!(shell["sopsPGPKeyDirs"].as_array().unwrap().len(), 2);
    let flake = &v["flakeShell"];
    let hooks: Vec<&str> = flake["nativeBuildInputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(hooks, ["sops-import-keys-hook", "sops-pgp-hook"]);
    assert_eq!(flake["sopsGPGHome"], "./.gnupg");
}

// The hooks' behaviour, run with the real bash and gpg, against what sops-nix's hook tests
// expect (pkgs/sops-{import-keys,pgp}-hook/hook_test.go there).

struct GpgKey {
    fingerprint: String,
    subkey: String,
}

/// A fresh key (ed25519 primary + cv25519 encryption subkey) exported to `file` (armored if
/// it ends in .asc, else binary, as sops-nix's test assets have both).
fn gpg_key(home: &Path, uid: &str, file: &Path) -> GpgKey {
    common::require("gpg");
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(home)
            .args(["--batch", "--quiet", "--passphrase", ""])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    gpg(&["--quick-gen-key", uid, "ed25519", "sign", "never"]);
    let listing = String::from_utf8(gpg(&["--with-colons", "--list-keys", uid])).unwrap();
    let fingerprint = listing
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .map(|l| l.trim_matches(':').to_owned())
        .unwrap();
    gpg(&["--quick-add-key", &fingerprint, "cv25519", "encr", "never"]);
    let listing = String::from_utf8(gpg(&["--with-colons", "--list-keys", uid])).unwrap();
    let subkey = listing
        .lines()
        .filter_map(|l| l.strip_prefix("fpr:"))
        .nth(1)
        .map(|l| l.trim_matches(':').to_owned())
        .unwrap();
    let armor = file.extension().is_some_and(|e| e == "asc");
    let mut args = vec!["--export"];
    if armor {
        args.push("--armor");
    }
    args.push(&fingerprint);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, gpg(&args)).unwrap();
    GpgKey {
        fingerprint,
        subkey,
    }
}

/// Sources `hook` (its @gpg@ substituted, as makeSetupHook does) in bash inside `project`, with
/// `env` as the mkShell attributes (lists space-separated, as stdenv exports them), runs the
/// resulting shellHook, then `after`. Returns (stdout, stderr).
fn run_hook(project: &Path, hook: &str, env: &[(&str, &str)], after: &str) -> (String, String) {
    common::require("bash");
    let gpg = Command::new("sh")
        .args(["-c", "command -v gpg"])
        .output()
        .unwrap();
    let gpg = String::from_utf8(gpg.stdout).unwrap().trim().to_owned();
    let script = std::fs::read_to_string(repo().join(hook.trim_start_matches('/')))
        .unwrap()
        .replace("@gpg@", &gpg);
    let hook_file = project.join("hook.bash");
    std::fs::write(&hook_file, script).unwrap();
    let out = Command::new("bash")
        .current_dir(project)
        .env_remove("GNUPGHOME")
        .env("HOME", project.join("home"))
        .envs(env.iter().copied())
        .args([
            "-euc",
            &format!(
                "shellHook='echo \"own hook ran, GNUPGHOME=${{GNUPGHOME-unset}}\"'\nsource hook.bash\neval \"$shellHook\"\n{after}"
            ),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{hook}: {stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn import_keys_hook_imports_into_a_project_keyring_like_sops_nix() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    let keygen = dir.path().join("keygen");
    std::fs::create_dir_all(project.join("home")).unwrap();
    std::fs::create_dir_all(&keygen).unwrap();
    std::fs::set_permissions(&keygen, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let host = gpg_key(
        &keygen,
        "server01 <root@server01>",
        &project.join("keys/hosts/server01.asc"),
    );
    let user = gpg_key(
        &keygen,
        "admin <admin@example.org>",
        &project.join("keys/users/admin.gpg"),
    );
    let single = gpg_key(
        &keygen,
        "single <s@example.org>",
        &project.join("single.asc"),
    );
    // Not a key file: the hook only takes *.asc and *.gpg from the directories.
    std::fs::write(project.join("keys/users/README"), "not a key").unwrap();

    let v = compat();
    let hook = v["shell"]["nativeBuildInputs"][0]["script"]
        .as_str()
        .unwrap()
        .to_owned();
    let (stdout, stderr) = run_hook(
        &project,
        &hook,
        &[
            ("sopsPGPKeyDirs", "./keys/hosts ./keys/users"),
            ("sopsPGPKeys", "./single.asc ./non-existing-key.gpg"),
            ("sopsCreateGPGHome", "1"),
        ],
        "echo \"GNUPGHOME=$GNUPGHOME\"; gpg --with-colons --list-keys",
    );
    // Runs before the shell's own hook; the keyring is the project's .git/gnupg (mode 0700).
    let home = project.join(".git/gnupg");
    assert!(
        stdout.starts_with(&format!("own hook ran, GNUPGHOME={}\n", home.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("GNUPGHOME={}", home.display())),
        "{stdout}"
    );
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&home).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700);
    for k in [&host, &user, &single] {
        assert!(
            stdout.contains(&k.fingerprint),
            "{} not imported: {stdout}",
            k.fingerprint
        );
    }
    assert!(
        stderr.contains("./non-existing-key.gpg does not exists"),
        "{stderr}"
    );
    // The user's own keyring was not touched.
    assert!(!project.join("home/.gnupg/pubring.kbx").exists());

    // sopsGPGHome picks the keyring's place.
    let (stdout, _) = run_hook(
        &project,
        &hook,
        &[
            ("sopsPGPKeys", "./single.asc"),
            ("sopsCreateGPGHome", "1"),
            ("sopsGPGHome", "./other-gnupg"),
        ],
        "gpg --with-colons --list-keys",
    );
    assert!(stdout.contains(&single.fingerprint));
    assert!(project.join("other-gnupg/pubring.kbx").exists());
}

#[test]
fn pgp_hook_exports_primary_fingerprints_like_sops_nix() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    let keygen = dir.path().join("keygen");
    let gnupg = project.join("home/gnupg");
    std::fs::create_dir_all(&gnupg).unwrap();
    std::fs::create_dir_all(&keygen).unwrap();
    for d in [&keygen, &gnupg] {
        std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    }
    let a = gpg_key(&keygen, "a <a@example.org>", &project.join("keys/a.asc"));
    let b = gpg_key(
        &keygen,
        "b <b@example.org>",
        &project.join("keys/sub/b.gpg"),
    );
    let v = compat();
    let hook = v["flakeShell"]["nativeBuildInputs"][1]["script"]
        .as_str()
        .unwrap()
        .to_owned();
    let (stdout, stderr) = run_hook(
        &project,
        &hook,
        &[
            ("sopsPGPKeyDirs", "./keys"),
            ("sopsPGPKeys", "./non-existing-key.gpg"),
            ("GNUPGHOME", gnupg.to_str().unwrap()),
        ],
        "echo \"SOPS_PGP_FP=$SOPS_PGP_FP\"",
    );
    let fp = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SOPS_PGP_FP="))
        .unwrap();
    let mut got: Vec<&str> = fp.split(',').collect();
    got.sort();
    let mut want = vec![a.fingerprint.as_str(), b.fingerprint.as_str()];
    want.sort();
    assert_eq!(got, want, "SOPS_PGP_FP has the primary keys only");
    assert!(!fp.contains(&a.subkey) && !fp.contains(&b.subkey));
    assert!(
        stderr.contains("./non-existing-key.gpg does not exists"),
        "{stderr}"
    );
}

/// nix/pkgs/sops-init-gpg-key with the real gpg: sops-nix's options, a passphrase-less key for
/// `root@<host>` moved to --gpghome, and an existing home left alone.
#[test]
fn sops_init_gpg_key_makes_a_host_key_like_sops_nix() {
    common::require("gpg");
    common::require("getopt");
    let dir = tempfile::tempdir().unwrap();
    let script = repo().join("nix/pkgs/sops-init-gpg-key");
    let run = |args: &[&str]| Command::new(&script).args(args).output().unwrap();
    let list = |home: &Path| {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(home)
            .args(["--batch", "--with-colons", "--list-secret-keys"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };

    let home = dir.path().join("rsa/gnupg");
    let out = run(&[
        "--hostname",
        "server01",
        "--gpghome",
        home.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let keys = list(&home);
    assert!(keys.contains("server01 <root@server01>"), "{keys}");
    // RSA 2048 (algorithm 1) by default.
    assert!(
        keys.lines().any(|l| l.starts_with("sec:")
            && l.split(':').nth(2) == Some("2048")
            && l.split(':').nth(3) == Some("1")),
        "{keys}"
    );
    let fpr = keys
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .unwrap()
        .trim_matches(':');
    assert!(stderr.contains(&format!("fingerprint: {fpr}")), "{stderr}");
    assert!(
        stderr.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----"),
        "{stderr}"
    );
    assert!(stderr.contains("cat > server01.asc <<EOF"), "{stderr}");
    // No passphrase: the host decrypts unattended (gpg signs in batch mode without one).
    let sign = Command::new("gpg")
        .arg("--homedir")
        .arg(&home)
        .args(["--batch", "--pinentry-mode", "error", "--clearsign"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        sign.status.success(),
        "{}",
        String::from_utf8_lossy(&sign.stderr)
    );

    // An existing keyring is never replaced.
    let again = run(&["--hostname", "other", "--gpghome", home.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(list(&home), keys);

    let home = dir.path().join("cv/gnupg");
    let out = run(&[
        "--keytype",
        "Curve25519",
        "--hostname",
        "h",
        "--gpghome",
        home.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys = list(&home);
    assert!(
        keys.lines()
            .any(|l| l.starts_with("sec:") && l.contains(":ed25519:")),
        "{keys}"
    );
    assert!(
        keys.lines()
            .any(|l| l.starts_with("ssb:") && l.contains(":cv25519:")),
        "{keys}"
    );

    let bad = run(&[
        "--keytype",
        "DSA",
        "--gpghome",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(!dir.path().join("x").exists());
    let help = run(&["--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("keytype: RSA (default) or Curve25519"));
}

// ---------------------------------------------------------------------------------------------
// nix-darwin: our module against sops-nix's, field by field.

/// The path of the first field where `a` and `b` differ, if any.
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(u), Some(v)) => first_difference(u, v, &format!("{path}.{k}")),
                _ => Some(format!("{path}.{k} (present on one side only)")),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (u, v))| first_difference(u, v, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{path}: ours {a}, sops-nix's {b}")),
    }
}

/// tests/nix/darwin/expected.json is sops-nix's nix-darwin module evaluated on
/// tests/nix/darwin/cases.nix (tests/nix/darwin/regenerate.sh, from a sops-nix checkout); ours,
/// through the flake's path and sops-nix's `modules/nix-darwin`, must give the same manifests,
/// build checks, postActivation script, launchd daemons, assertions and option declarations.
#[test]
fn darwin_module_matches_sops_nix_field_by_field() {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/nix/darwin/expected.json")).unwrap(),
    )
    .unwrap();
    // The samples exercise what they are for (an empty expectation would prove nothing).
    let cases = &expected["cases"];
    assert_eq!(
        cases["failing"]["failedAssertions"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        cases["everything"]["daemons"]["sops-install-secrets-for-users"]["serviceConfig"],
        serde_json::json!({"KeepAlive": false, "RunAtLoad": true})
    );
    assert_eq!(
        cases["defaults"]["manifest"]["secrets"][0]["group"],
        "staff"
    );
    assert!(expected["options"].as_object().unwrap().len() > 30);

    let Some(lib) = nixpkgs_lib() else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED darwin_module_matches_sops_nix_field_by_field: set NIX_SOPS_NIXPKGS_LIB to a nixpkgs lib directory to evaluate the nix-darwin module (lib.evalModules)"
        );
        return;
    };
    for module in ["./nix/modules/nix-darwin", "./modules/nix-darwin"] {
        let mut actual = eval_json(
            "tests/nix/darwin/eval.nix",
            &["--arg", "lib", &lib, "--arg", "module", module],
        );
        // Our one addition (issue 11: the build-time host check); unset, it changes no manifest.
        let ours_only = actual["options"]
            .as_object_mut()
            .and_then(|o| o.remove("sops.hostPubKeys"));
        assert!(ours_only.is_some(), "sops.hostPubKeys is declared");
        if let Some(d) = first_difference(&actual, &expected, "") {
            panic!("{module} differs from sops-nix's nix-darwin module at {d}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The VM tests' RSA fixture (nix/checks/test-assets/ssh-rsa-*; regenerate.sh rsa).

/// Not a test: prints the public half of the OpenPGP key nix-sops derives from the RSA key at
/// $NIX_SOPS_RSA_KEY, for nix/checks/test-assets/regenerate.sh to encrypt the fixture to.
#[test]
#[ignore = "fixture helper, run by nix/checks/test-assets/regenerate.sh"]
fn print_pgp_public_key_of_rsa_host_key() {
    let key = std::env::var("NIX_SOPS_RSA_KEY").expect("NIX_SOPS_RSA_KEY names an RSA key");
    let mut ring = nix_sops::keys::Keyring::new();
    ring.add_rsa_ssh_key_as_pgp(Path::new(&key)).unwrap();
    println!("{}", ring.pgp[0].public_key_armored().unwrap());
}

/// The `ssh-keys` VM test's fixture: ssh-rsa-secrets.yaml is a sops file (real sops decrypts its
/// structure) encrypted to exactly the OpenPGP key derived from ssh-rsa-key, and the installer,
/// given the manifest the test's node configuration makes, installs test_value with it.
#[test]
fn vm_rsa_fixture_decrypts_with_the_host_keys_pgp_conversion() {
    let assets = repo().join("nix/checks/test-assets");
    let key = assets.join("ssh-rsa-key");
    let mut ring = nix_sops::keys::Keyring::new();
    let fp = ring.add_rsa_ssh_key_as_pgp(&key).unwrap();
    let text = std::fs::read_to_string(assets.join("ssh-rsa-secrets.yaml")).unwrap();
    let fps: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("fp: "))
        .collect();
    assert_eq!(
        fps,
        [fp.as_str()],
        "encrypted to other keys too, or not to {fp}"
    );
    assert!(!text.contains("recipient: age1"), "{text}");

    // The node's sops options (services.openssh RSA host key → gnupg.sshKeyPaths), resolved by
    // the module's own code, with the paths moved under a scratch root.
    let v = eval_json("tests/nix/vm-tests.nix", &["--arg", "lib", "null"]);
    let mut m = v["sshKeysManifest"].clone();
    assert_eq!(m["sshKeyPaths"].as_array().unwrap().len(), 1);
    // The store paths are these files (`--eval` names them without adding them).
    assert_eq!(
        m["sshKeyPaths"][0],
        store_copy("nix/checks/test-assets/ssh-rsa-key").as_str()
    );
    assert_eq!(
        m["secrets"][0]["sopsFile"],
        store_copy("nix/checks/test-assets/ssh-rsa-secrets.yaml").as_str()
    );
    assert_eq!(m["ageKeyFile"], Value::Null);
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().to_str().unwrap();
    m["secretsMountPoint"] = format!("{r}/secrets.d").into();
    m["symlinkPath"] = format!("{r}/secrets").into();
    m["secrets"][0]["path"] = format!("{r}/secrets/test_key").into();
    let manifest = write_manifest(dir.path(), &m);
    let script = format!(
        "'{}' '{}'\ncat '{r}/secrets/test_key'\n",
        installer(),
        manifest.display()
    );
    let (stdout, _) = in_private_mount_ns(&script, "the RSA host key does not decrypt the fixture");
    // sops-nix's pkgs/sops-install-secrets/main.go:879 (56b24064): on stdout, lower-case hex.
    assert!(
        stdout.starts_with("sops-install-secrets: Imported ")
            && stdout.contains(&fp.to_lowercase()),
        "{stdout}"
    );
    assert!(stdout.ends_with("test_value"), "{stdout}");
}

/// nix/checks/nixos-tests.nix as far as Nix evaluates without a VM: sops-nix's scenarios are all
/// there (plus dry-activate); no node uses boot.initrd.postDeviceCommands (the systemd initrd
/// refuses it); the age key is copied by a stage-2 activation snippet that runs before
/// setupSecrets and setupSecretsForUsers; the upstream `test_key_root_root` secret is back.
#[test]
fn vm_tests_copy_keys_in_stage_2_and_keep_sops_nix_scenarios() {
    let v = eval_json("tests/nix/vm-tests.nix", &["--arg", "lib", "null"]);
    let tests = names(&v["names"]);
    // sops-nix's checks/nixos-test.nix
    for t in [
        "ssh-keys",
        "pruning",
        "age-keys",
        "age-ssh-keys",
        "pgp-keys",
        "templates",
        "restart-and-reload",
        "user-passwords",
        "user-passwords-sysusers",
        "user-passwords-userborn",
    ] {
        assert!(tests.contains(&t), "VM test {t} missing: {tests:?}");
    }
    assert_eq!(v["initrdCommands"], serde_json::json!([]));
    let with_key_copy = [
        "age-keys",
        "dry-activate",
        "pruning",
        "restart-and-reload",
        "templates",
        "user-passwords",
    ];
    assert_eq!(v["copyAgeKey"], serde_json::json!(with_key_copy));
    assert!(names(&v["secrets"]["age-keys"]).contains(&"test_key_root_root"));
    let ssh = &v["sshKeysManifest"];
    assert!(ssh["secrets"][0]["sopsFile"]
        .as_str()
        .unwrap()
        .ends_with("-ssh-rsa-secrets.yaml"));

    let Some(lib) = nixpkgs_lib() else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED the module-level part of vm_tests_copy_keys_in_stage_2_and_keep_sops_nix_scenarios: set NIX_SOPS_NIXPKGS_LIB"
        );
        return;
    };
    let v = eval_json("tests/nix/vm-tests.nix", &["--arg", "lib", &lib]);
    assert_eq!(
        v["initrdProbe"], true,
        "the stubs cannot see the initrd hook"
    );
    for (test, a) in v["activation"].as_object().unwrap() {
        assert_eq!(a["postDeviceCommandsDefined"], false, "{test}");
        if with_key_copy.contains(&test.as_str()) {
            assert_eq!(
                a["deps"]["copyAgeKey"],
                serde_json::json!(["specialfs"]),
                "{test}"
            );
            assert!(
                names(&a["deps"]["setupSecrets"]).contains(&"copyAgeKey"),
                "{test}"
            );
            if a["deps"].get("setupSecretsForUsers").is_some() {
                assert!(
                    names(&a["deps"]["setupSecretsForUsers"]).contains(&"copyAgeKey"),
                    "{test}"
                );
            }
        }
    }
    for test in ["user-passwords-sysusers", "user-passwords-userborn"] {
        assert_eq!(
            v["activation"][test]["useSystemdActivation"], true,
            "{test}"
        );
    }
    assert!(
        v["activation"]["user-passwords"]["deps"]["setupSecretsForUsers"]
            .as_array()
            .unwrap()
            .contains(&"copyAgeKey".into())
    );
    assert!(v["activation"]["age-keys"]["copyAgeKey"]
        .as_str()
        .unwrap()
        .contains("mkdir /run/secrets"));
}

/// Every name sops-nix offers its users (tests/nix/sops-nix-entry-points.json, written from a
/// sops-nix checkout by tests/nix/sops-nix-entry-points.sh) is offered by ours, with the same
/// shape; only sops-nix's own development outputs and CI-only packages are left out.
#[test]
fn entry_points_cover_everything_sops_nix_offers() {
    let theirs: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/nix/sops-nix-entry-points.json")).unwrap(),
    )
    .unwrap();
    let ours = eval_json(
        "tests/nix/entry-points.nix",
        &["--arg", "lib", "null", "--arg", "src", "./."],
    );
    // sops-nix's flake calls these "dev outputs" and its default.nix "used in the CI only".
    let dev_outputs = ["apps", "darwinConfigurations", "legacyPackages"];
    let ci_packages = ["cross-build", "lint", "sops-pgp-hook-test", "unit-tests"];
    let covers = |what: &str, ours: &Value, theirs: &Value, except: &[&str]| {
        let ours = names(ours);
        for n in names(theirs) {
            assert!(
                except.contains(&n) || ours.contains(&n),
                "{what}: sops-nix has {n}, nix-sops does not"
            );
        }
    };
    covers(
        "flake outputs",
        &ours["outputs"],
        &theirs["outputs"],
        &dev_outputs,
    );
    for (system, pkgs) in theirs["packages"].as_object().unwrap() {
        // sops-nix builds for macOS; nix-sops claims Linux only (README, "Limitations").
        if system.ends_with("-darwin") {
            assert!(ours["packages"].get(system).is_none());
            continue;
        }
        covers(
            &format!("packages.{system}"),
            &ours["packages"][system],
            pkgs,
            &ci_packages,
        );
    }
    covers(
        "default.nix",
        &ours["defaultNix"],
        &theirs["defaultNix"],
        &ci_packages,
    );
    covers("overlay", &ours["overlay"], &theirs["overlay"], &[]);
    for same in [
        "nixosModules",
        "homeManagerModules",
        "homeModules",
        "darwinModules",
        "homeManagerModule",
        "modulePaths",
        "hooks",
        "devShellHooks",
    ] {
        assert_eq!(ours[same], theirs[same], "{same} differs from sops-nix's");
    }
}

/// `sops.hostPubKeys` reaches the manifest (NixOS and home-manager) only when it is set, so
/// every other manifest stays sops-nix's (the cases above compare them field for field).
#[test]
fn manifest_carries_host_pub_keys_only_when_set() {
    let keys = r#"["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKtjmcTTrG4CmBbzugz4KRWlNM5EuNSaq/o308Oi2lYQ","age1a8pk4akrdamj7nvqy3zywgtny8dxz7t5xzu7u8v9mhrayp9freqsqatyrs"]"#;
    let set = eval_json("tests/nix/host-keys.nix", &["--argstr", "keys", keys]);
    let expected: Value = serde_json::from_str(keys).unwrap();
    for m in ["nixos", "homeManager"] {
        assert_eq!(set[m]["hostPubKeys"], expected, "{m}");
    }
    for unset in ["null", "[]"] {
        let v = eval_json("tests/nix/host-keys.nix", &["--argstr", "keys", unset]);
        for m in ["nixos", "homeManager"] {
            assert!(
                v[m].get("hostPubKeys").is_none(),
                "{m} with hostPubKeys = {unset}: {}",
                v[m]
            );
        }
    }
}

/// The manifest's build check (the module's `checkPhase`, `-check-mode=sopsfile`) fails when
/// `sops.hostPubKeys` cannot open the sops file, naming the file and the fix, and passes for the
/// file's own recipient.
#[test]
fn nix_manifest_build_check_rejects_a_host_that_is_not_a_recipient() {
    let root = Root::new();
    let sops_file = root.encrypt("s.yaml", b"present: x\n");
    let r = root.str();
    let stranger = common::AgeKey::generate();
    let check = |host: &str| {
        let secrets = serde_json::json!({
            "api_token": {"key": "present", "sopsFile": format!("{r}/s.yaml")},
        });
        let manifest = root.eval(
            "tests/nix/e2e-secrets.nix",
            &[
                ("secrets", &secrets.to_string()),
                ("hostPubKeys", &serde_json::json!([host]).to_string()),
            ],
        );
        assert_eq!(manifest["hostPubKeys"][0], host);
        check_sopsfile(&write_manifest(root.path(), &manifest))
    };
    let bad = check(&stranger.recipient);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success(),
        "a stranger host passed the build check"
    );
    assert!(
        err.contains(&sops_file.display().to_string())
            && err.contains("api_token")
            && err.contains(&root.key.recipient)
            && err.contains(&stranger.recipient)
            && err.contains("nix-sops updatekeys"),
        "{err}"
    );
    let good = check(&root.key.recipient);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
}
