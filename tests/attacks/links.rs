//! Custom `path`s: links outside the generation, in directories users control.

use crate::support::{sandbox, secret, Fixture};
use serde_json::json;

/// `u1` owns a secret linked into `~/.vnc`; after one activation they replace `~/.vnc` with a
/// symlink to `/etc`. Before the fix the next activation made `/etc/passwd` a symlink to `u1`'s
/// secret (sops-nix does the same: `Lstat`/`Remove`/`Rename` on full paths).
#[test]
fn symlinked_parent_never_redirects_a_root_write() {
    let f = Fixture::new();
    let v1 = f.encrypt("v1.yaml", "vnc: first\nother: o\n");
    let v2 = f.encrypt("v2.yaml", "vnc: second\nother: o2\n");
    let s = |file| {
        json!([
            secret(
                "vnc",
                file,
                json!({"owner": "u1", "path": "/home/u1/.vnc/passwd"})
            ),
            secret("other", file, json!({}))
        ])
    };
    let m1 = f.manifest("m1.json", s(&v1), json!({}));
    let m2 = f.manifest("m2.json", s(&v2), json!({}));
    let run = sandbox(&format!(
        r#"user u1
$BIN {m1} >/dev/null
[ "$(readlink /home/u1/.vnc/passwd)" = /run/secrets/vnc ]
as u1 'mv /home/u1/.vnc /home/u1/.vnc.old && ln -s /etc /home/u1/.vnc'
cp -a /etc/passwd /run/passwd.before
if $BIN {m2} >/dev/null 2>/run/err; then echo "EXIT 0"; else echo "EXIT $?"; fi
[ -L /etc/passwd ] && echo "PASSWD IS A LINK"
cmp -s /etc/passwd /run/passwd.before && echo "passwd intact"
[ -e /etc/.nix-sops-link-* ] 2>/dev/null && echo "LEFTOVER IN /etc"
echo "live: $(cat /run/secrets/other)"
cat /run/err
"#,
        m1 = m1.display(),
        m2 = m2.display()
    ));
    let out = run.ok();
    assert!(!out.contains("PASSWD IS A LINK"), "{out}");
    assert!(out.contains("passwd intact"), "{out}");
    assert!(!out.contains("LEFTOVER"), "{out}");
    // The rest of the generation went live; the run failed, naming the path and the reason.
    assert!(out.contains("live: o2"), "{out}");
    assert!(out.contains("EXIT 1"), "{out}");
    assert!(
        out.contains("/home/u1/.vnc/passwd") && out.contains("symlink"),
        "the error names the link and why: {out}"
    );
    assert!(
        !out.contains("second"),
        "no secret value in messages: {out}"
    );
}

/// A symlink planted in a parent's place the *first* time is refused the same way; a symlink
/// only root can change (`/var/run` → `/run` style) is followed.
#[test]
fn only_root_made_symlinks_are_followed() {
    let f = Fixture::new();
    let v = f.encrypt("v.yaml", "a: x\nb: y\n");
    let m = f.manifest(
        "m.json",
        json!([
            secret("a", &v, json!({"owner": "u1", "path": "/home/u1/cfg/a"})),
            secret("b", &v, json!({"path": "/srv/rootlink/b"}))
        ]),
        json!({}),
    );
    let run = sandbox(&format!(
        r#"user u1
mkdir -p /run/real /srv && ln -sfn /run/real /srv/rootlink
as u1 'ln -s /etc /home/u1/cfg'
if $BIN {m} >/dev/null 2>/run/err; then echo "EXIT 0"; else echo "EXIT $?"; fi
[ -e /etc/a ] && echo "WROTE /etc/a"
echo "b -> $(readlink /run/real/b)"
cat /run/err
"#,
        m = m.display()
    ));
    let out = run.ok();
    assert!(!out.contains("WROTE"), "{out}");
    assert!(out.contains("b -> /run/secrets/b"), "{out}");
    assert!(
        out.contains("EXIT 1") && out.contains("/home/u1/cfg/a"),
        "{out}"
    );
}

/// A directory a user made where another secret's link goes used to fail the whole run before
/// the switch: no `/run/secrets` at all. Now only that link fails.
#[test]
fn a_user_made_directory_blocks_only_its_own_link() {
    let f = Fixture::new();
    let v = f.encrypt("v.yaml", "a: x\nb: y\n");
    let m = f.manifest(
        "m.json",
        json!([
            secret("a", &v, json!({})),
            secret("b", &v, json!({"owner": "u1", "path": "/home/u1/b"}))
        ]),
        json!({}),
    );
    let run = sandbox(&format!(
        r#"user u1
as u1 'mkdir /home/u1/b'
if $BIN {m} >/dev/null 2>/run/err; then echo "EXIT 0"; else echo "EXIT $?"; fi
echo "a=$(cat /run/secrets/a)"
[ -d /home/u1/b ] && [ ! -L /home/u1/b ] && echo "dir kept"
cat /run/err
"#,
        m = m.display()
    ));
    let out = run.ok();
    assert!(out.contains("a=x"), "the generation went live: {out}");
    assert!(out.contains("dir kept"), "{out}");
    assert!(
        out.contains("EXIT 1") && out.contains("/home/u1/b") && out.contains("directory"),
        "{out}"
    );
}

/// A file another user owns where a link goes is not deleted (sops-nix `os.Remove`s anything);
/// a file root made there is replaced, as in sops-nix's `/run/existing-file` test.
#[test]
fn files_of_other_users_are_never_replaced() {
    let f = Fixture::new();
    let v = f.encrypt("v.yaml", "a: x\nb: y\n");
    let m = f.manifest(
        "m.json",
        json!([
            secret("a", &v, json!({"owner": "u1", "path": "/home/u1/a"})),
            secret("b", &v, json!({"path": "/run/existing-file"}))
        ]),
        json!({}),
    );
    let run = sandbox(&format!(
        r#"user u1
user u2
chmod 0777 /home/u1
as u2 'echo mine > /home/u1/a'
echo old > /run/existing-file
if $BIN {m} >/dev/null 2>/run/err; then echo "EXIT 0"; else echo "EXIT $?"; fi
echo "a: $(cat /home/u1/a)"
echo "b -> $(readlink /run/existing-file)"
cat /run/err
"#,
        m = m.display()
    ));
    let out = run.ok();
    assert!(out.contains("a: mine"), "{out}");
    assert!(out.contains("b -> /run/secrets/b"), "{out}");
    assert!(out.contains("EXIT 1"), "{out}");
}

/// The link's temporary name used to be predictable (`.<name>.nix-sops-new`, in the
/// user-writable parent): planting it made the run fail *after* the switch and before the
/// restart list was written, and the next run saw no change, so the unit never restarted.
#[test]
fn planted_names_and_blocked_links_never_make_a_restart_vanish() {
    let f = Fixture::new();
    let v1 = f.encrypt("v1.yaml", "x: one\ny: one\n");
    let v2 = f.encrypt("v2.yaml", "x: two\ny: two\n");
    let s = |file| {
        json!([
            secret(
                "x",
                file,
                json!({"owner": "u1", "path": "/home/u1/x", "restartUnits": ["x.service"]})
            ),
            secret(
                "y",
                file,
                json!({"owner": "u1", "path": "/home/u1/y", "restartUnits": ["y.service"]})
            )
        ])
    };
    let m1 = f.manifest("m1.json", s(&v1), json!({}));
    let m2 = f.manifest("m2.json", s(&v2), json!({}));
    let run = sandbox(&format!(
        r#"user u1
$BIN {m1} >/dev/null
rm -f /run/nixos/activation-restart-list
# The old fixed temporary name, planted; and a directory where y's link must go.
as u1 'mkdir /home/u1/.x.nix-sops-new; rm /home/u1/y; mkdir /home/u1/y'
if $BIN {m2} >/dev/null 2>/run/err; then echo "EXIT 0"; else echo "EXIT $?"; fi
echo "x -> $(readlink /home/u1/x) = $(cat /home/u1/x)"
echo "restart: $(sort /run/nixos/activation-restart-list | tr '\n' ' ')"
cat /run/err
"#,
        m1 = m1.display(),
        m2 = m2.display()
    ));
    let out = run.ok();
    assert!(out.contains("x -> /run/secrets/x = two"), "{out}");
    // As in sops-nix, where the restart list is written (main.go:1461) before any link is made
    // (main.go:1472; Mic92/sops-nix 56b24064, pkgs/sops-install-secrets/main.go).
    assert!(
        out.contains("restart: x.service y.service"),
        "both content changes restart their units, even y whose link failed: {out}"
    );
    assert!(
        out.contains("EXIT 1") && out.contains("/home/u1/y"),
        "{out}"
    );
}

/// A parent others can write (`/tmp`): another user could swap the link the owner's program
/// reads, so that link is refused; a root-owned 0755 directory is fine.
#[test]
fn parents_writable_by_others_are_refused() {
    let f = Fixture::new();
    let v = f.encrypt("v.yaml", "a: x\nb: y\n");
    let m = f.manifest(
        "m.json",
        json!([
            secret("a", &v, json!({"path": "/tmp/a"})),
            secret("b", &v, json!({"path": "/srv/app/b"}))
        ]),
        json!({}),
    );
    let out = sandbox(&format!(
        r#"if $BIN {m} >/dev/null 2>/run/err; then echo "EXIT 0"; else echo "EXIT $?"; fi
[ -e /tmp/a ] && echo "LINKED IN /tmp"
echo "b -> $(readlink /srv/app/b) $(stat -c '%U %a' /srv/app)"
cat /run/err
"#,
        m = m.display()
    ))
    .ok();
    assert!(!out.contains("LINKED IN /tmp"), "{out}");
    assert!(out.contains("b -> /run/secrets/b root 755"), "{out}");
    assert!(
        out.contains("EXIT 1") && out.contains("every user can write"),
        "{out}"
    );
}

/// A directory higher up that another user controls is as bad as the link's own parent: alice
/// could rename `/home/alice/app` (made by root, 0755) away and put her own `app/token` in its
/// place, which the secret's owner would then read. Refused before anything is made there; the
/// secret's owner's own home is fine.
#[test]
fn an_ancestor_another_user_controls_is_refused() {
    let f = Fixture::new();
    let v = f.encrypt("v.yaml", "a: x\nb: y\n");
    let m = f.manifest(
        "m.json",
        json!([
            secret(
                "a",
                &v,
                json!({"path": "/home/alice/app/token", "owner": "bob"})
            ),
            secret(
                "b",
                &v,
                json!({"path": "/home/bob/app/token", "owner": "bob"})
            )
        ]),
        json!({}),
    );
    let out = sandbox(&format!(
        r#"user alice; user bob
if $BIN {m} >/dev/null 2>/run/err; then echo "EXIT 0"; else echo "EXIT $?"; fi
[ -e /home/alice/app ] && echo "MADE IN ALICE'S HOME"
echo "b -> $(readlink /home/bob/app/token)"
cat /run/err
"#,
        m = m.display()
    ))
    .ok();
    assert!(!out.contains("MADE IN ALICE'S HOME"), "{out}");
    assert!(out.contains("b -> /run/secrets/b"), "{out}");
    assert!(
        out.contains("EXIT 1")
            && out.contains("/home/alice is not safe")
            && out.contains("owned by uid"),
        "{out}"
    );
}

/// `/var/run` is a root-made link to `/run`: a custom path through it into the symlink path
/// used to pass the textual check and make a loop (exit 0). It is a configuration mistake,
/// refused before anything is touched.
#[test]
fn a_path_resolving_into_the_symlink_path_is_refused_before_anything_is_touched() {
    let f = Fixture::new();
    let v = f.encrypt("v.yaml", "a: x\n");
    let m = f.manifest(
        "m.json",
        json!([secret("a", &v, json!({"path": "/var/run/secrets/a"}))]),
        json!({}),
    );
    let out = sandbox(&format!(
        r#"[ -L /var/run ] || {{ echo "no /var/run link on this machine" >&2; exit 1; }}
if $BIN {m} >/dev/null 2>/run/err; then echo "EXIT 0"; else echo "EXIT $?"; fi
[ -e /run/secrets ] || [ -e /run/secrets.d ] && echo "TOUCHED"
cat /run/err
"#,
        m = m.display()
    ))
    .ok();
    assert!(out.contains("EXIT 1"), "{out}");
    assert!(!out.contains("TOUCHED"), "{out}");
    assert!(out.contains("resolves to /run/secrets/a"), "{out}");
}

/// The generation's change record says which secrets changed: root's business only.
#[test]
fn the_change_record_is_not_world_readable() {
    let f = Fixture::new();
    let v = f.encrypt("v.yaml", "a: x\n");
    let m = f.manifest("m.json", json!([secret("a", &v, json!({}))]), json!({}));
    let out = sandbox(&format!(
        r#"user u1
$BIN {m} >/dev/null
stat -c '%a %U' /run/secrets/.nix-sops/changes.json
as u1 'cat /run/secrets/.nix-sops/changes.json >/dev/null 2>&1 && echo READABLE || true'
"#,
        m = m.display()
    ))
    .ok();
    assert!(out.contains("640 root"), "{out}");
    assert!(!out.contains("READABLE"), "{out}");
}
