//! `sops-install-secrets`: plan, then apply.
//!
//! Everything that can fail because of the input (manifest, owners, keys, decryption, key paths,
//! templates, link targets) is decided before the filesystem is touched. Then: mount → write
//! generation N+1 → switch the symlink (one `rename`) → out-of-tree links → unit lists → prune.
//! A failure before the switch removes the new generation and leaves the live one untouched.

pub mod changes;
pub mod check;
pub mod fsutil;
pub mod generation;
pub mod keys;
pub mod links;
pub mod mount;
pub mod owners;
pub mod plan;
pub mod prune;
pub mod switch;
pub mod templates;
pub mod units;
pub mod write;

use crate::manifest::{Manifest, STATE_DIR};
use anyhow::{anyhow, Context, Result};
use owners::Policy;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckMode {
    Off,
    Manifest,
    Sopsfile,
}

impl std::str::FromStr for CheckMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(CheckMode::Off),
            "manifest" => Ok(CheckMode::Manifest),
            "sopsfile" => Ok(CheckMode::Sopsfile),
            other => Err(format!(
                "invalid value provided for -check-mode flag: {other:?} (use manifest, sopsfile or off)"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub check_mode: CheckMode,
    pub ignore_passwd: bool,
    /// Forces a dry run (as `NIXOS_ACTION=dry-activate`).
    pub dry_run: bool,
}

/// The process environment the installer depends on, gathered once.
#[derive(Debug, Clone)]
pub struct Env {
    /// `NIXOS_ACTION=dry-activate`.
    pub dry_activate: bool,
    /// `SOPS_RESTART_UNITS_VIA_SYSTEMCTL=1`.
    pub restart_via_systemctl: bool,
    /// `/run/nixos`.
    pub nixos_dir: PathBuf,
    /// For `%r` in user mode.
    pub runtime_dir: RuntimeDir,
    /// Prefix of log lines (`sops-install-secrets`).
    pub prog: String,
    /// The `systemctl` to run (from PATH by default).
    pub systemctl: PathBuf,
}

/// Where `%r` points in user mode: `$XDG_RUNTIME_DIR`; else `/run/user/<uid>` if it exists; else
/// `$TMPDIR/nix-sops-<uid>` (default `/tmp`), created 0700 by the install and refused if it is
/// not a directory owned by the user.
#[derive(Debug, Clone)]
pub struct RuntimeDir {
    pub path: String,
    pub fallback_private: bool,
}

impl RuntimeDir {
    pub fn from_process() -> RuntimeDir {
        if let Some(x) = std::env::var("XDG_RUNTIME_DIR")
            .ok()
            .filter(|x| !x.is_empty())
        {
            return RuntimeDir {
                path: x,
                fallback_private: false,
            };
        }
        let uid = nix::unistd::getuid().as_raw();
        let run_user = format!("/run/user/{uid}");
        if Path::new(&run_user).is_dir() {
            return RuntimeDir {
                path: run_user,
                fallback_private: false,
            };
        }
        let tmp = std::env::var("TMPDIR")
            .ok()
            .filter(|t| t.starts_with('/'))
            .unwrap_or_else(|| "/tmp".into());
        RuntimeDir {
            path: format!("{}/nix-sops-{uid}", tmp.trim_end_matches('/')),
            fallback_private: true,
        }
    }

    /// Creates the private fallback directory (0700) or checks that it is the user's own.
    fn ensure(&self) -> Result<()> {
        if !self.fallback_private {
            return Ok(());
        }
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        match std::fs::DirBuilder::new().mode(0o700).create(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot create runtime directory {}", self.path))
            }
        }
        let md = std::fs::symlink_metadata(&self.path)?;
        if !md.is_dir() || md.uid() != nix::unistd::getuid().as_raw() || md.mode() & 0o077 != 0 {
            return Err(anyhow!(
                "XDG_RUNTIME_DIR is unset and the fallback {} is not a private (0700) directory of this user; set XDG_RUNTIME_DIR",
                self.path
            ));
        }
        Ok(())
    }
}

impl Env {
    pub fn from_process(prog: &str) -> Env {
        Env {
            dry_activate: std::env::var("NIXOS_ACTION").as_deref() == Ok("dry-activate"),
            restart_via_systemctl: std::env::var("SOPS_RESTART_UNITS_VIA_SYSTEMCTL").as_deref()
                == Ok("1"),
            nixos_dir: PathBuf::from("/run/nixos"),
            runtime_dir: RuntimeDir::from_process(),
            prog: prog.to_owned(),
            systemctl: PathBuf::from("systemctl"),
        }
    }
}

/// What an install did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The new generation (None for check modes and dry runs).
    pub generation: Option<PathBuf>,
    pub record: changes::Record,
    /// How many sops files were decrypted.
    pub decrypted: usize,
}

/// Reads the manifest file and installs it.
pub fn install(manifest_path: &Path, opts: &Options, env: &Env) -> Result<Outcome> {
    let bytes = std::fs::read(manifest_path)
        .with_context(|| format!("failed to open manifest {}", manifest_path.display()))?;
    install_bytes(&bytes, opts, env, None)
}

/// Installs a manifest given as bytes. `source` replaces the real decryption (tests).
pub fn install_bytes(
    bytes: &[u8],
    opts: &Options,
    env: &Env,
    source: Option<&mut dyn plan::Source>,
) -> Result<Outcome> {
    let m = Manifest::parse(bytes, Some(&env.runtime_dir.path))?;
    match opts.check_mode {
        CheckMode::Manifest => {
            templates::texts(&m).map_err(|e| anyhow!("manifest is not valid: {e}"))?;
            return Ok(Outcome::default());
        }
        CheckMode::Sopsfile => {
            templates::texts(&m).map_err(|e| anyhow!("manifest is not valid: {e}"))?;
            check::sops_files(&m).map_err(|e| anyhow!("manifest is not valid: {e:#}"))?;
            return Ok(Outcome::default());
        }
        CheckMode::Off => {}
    }
    let dry = opts.dry_run || env.dry_activate;
    let policy = if m.user_mode {
        Policy::User
    } else if opts.ignore_passwd {
        Policy::IgnorePasswd
    } else if dry {
        Policy::LookupLenient
    } else {
        Policy::Lookup
    };

    // ---- plan: nothing below touches the filesystem until `apply` ----
    plan::check_owners(&m, policy)?;
    let keys_gid = owners::keys_gid(policy)?;
    mount::preflight(&m.secrets_mount_point)?;
    templates::texts(&m)?;

    let mut own: Option<plan::SopsSource> = None;
    if source.is_none() {
        let imported = keys::load(&m, &env.prog)?;
        for w in &imported.warnings {
            eprintln!("{}: warning: {w}", env.prog);
        }
        if !m.secrets.is_empty() {
            imported.require_some()?;
        }
        own = Some(plan::SopsSource {
            keyring: imported.keyring,
            decrypted: 0,
        });
    }
    let src: &mut dyn plan::Source = match source {
        Some(s) => s,
        None => own.as_mut().expect("set above"),
    };
    let mut entries = plan::secrets(&m, src, policy)?;
    let tpl = plan::templates(&m, &entries, policy)?;
    entries.extend(tpl);
    let decrypted = own.as_ref().map(|s| s.decrypted).unwrap_or(0);
    links::preflight(&entries)?;
    let live = generation::Live::read(&m.secrets_mount_point, &m.symlink_path)?;
    let mut record = changes::diff(&entries, live.dir.as_ref())?;
    record.previous = live.number;
    record.dry_run = dry;
    // Restarts only when there was something running with the old secrets (sops-nix: a missing
    // symlinkPath means stage-2 init, where nothing is restarted).
    let notify = live.link_exists && !m.user_mode;
    let notifier = units::Notify {
        dry,
        via_systemctl: env.restart_via_systemctl,
        nixos_dir: &env.nixos_dir,
        systemctl: &env.systemctl,
    };

    if dry {
        if notify {
            notifier.send(&record.restart_units, &record.reload_units)?;
        }
        if m.logging.secret_changes {
            for l in changes::log_lines(&record, true) {
                println!("{l}");
            }
        }
        return Ok(Outcome {
            generation: None,
            record,
            decrypted,
        });
    }

    // ---- apply ----
    if m.user_mode {
        env.runtime_dir.ensure()?;
    }
    let mount_fd = mount::ensure(&m.secrets_mount_point, keys_gid, m.use_tmpfs, m.user_mode)
        .context("failed to mount filesystem for secrets")?;
    // One installer at a time per mount point; the lock is released when the process exits.
    lock(&mount_fd, &m.secrets_mount_point)?;
    // The plan was made against the live generation; another run may have switched since.
    let now = generation::Live::read(&m.secrets_mount_point, &m.symlink_path)?;
    if now.number != live.number {
        return Err(anyhow!(
            "another install switched {} while this one was planning; run it again",
            m.symlink_path.display()
        ));
    }
    let number = generation::next_number(&mount_fd, live.number)?;
    let dir_owner = (!m.user_mode).then_some((0, keys_gid));
    let (gen_fd, gen_path) =
        generation::create(&mount_fd, &m.secrets_mount_point, number, dir_owner)?;
    record.generation = number;
    record.links = entries
        .iter()
        .filter_map(|e| {
            e.link.as_ref().map(|p| changes::Link {
                path: p.clone(),
                target: e.link_target.clone(),
            })
        })
        .collect();
    record.links.sort();

    let written = (|| -> Result<()> {
        let mut w = write::Writer::new(&gen_fd, dir_owner);
        for e in entries.iter_mut() {
            w.write(e)
                .with_context(|| format!("{} {}", e.kind.word(), e.name))?;
            // The plaintext is not needed any more.
            e.data = crate::secret::SecretBytes::default();
        }
        let json = serde_json::to_vec_pretty(&record)?;
        let (u, g) = dir_owner.map(|(u, _)| (u, 0)).unwrap_or((0, 0));
        w.write_bytes(
            &format!("{STATE_DIR}/{}", changes::CHANGES_FILE),
            &json,
            u,
            g,
            0o644,
        )?;
        switch::atomic_symlink(&gen_path, &m.symlink_path, true)
    })();
    if let Err(e) = written {
        let _ = fsutil::remove_tree_at(&mount_fd, &number.to_string());
        return Err(e);
    }

    // ---- after the switch: the new generation is live ----
    let previous_links = live
        .dir
        .as_ref()
        .and_then(changes::read_record)
        .map(|r| r.links)
        .unwrap_or_default();
    let made = links::apply(&entries, !m.user_mode)?;
    for p in links::remove_stale(&previous_links, &made) {
        if m.logging.secret_changes {
            println!("removing stale symlink: {p}");
        }
    }
    if notify {
        notifier.send(&record.restart_units, &record.reload_units)?;
    }
    if m.logging.secret_changes {
        for l in changes::log_lines(&record, false) {
            println!("{l}");
        }
    }
    prune::prune(&mount_fd, number, m.keep_generations)?;
    if m.user_mode {
        eprintln!(
            "{}: installed {} secret(s) and {} template(s) in {} ({} → {})",
            env.prog,
            m.secrets.len(),
            m.templates.len(),
            gen_path.display(),
            m.symlink_path.display(),
            gen_path.display()
        );
    }
    Ok(Outcome {
        generation: Some(gen_path),
        record,
        decrypted,
    })
}

#[allow(unsafe_code)]
fn lock(fd: &std::os::fd::OwnedFd, path: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own; no memory is passed.
    if unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("cannot lock {}", path.display()));
    }
    Ok(())
}
