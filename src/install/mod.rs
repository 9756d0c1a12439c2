//! `sops-install-secrets`: plan, then apply.
//!
//! [`install`] runs the steps in order, one function each:
//! 1. `plan`: everything that can fail because of the input (manifest, owners, keys,
//!    decryption, key paths, templates, where custom paths resolve) is decided before the
//!    filesystem is touched;
//! 2. `lock` (the mount point's parent, before anything is mounted) → `mount` → write
//!    generation N+1 → switch the symlink (one `rename`): all or nothing — a failure removes the
//!    new generation and leaves the live one untouched;
//! 3. after the switch, each step runs even when another fails: unit restart/reload lists (first,
//!    so a failed link never makes a restart vanish) → out-of-tree `links`, each on its own →
//!    stale links → `prune`. The run then fails listing every step that did not work.

mod changes;
mod check;
mod fsutil;
mod generation;
mod input;
mod keys;
mod links;
mod lock;
mod mount;
mod owners;
mod plan;
mod prune;
mod switch;
mod templates;
mod units;
mod write;

// The surface besides [`install`], [`main`] and their options below: what a run changed (the
// `changes.json` record and sops-nix's log lines), and the decryption seam tests replace.
pub use changes::{log_lines, Link, Modified, Record, Section};
pub use plan::Source;

mod error;
pub(crate) use error::Context;
pub use error::{Error, ErrorKind, Result};

use crate::manifest::{Manifest, STATE_DIR};
use owners::Policy;
use std::path::{Path, PathBuf};

/// `-check-mode`: validate instead of installing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckMode {
    /// Install (the default).
    Off,
    /// Check the manifest only (`nix build` time, no keys).
    Manifest,
    /// Also open each sops file and check its keys and paths, without decrypting.
    Sopsfile,
}

impl std::str::FromStr for CheckMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "off" => Ok(CheckMode::Off),
            "manifest" => Ok(CheckMode::Manifest),
            "sopsfile" => Ok(CheckMode::Sopsfile),
            other => Err(Error::new(
                ErrorKind::Manifest,
                format!(
                    "invalid value provided for -check-mode flag: {other:?} (use manifest, sopsfile or off)"
                ),
            )),
        }
    }
}

/// How [`install`] runs: sops-install-secrets' flags.
#[derive(Debug, Clone)]
pub struct Options {
    /// `-check-mode`.
    pub check_mode: CheckMode,
    /// `-ignore-passwd`: owners by id only, names not resolved (for a build sandbox).
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
    /// The directory `%r` stands for.
    pub path: String,
    /// Whether it is the `$TMPDIR` fallback, which the install creates and checks itself.
    pub fallback_private: bool,
}

impl RuntimeDir {
    /// Finds it from this process' environment (see [`RuntimeDir`]).
    pub(crate) fn from_process() -> RuntimeDir {
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
                return Err(e).with_context(ErrorKind::Io, || {
                    format!("cannot create runtime directory {}", self.path)
                })
            }
        }
        let md = std::fs::symlink_metadata(&self.path)?;
        if !md.is_dir() || md.uid() != nix::unistd::getuid().as_raw() || md.mode() & 0o077 != 0 {
            return Err(Error::new(ErrorKind::Io, format!(
                "XDG_RUNTIME_DIR is unset and the fallback {} is not a private (0700) directory of this user; set XDG_RUNTIME_DIR",
                self.path
            )));
        }
        Ok(())
    }
}

impl Env {
    /// Reads the real environment; `prog` is the name log lines start with.
    pub(crate) fn from_process(prog: &str) -> Env {
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

/// Program name used in messages and import log lines (sops-nix's VM tests match it).
pub const PROG: &str = "sops-install-secrets";

/// What both binaries run: hardens the process, reads the environment, installs, and maps the
/// result to sops-nix's exit codes: 0, or 1 with `sops-install-secrets: <message>` on stderr.
pub fn main(manifest: &Path, opts: Options) -> std::process::ExitCode {
    crate::secret::harden_process();
    let env = Env::from_process(PROG);
    match install(manifest, &opts, &env) {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{PROG}: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

/// What an install did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The new generation (None for check modes and dry runs).
    pub generation: Option<PathBuf>,
    /// What changed (added, modified, removed; unit restarts), as written to `changes.json`.
    pub record: changes::Record,
    /// How many sops files were decrypted.
    pub decrypted: usize,
}

/// Reads the manifest file and installs it.
pub fn install(manifest_path: &Path, opts: &Options, env: &Env) -> Result<Outcome> {
    let bytes = std::fs::read(manifest_path).with_context(ErrorKind::Manifest, || {
        format!("failed to open manifest {}", manifest_path.display())
    })?;
    install_bytes(&bytes, opts, env)
}

/// Installs a manifest given as bytes, decrypting with the keys the manifest names.
pub fn install_bytes(bytes: &[u8], opts: &Options, env: &Env) -> Result<Outcome> {
    install_with(bytes, opts, env, &mut plan::SopsSource::default())
}

/// Installs a manifest, with plaintext from `source` (the real decryption, or a test double).
pub fn install_with(
    bytes: &[u8],
    opts: &Options,
    env: &Env,
    source: &mut dyn plan::Source,
) -> Result<Outcome> {
    let m = Manifest::parse(bytes, Some(&env.runtime_dir.path)).kind(ErrorKind::Manifest)?;
    if check(&m, opts.check_mode)? {
        return Ok(Outcome::default());
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
    let planned = make_plan(&m, source, policy, env)?;
    if dry {
        return dry_run(&m, planned, env);
    }
    apply(&m, planned, env)
}

/// `-check-mode=manifest|sopsfile`: validation only. Returns whether the run ends here.
fn check(m: &Manifest, mode: CheckMode) -> Result<bool> {
    match mode {
        CheckMode::Off => return Ok(false),
        CheckMode::Manifest => {}
        CheckMode::Sopsfile => {
            check::sops_files(m)
                .map_err(|e| Error::new(e.kind(), format!("manifest is not valid: {e:#}")))?;
        }
    }
    templates::texts(m).map_err(|e| Error::new(e.kind(), format!("manifest is not valid: {e}")))?;
    Ok(true)
}

/// Everything the apply steps need, decided without touching the filesystem.
struct Planned {
    entries: Vec<plan::Entry>,
    keys_gid: u32,
    decrypted: usize,
}

fn make_plan(
    m: &Manifest,
    source: &mut dyn plan::Source,
    policy: Policy,
    env: &Env,
) -> Result<Planned> {
    plan::check_owners(m, policy)?;
    let keys_gid = owners::keys_gid(policy)?;
    mount::preflight(&m.secrets_mount_point)?;
    // Read before any key is loaded or file decrypted, so a bad template source fails fast.
    let texts = templates::texts(m)?;
    source.prepare(m, &env.prog)?;
    let mut entries = plan::secrets(m, source, policy)?;
    let tpl = plan::templates(m, texts, &entries, policy)?;
    entries.extend(tpl);
    links::preflight(&entries, &m.secrets_mount_point, &m.symlink_path)?;
    Ok(Planned {
        entries,
        keys_gid,
        decrypted: source.decrypted(),
    })
}

/// What would change (`NIXOS_ACTION=dry-activate`): reported, nothing written.
fn dry_run(m: &Manifest, planned: Planned, env: &Env) -> Result<Outcome> {
    let live = generation::Live::read(&m.secrets_mount_point, &m.symlink_path)?;
    let mut record = changes::diff(&planned.entries, live.dir.as_ref())?;
    record.previous = live.number;
    record.dry_run = true;
    if live.link_exists && !m.user_mode {
        notifier(env, true).send(&record.restart_units, &record.reload_units)?;
    }
    if m.logging.secret_changes {
        for l in changes::log_lines(&record, true) {
            println!("{l}");
        }
    }
    Ok(Outcome {
        generation: None,
        record,
        decrypted: planned.decrypted,
    })
}

fn notifier(env: &Env, dry: bool) -> units::Notify<'_> {
    units::Notify {
        dry,
        via_systemctl: env.restart_via_systemctl,
        nixos_dir: &env.nixos_dir,
        systemctl: &env.systemctl,
    }
}

fn apply(m: &Manifest, planned: Planned, env: &Env) -> Result<Outcome> {
    let Planned {
        mut entries,
        keys_gid,
        decrypted,
    } = planned;
    if m.user_mode {
        env.runtime_dir.ensure()?;
    }
    // Before the mount: a second installer waits here, so two mounts are never stacked.
    let _lock = lock::acquire(&m.secrets_mount_point, &env.prog, lock::WAIT)?;
    let mount_fd = mount::ensure(&m.secrets_mount_point, keys_gid, m.use_tmpfs, m.user_mode)
        .map_err(|e| e.context(ErrorKind::Mount, "failed to mount filesystem for secrets"))?;
    // Under the lock: the generation this run replaces cannot change any more.
    let live = generation::Live::read(&m.secrets_mount_point, &m.symlink_path)?;
    let mut record = changes::diff(&entries, live.dir.as_ref())?;
    record.previous = live.number;
    let dir_owner = (!m.user_mode).then_some((0, keys_gid));
    let gen_path = write_and_switch(m, &mount_fd, &live, &mut entries, &mut record, dir_owner)?;

    // ---- after the switch: the new generation is live; every step runs ----
    // Each with its step; the run's error takes the first one's kind.
    let mut failures: Vec<(ErrorKind, String)> = Vec::new();
    // Restarts only when something ran with the old secrets (sops-nix: a missing symlinkPath is
    // stage-2 init, where nothing is restarted). Written before the links, so that a link a user
    // blocks never makes a restart vanish.
    if live.link_exists && !m.user_mode {
        if let Err(e) = notifier(env, false).send(&record.restart_units, &record.reload_units) {
            failures.push((ErrorKind::Units, format!("{e:#}")));
        }
    }
    make_links(m, &entries, &live, &mut failures);
    if m.logging.secret_changes {
        for l in changes::log_lines(&record, false) {
            println!("{l}");
        }
    }
    if let Err(e) = prune::prune(&mount_fd, record.generation, m.keep_generations) {
        failures.push((ErrorKind::Prune, format!("{e:#}")));
    }
    if !failures.is_empty() {
        let mut msg = format!(
            "generation {} is live, but {} step(s) after the switch failed:",
            gen_path.display(),
            failures.len()
        );
        for (_, f) in &failures {
            msg.push_str("\n  - ");
            msg.push_str(f);
        }
        return Err(Error::new(failures[0].0, msg));
    }
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

/// Writes generation N+1 and points `symlinkPath` at it: all or nothing.
fn write_and_switch(
    m: &Manifest,
    mount_fd: &std::os::fd::OwnedFd,
    live: &generation::Live,
    entries: &mut [plan::Entry],
    record: &mut changes::Record,
    dir_owner: Option<(u32, u32)>,
) -> Result<PathBuf> {
    let number = generation::next_number(mount_fd, live.number)?;
    let (gen_fd, gen_path) =
        generation::create(mount_fd, &m.secrets_mount_point, number, dir_owner)?;
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
            w.write(e).map_err(|err| {
                err.context(ErrorKind::Write, format!("{} {}", e.kind.word(), e.name))
            })?;
            // The plaintext is not needed any more.
            e.data = crate::secret::SecretBytes::default();
        }
        // Root's own record: which secrets changed is nobody else's business.
        let json = serde_json::to_vec_pretty(&*record).kind(ErrorKind::Write)?;
        let (u, g) = dir_owner.unwrap_or((0, 0));
        w.write_bytes(
            &format!("{STATE_DIR}/{}", changes::CHANGES_FILE),
            &json,
            u,
            g,
            0o640,
        )?;
        switch::atomic_symlink(&gen_path, &m.symlink_path, true)
    })();
    if let Err(e) = written {
        let _ = fsutil::remove_tree_at(mount_fd, &number.to_string());
        return Err(e);
    }
    Ok(gen_path)
}

/// Each custom path on its own: a link a user blocks fails alone, named with its path and why.
fn make_links(
    m: &Manifest,
    entries: &[plan::Entry],
    live: &generation::Live,
    failures: &mut Vec<(ErrorKind, String)>,
) {
    for (want, e) in links::wanted(entries, !m.user_mode) {
        match links::make(&want) {
            Ok(how) => {
                if how == links::Made::ReplacedFile {
                    eprintln!(
                        "sops-install-secrets: replaced the existing file {} (not created by nix-sops) with a symlink for {} {}",
                        want.path.display(),
                        e.kind.word(),
                        e.name
                    );
                }
            }
            Err(err) => failures.push((
                ErrorKind::Links,
                format!("{} {}: not linked at {err}", e.kind.word(), e.name),
            )),
        }
    }
    let previous = live
        .dir
        .as_ref()
        .and_then(changes::read_record)
        .map(|r| r.links)
        .unwrap_or_default();
    for old in previous {
        if entries.iter().any(|e| e.link.as_ref() == Some(&old.path)) {
            continue;
        }
        match links::remove(&old) {
            Ok(true) => {
                if m.logging.secret_changes {
                    println!("removing stale symlink: {}", old.path.display());
                }
            }
            Ok(false) => {}
            Err(err) => failures.push((ErrorKind::Links, format!("stale link not removed: {err}"))),
        }
    }
}
