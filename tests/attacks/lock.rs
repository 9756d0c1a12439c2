//! Two installers at once: the systemd unit and an activation at first boot, or two switches.

use crate::support::{sandbox, secret, Fixture};
use serde_json::json;

/// The lock used to be taken on the mount it was about to create: at first boot two runs could
/// both mount, leaving two ramfs stacked and `/run/secrets` pointing into the hidden one (19 of
/// 30 runs), with exit 0. Now the second waits for the first: both succeed, on one mount.
#[test]
fn two_installers_at_first_boot_never_stack_mounts() {
    let f = Fixture::new();
    let body: String = (0..100).map(|i| format!("s{i}: v{i}\n")).collect();
    let v = f.encrypt("v.yaml", &body);
    let secrets: Vec<_> = (0..100)
        .map(|i| secret(&format!("s{i}"), &v, json!({})))
        .collect();
    let m = f.manifest("m.json", json!(secrets), json!({}));
    let out = sandbox(&format!(
        r#"for i in $(seq 1 30); do
  $BIN {m} >/dev/null 2>/run/e1 & a=$!
  $BIN {m} >/dev/null 2>/run/e2 & b=$!
  ra=0; rb=0; wait $a || ra=$?; wait $b || rb=$?
  mounts=$(awk '$5 == "/run/secrets.d"' /proc/self/mountinfo | wc -l)
  [ "$mounts" = 1 ] || {{ echo "STACKED $mounts"; exit 1; }}
  g=$(readlink /run/secrets)
  [ "$(ls $g | wc -l)" = 100 ] || {{ echo "DANGLING $g"; exit 1; }}
  if [ -z "${{TOLERATE_CLEAN_FAILURES:-}}" ]; then
    [ $ra = 0 ] && [ $rb = 0 ] || {{ echo "FAILED $ra $rb"; cat /run/e1 /run/e2; exit 1; }}
  fi
  # Back to a first boot.
  rm /run/secrets
  umount /run/secrets.d
done
echo fine"#,
        m = m.display()
    ))
    .ok();
    assert_eq!(out.trim(), "fine");
}
