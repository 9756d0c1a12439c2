//! `nix-sops edit` with a scripted editor, checked with the real sops.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The test's `XDG_RUNTIME_DIR`: on RAM (`/dev/shm`), as nix-sops puts the plaintext only on a
/// RAM-backed directory; named after the test's directory, removed by [`runtime_is_empty`].
fn runtime(dir: &Path) -> PathBuf {
    Path::new("/dev/shm").join(format!(
        "nix-sops-test-{}",
        dir.file_name().unwrap().to_string_lossy()
    ))
}

fn edit(dir: &Path, editor: &str, extra: &[&str], key_file: &Path) -> Output {
    use std::os::unix::fs::DirBuilderExt;
    let runtime = runtime(dir);
    if !runtime.is_dir() {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&runtime)
            .unwrap();
    }
    let mut args = vec!["edit"];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_nix-sops"))
        .current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("SOPS_AGE_KEY_FILE", key_file)
        .env("EDITOR", editor)
        .args(&args)
        .output()
        .unwrap()
}

/// Whether nothing is left in the runtime directory; it is removed when so.
fn runtime_is_empty(dir: &Path) -> bool {
    let empty = std::fs::read_dir(runtime(dir)).unwrap().next().is_none();
    if empty {
        std::fs::remove_dir(runtime(dir)).unwrap();
    }
    empty
}

#[test]
fn edits_keep_the_keys_and_sops_reads_the_result() {
    let (dir, key, key_file) = common::dir_with_key("key.txt");
    let d = dir.path();
    let enc = common::sops_encrypt(
        d,
        "s.yaml",
        b"# database\npassword: old-value\nport: 5432\n",
        &["--age", &key.recipient],
    );
    std::fs::write(d.join("s.yaml"), &enc).unwrap();
    let age_block = |text: &str| {
        text[text.find("    age:").unwrap()..text.find("    lastmodified").unwrap()].to_owned()
    };
    let before = String::from_utf8(enc).unwrap();

    let out = edit(d, "sed -i s/old-value/new-value/", &["s.yaml"], &key_file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = std::fs::read_to_string(d.join("s.yaml")).unwrap();
    assert!(
        !after.contains("new-value"),
        "plaintext written to the file"
    );
    // Same data key, same recipients: the age block is untouched.
    assert_eq!(age_block(&before), age_block(&after));
    let plain = common::sops_decrypt(d, "s.yaml", &key_file, &[]);
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    assert_eq!(
        String::from_utf8(plain.stdout).unwrap(),
        "# database\npassword: new-value\nport: 5432\n"
    );
    assert!(runtime_is_empty(d), "the plaintext copy was left behind");

    // No change: exit 200 as sops, file untouched.
    let out = edit(d, "true", &["s.yaml"], &key_file);
    assert_eq!(out.status.code(), Some(200));
    assert_eq!(std::fs::read_to_string(d.join("s.yaml")).unwrap(), after);

    // An edit that breaks the syntax changes nothing.
    let out = edit(d, "sed -i s/port:/port:[/", &["s.yaml"], &key_file);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was changed"));
    assert_eq!(std::fs::read_to_string(d.join("s.yaml")).unwrap(), after);
    assert!(runtime_is_empty(d));
}

#[test]
fn a_new_file_takes_its_keys_from_sops_yaml() {
    let (dir, key, key_file) = common::dir_with_key("key.txt");
    let d = dir.path();
    std::fs::write(
        d.join(".sops.yaml"),
        format!(
            "creation_rules:\n  - path_regex: \\.env$\n    age: {}\n",
            key.recipient
        ),
    )
    .unwrap();
    let editor = d.join("write.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nprintf 'TOKEN=abc\\nOTHER=x\\n' > \"$1\"\n",
    )
    .unwrap();
    Command::new("chmod")
        .arg("755")
        .arg(&editor)
        .status()
        .unwrap();
    let out = edit(d, editor.to_str().unwrap(), &["new.env"], &key_file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plain = common::sops_decrypt(d, "new.env", &key_file, &[]);
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    assert_eq!(plain.stdout, b"TOKEN=abc\nOTHER=x\n");
    assert!(runtime_is_empty(d), "the plaintext copy was left behind");
}

/// A new file's keys are looked up before the editor starts (as sops does): with no creation
/// rule, nothing is typed in vain. And a repeated decryption key type is refused first (112).
#[test]
fn a_new_file_without_a_rule_fails_before_the_editor_runs() {
    let (dir, _key, key_file) = common::dir_with_key("key.txt");
    let d = dir.path();
    let marker = d.join("editor-ran");
    let editor = format!("touch {}", marker.display());
    let out = edit(d, &editor, &["new.yaml"], &key_file);
    assert!(!out.status.success(), "encrypted without a rule");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(".sops.yaml"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !marker.exists(),
        "the editor ran although nothing could be encrypted"
    );
    let out = edit(
        d,
        &editor,
        &["--decryption-order", "age,age", "new.yaml"],
        &key_file,
    );
    assert_eq!(
        out.status.code(),
        Some(112),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!marker.exists());
    assert!(!d.join("new.yaml").exists());
    assert!(runtime_is_empty(d));
}
