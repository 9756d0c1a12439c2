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
