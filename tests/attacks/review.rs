//! Attacks found in the review of issue 8's fixes: each failed on the installer as merged.

use crate::support::{sandbox, secret, Fixture};
use serde_json::json;

/// The lock was a `flock` on the mount point's parent, `/run`: a directory every user can open,
/// and `flock` needs no more than an open descriptor. An unprivileged user holding it blocked
/// every activation (2 minutes each, then a failure). The lock is now a root-only file.
#[test]
fn a_user_cannot_hold_the_installers_lock() {
    let f = Fixture::new();
    let v = f.encrypt("v.yaml", "a: x\n");
    let m = f.manifest("m.json", json!([secret("a", &v, json!({}))]), json!({}));
    let run = sandbox(&format!(
        r#"user u1
$BIN {m} >/dev/null 2>&1
# u1 locks /run, and every lock file in it they can open, and keeps the locks.
setpriv --reuid=u1 --regid=u1 --init-groups -- sh -c '
  exec 9</run; flock 9
  for f in /run/.*lock*; do
    if (exec 8<"$f") 2>/dev/null; then exec 8<"$f"; flock 8; echo "u1 holds $f" >&2; fi
  done
  exec sleep 30' >/dev/null 2>/run/holder & holder=$!
sleep 1
if timeout 15 $BIN {m} >/dev/null 2>/run/err; then echo "EXIT 0"; else echo "EXIT $?"; fi
kill $holder || echo "HOLDER DIED"
cat /run/holder
echo "a=$(cat /run/secrets/a 2>/dev/null)"
cat /run/err
"#,
        m = m.display()
    ));
    let out = run.ok();
    assert!(
        out.contains("EXIT 0"),
        "a user's lock blocked the installer: {out}"
    );
    assert!(out.contains("a=x"), "{out}");
    assert!(
        !out.contains("HOLDER DIED"),
        "the attack did not run: {out}"
    );
    assert!(
        !out.contains("u1 holds"),
        "u1 could open the lock file: {out}"
    );
}

fn template(name: &str, file: &str, owner: &str) -> serde_json::Value {
    json!({
        "name": name, "content": "", "file": file, "path": format!("/run/secrets/rendered/{name}"),
        "mode": "0400", "owner": owner, "uid": 0, "group": null, "gid": 0,
        "restartUnits": [], "reloadUnits": []
    })
}

/// A template's `file` was opened `O_NOFOLLOW` on its last component only: its *parent* was
/// still followed. `u1`, who owns the directory of their template's source, points it at a
/// directory holding a root-only file of the same name and gets that file rendered into a
/// template they can read. The parents are now walked as a custom path's are: a symlink only
/// root could have made is followed, a user's is refused, naming the file.
#[test]
fn a_template_files_parent_symlink_is_not_followed() {
    let f = Fixture::new();
    let v = f.encrypt("v.yaml", "a: x\n");
    let m = f.manifest(
        "m.json",
        json!([secret("a", &v, json!({}))]),
        json!({
            "templates": [template("t", "/home/u1/tpl/app.conf", "u1")],
            "placeholderBySecretName": {"a": "<A>"}
        }),
    );
    let run = sandbox(&format!(
        r#"user u1
mkdir -m 0700 /run/private
echo 'ROOT-ONLY-TEXT' >/run/private/app.conf
chmod 0600 /run/private/app.conf
# A symlink root made in a root-only directory is followed, as for custom paths.
mkdir -p /run/real && echo 'pw=<A>' >/run/real/app.conf && ln -s /run/real /run/rootlink
as u1 'ln -s /run/private /home/u1/tpl'
if $BIN {m} >/dev/null 2>/run/err; then echo "EXIT 0"; else echo "EXIT $?"; fi
cat /run/secrets/rendered/t 2>/dev/null || true
cat /run/err
"#,
        m = m.display()
    ));
    let out = run.ok();
    assert!(
        !out.contains("ROOT-ONLY-TEXT"),
        "a root-only file was rendered: {out}"
    );
    assert!(
        out.contains("EXIT 1")
            && out.contains("template t")
            && out.contains("/home/u1/tpl/app.conf")
            && out.contains("symlink"),
        "the error names the template, the file and why: {out}"
    );
    // Through a root-made link (`/etc/static` style) the file is still read.
    let m = f.manifest(
        "m2.json",
        json!([secret("a", &v, json!({}))]),
        json!({
            "templates": [template("t", "/run/rootlink/app.conf", "u1")],
            "placeholderBySecretName": {"a": "<A>"}
        }),
    );
    let out = sandbox(&format!(
        r#"user u1
mkdir -p /run/real && echo 'pw=<A>' >/run/real/app.conf && ln -s /run/real /run/rootlink
$BIN {m} >/dev/null
cat /run/secrets/rendered/t
"#,
        m = m.display()
    ))
    .ok();
    assert_eq!(out, "pw=x\n");
}

/// The link at a custom path gets the secret's owner, as sops-nix's `SecureSymlinkChown` gives
/// it; the chown now goes through an `O_PATH` descriptor of the link just made (by name, a
/// racing owner of the directory could have had a hard link chowned instead).
#[test]
fn a_custom_path_link_gets_the_secrets_owner() {
    let f = Fixture::new();
    let v = f.encrypt("v.yaml", "a: x\n");
    let m = f.manifest(
        "m.json",
        json!([secret(
            "a",
            &v,
            json!({"owner": "u1", "group": "u1", "path": "/home/u1/cfg/a"})
        )]),
        json!({}),
    );
    let out = sandbox(&format!(
        r#"user u1
as u1 'mkdir /home/u1/cfg'
$BIN {m} >/dev/null
stat -c '%F %U:%G' /home/u1/cfg/a
ls -A /home/u1/cfg
"#,
        m = m.display()
    ))
    .ok();
    assert_eq!(out, "symbolic link u1:u1\na\n");
}

/// `nix-sops edit` made its plaintext directory under a predictable name,
/// `nix-sops-edit-<pid>`, in `/dev/shm` (or `$XDG_RUNTIME_DIR`): another user who creates that
/// name first (the pid is easy to guess) sent the plaintext to the next candidate, `$TMPDIR`,
/// which may be on disk. The name is now random, retried on a collision.
#[test]
fn edit_plaintext_stays_on_the_ram_backed_directory_when_its_name_is_taken() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, key, key_file) = crate::peers::dir_with_key("key.txt");
    let d = dir.path();
    let enc = crate::peers::sops_encrypt(d, "s.yaml", b"pw: hunter2\n", &["--age", &key.recipient]);
    std::fs::write(d.join("s.yaml"), &enc).unwrap();
    // A "disk" TMPDIR; $XDG_RUNTIME_DIR is a shared, sticky RAM directory (as /dev/shm is),
    // made in the namespace's own /dev/shm.
    let disk = d.join("disk");
    std::fs::create_dir(&disk).unwrap();
    std::fs::set_permissions(&disk, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let editor = d.join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nprintf '%s' \"$1\" > \"$MARK\"\n").unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The squatter takes the name nix-sops will compute: the pid of the shell that execs it.
    // In a private mount namespace with its own /dev/shm, so the machine's is never touched.
    let o = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-euc"])
        .arg(
            r#"mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mountpoint -q /dev/shm
mkdir -m 1777 "$XDG_RUNTIME_DIR"
# The inner shell's pid is the one nix-sops runs as (exec).
set +e
sh -c 'mkdir -m 0777 "$XDG_RUNTIME_DIR/nix-sops-edit-$$" /dev/shm/nix-sops-edit-$$
exec "$NIX_SOPS" edit s.yaml'
rc=$?
if [ -e "$(cat "$MARK")" ]; then echo "LEFT BEHIND"; fi
exit $rc"#,
        )
        .current_dir(d)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", d)
        .env("NIX_SOPS", env!("CARGO_BIN_EXE_nix-sops"))
        .env("XDG_RUNTIME_DIR", "/dev/shm/runtime")
        .env("TMPDIR", &disk)
        .env("SOPS_AGE_KEY_FILE", &key_file)
        .env("EDITOR", &editor)
        .env("MARK", d.join("scratch-path"))
        .output()
        .unwrap();
    // Unchanged: sops' exit code 200.
    assert_eq!(
        o.status.code(),
        Some(200),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let scratch = std::fs::read_to_string(d.join("scratch-path")).unwrap();
    assert!(
        scratch.starts_with("/dev/shm/runtime/nix-sops-edit-"),
        "the plaintext went to {scratch}"
    );
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("LEFT BEHIND"),
        "{scratch} was left behind"
    );
    assert_eq!(std::fs::read_dir(&disk).unwrap().count(), 0);
}

/// A custom `path` at the installer's lock file (here through `/var/run` → `/run`) replaced it
/// with a link, and every later activation failed on it: a configuration mistake that blocked
/// every secret. It is refused before anything is touched, as a path into the mount point is.
#[test]
fn a_path_at_the_lock_file_is_refused_before_anything_is_touched() {
    let f = Fixture::new();
    let v = f.encrypt("v.yaml", "a: x\nb: y\n");
    let m = f.manifest(
        "m.json",
        json!([
            secret("a", &v, json!({"path": "/var/run/.secrets.d.lock"})),
            secret("b", &v, json!({}))
        ]),
        json!({}),
    );
    let out = sandbox(&format!(
        r#"[ -L /var/run ] || {{ echo "no /var/run link on this machine" >&2; exit 1; }}
for run in 1 2; do
  if $BIN {m} >/dev/null 2>/run/err; then echo "EXIT 0"; else echo "EXIT $?"; fi
done
[ -e /run/secrets ] && echo "TOUCHED"
[ -L /run/.secrets.d.lock ] && echo "LOCK IS A LINK"
cat /run/err
"#,
        m = m.display()
    ))
    .ok();
    assert!(!out.contains("LOCK IS A LINK"), "{out}");
    assert!(!out.contains("TOUCHED") && out.contains("EXIT 1"), "{out}");
    assert!(
        out.contains("secret a") && out.contains("/run/.secrets.d.lock"),
        "{out}"
    );
}

/// The parent walk (custom paths, and now template files) refused every symlink in a directory
/// others can write to, even a sticky one like `/nix/store` (`1775 root:nixbld`), where only
/// root can replace a root-owned entry: a template whose `file` is inside a store path that is
/// itself a symlink no longer rendered. A root-owned link in a sticky root directory that only a
/// group can write is followed; a user's own link there is still refused, and so is a root-owned
/// link in a world-writable sticky directory (`/tmp`: without protected hard links, anyone can
/// make a root symlink appear there).
#[test]
fn root_links_in_a_sticky_directory_are_followed_users_are_not() {
    let f = Fixture::new();
    let v = f.encrypt("v.yaml", "a: x\n");
    let manifest = |name: &str, file: &str| {
        f.manifest(
            name,
            json!([secret("a", &v, json!({}))]),
            json!({
                "templates": [template("t", file, "u1")],
                "placeholderBySecretName": {"a": "<A>"}
            }),
        )
    };
    let root_link = manifest("m1.json", "/run/store/linked/app.conf");
    let user_link = manifest("m2.json", "/run/store/users/app.conf");
    let tmp_link = manifest("m3.json", "/run/shared/linked/app.conf");
    let out = sandbox(&format!(
        r#"user u1
# A store-like directory: sticky, writable by a group of builders.
mkdir -m 1775 /run/store && chgrp u1 /run/store
mkdir /run/store/real && echo 'pw=<A>' >/run/store/real/app.conf
ln -s /run/store/real /run/store/linked
as u1 'mkdir /run/store/mine && echo "pw=<A> by u1" >/run/store/mine/app.conf && ln -s /run/store/mine /run/store/users'
$BIN {root_link} >/dev/null
cat /run/secrets/rendered/t
if $BIN {user_link} >/dev/null 2>/run/err; then echo "EXIT 0"; else echo "EXIT $?"; fi
cat /run/err
mkdir /run/shared && chmod 1777 /run/shared && ln -s /run/store/real /run/shared/linked
if $BIN {tmp_link} >/dev/null 2>/run/err; then echo "TMP EXIT 0"; else echo "TMP EXIT $?"; fi
cat /run/err
"#,
        root_link = root_link.display(),
        user_link = user_link.display(),
        tmp_link = tmp_link.display()
    ))
    .ok();
    assert!(out.starts_with("pw=x\n"), "{out}");
    assert!(
        out.contains("\nEXIT 1") && out.contains("/run/store/users") && !out.contains("by u1"),
        "{out}"
    );
    assert!(
        out.contains("TMP EXIT 1") && out.contains("/run/shared/linked is a symlink"),
        "{out}"
    );
}

/// A secret's owner owns its file in the live generation, so they can `chmod u+w` it and make it
/// as large as they like: on ramfs `truncate -s 1T` costs nothing. The next activation read the
/// whole old file to compare it (a buffer of its size: a 1 TiB allocation aborts), so one user
/// stopped every later activation. A file whose size differs is now known to differ unread, and
/// a same-size file is read into a buffer of the planned size only.
#[test]
fn a_secrets_owner_growing_their_live_file_never_blocks_activation() {
    let f = Fixture::new();
    let v1 = f.encrypt("v1.yaml", "a: x\nb: y\n");
    let v2 = f.encrypt("v2.yaml", "a: x2\nb: y2\n");
    let s = |file| {
        json!([
            secret("a", file, json!({"owner": "u1"})),
            secret("b", file, json!({}))
        ])
    };
    let m1 = f.manifest("m1.json", s(&v1), json!({}));
    let m2 = f.manifest("m2.json", s(&v2), json!({}));
    let out = sandbox(&format!(
        r#"user u1
$BIN {m1} >/dev/null
as u1 'chmod u+w /run/secrets/a && truncate -s 1T /run/secrets/a'
# Bounded memory whatever the installer does (this machine is shared), and the 1 TiB file is
# never read here either.
if (ulimit -v 4000000; $BIN {m2} >/run/out 2>/run/err); then echo "EXIT 0"; else echo "EXIT $?"; fi
echo "a=$(head -c 16 /run/secrets/a) b=$(head -c 16 /run/secrets/b)"
cat /run/out /run/err
"#,
        m1 = m1.display(),
        m2 = m2.display()
    ))
    .ok();
    assert!(out.contains("EXIT 0"), "{out}");
    assert!(out.contains("a=x2 b=y2"), "{out}");
    assert!(out.contains("modifying secrets: a, b"), "{out}");
}

/// Missing parents of a custom path were made `0777` under the umask: run with umask 000 (or
/// 002), the installer left a world-writable (or group-writable) directory in `/etc`, where
/// anyone could plant files, and then refused its own directory for the link. They are now
/// never writable by group or others, whatever the umask.
#[test]
fn parents_made_for_a_link_are_never_writable_by_others() {
    let f = Fixture::new();
    let v = f.encrypt("v.yaml", "a: x\n");
    let m = f.manifest(
        "m.json",
        json!([secret("a", &v, json!({"path": "/etc/app-review/conf/a"}))]),
        json!({}),
    );
    let out = sandbox(&format!(
        r#"umask 000
if $BIN {m} >/dev/null 2>/run/err; then echo "EXIT 0"; else echo "EXIT $?"; fi
stat -c '%n %a %U' /etc/app-review /etc/app-review/conf
readlink /etc/app-review/conf/a
cat /run/err
"#,
        m = m.display()
    ))
    .ok();
    assert!(out.contains("EXIT 0"), "{out}");
    assert!(
        out.contains("/etc/app-review 755 root\n/etc/app-review/conf 755 root\n/run/secrets/a\n"),
        "{out}"
    );
}

/// The same for the parents of the mount point (made for the lock file before the mount) and of
/// the symlink path: `create_dir_all` under umask 000 made them world-writable, so anyone could
/// plant the lock file (or rename the symlink path) in them.
#[test]
fn parents_of_the_mount_point_and_symlink_path_are_never_writable_by_others() {
    let f = Fixture::new();
    let v = f.encrypt("v.yaml", "a: x\n");
    let m = f.manifest(
        "m.json",
        json!([secret("a", &v, json!({"path": "/run/deep-link/secrets/a"}))]),
        json!({"secretsMountPoint": "/run/deep-mount/secrets.d", "symlinkPath": "/run/deep-link/secrets"}),
    );
    let out = sandbox(&format!(
        r#"umask 000
$BIN {m} >/dev/null
stat -c '%n %a' /run/deep-mount /run/deep-link
cat /run/deep-link/secrets/a
"#,
        m = m.display()
    ))
    .ok();
    assert_eq!(out, "/run/deep-mount 755\n/run/deep-link 755\nx");
}
