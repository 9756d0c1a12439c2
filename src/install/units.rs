//! Telling systemd what to restart: the activation lists switch-to-configuration reads, or
//! `systemctl --no-block` when running as a unit (`SOPS_RESTART_UNITS_VIA_SYSTEMCTL=1`).

use super::{Context, Error, ErrorKind, Result};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub(crate) struct Notify<'a> {
    pub dry: bool,
    pub via_systemctl: bool,
    /// `/run/nixos`; lists are written only if it exists.
    pub nixos_dir: &'a Path,
    pub systemctl: &'a Path,
}

impl Notify<'_> {
    pub(crate) fn send(&self, restart: &[String], reload: &[String]) -> Result<()> {
        if self.via_systemctl {
            if self.dry {
                for u in restart {
                    eprintln!("would restart {u}");
                }
                for u in reload {
                    eprintln!("would reload {u}");
                }
                return Ok(());
            }
            systemctl(self.systemctl, "try-restart", restart)?;
            systemctl(self.systemctl, "try-reload-or-restart", reload)?;
            return Ok(());
        }
        let prefix = if self.dry {
            "dry-activation"
        } else {
            "activation"
        };
        self.append(restart, &format!("{prefix}-restart-list"))?;
        self.append(reload, &format!("{prefix}-reload-list"))
    }

    fn append(&self, units: &[String], file: &str) -> Result<()> {
        if units.is_empty() || !self.nixos_dir.is_dir() {
            return Ok(());
        }
        let p = self.nixos_dir.join(file);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&p)
            .with_context(ErrorKind::Units, || format!("cannot open {}", p.display()))?;
        let mut text = String::new();
        for u in units {
            text.push_str(u);
            text.push('\n');
        }
        f.write_all(text.as_bytes())
            .with_context(ErrorKind::Units, || format!("cannot write {}", p.display()))
    }
}

fn systemctl(bin: &Path, verb: &str, units: &[String]) -> Result<()> {
    if units.is_empty() {
        return Ok(());
    }
    let status = std::process::Command::new(bin)
        .arg("--no-block")
        .arg(verb)
        // Names are validated in the manifest; `--` still keeps any from being read as an option.
        .arg("--")
        .args(units)
        .stdout(std::process::Stdio::inherit())
        .status()
        .with_context(ErrorKind::Units, || format!("cannot run systemctl {verb}"))?;
    if !status.success() {
        return Err(Error::new(
            ErrorKind::Units,
            format!(
                "error running 'systemctl --no-block {verb} -- {}': {status}",
                units.join(" ")
            ),
        ));
    }
    Ok(())
}

/// Sorted, without duplicates.
pub(crate) fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}
