//! `nix-sops edit`: decrypt into a private temporary file, run the editor, encrypt again with the
//! same data key and keys (a new file gets its keys from the flags or `.sops.yaml`).

use crate::cli::encrypt::{encrypt_bytes, plan, EncryptArgs};
use crate::cli::exit::CliError;
use nix::fcntl::{FcntlArg, OFlag};
use nix::spawn::{posix_spawnp, PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use nix_sops::secret::SecretBytes;
use nix_sops::sops::PlainTree;
use nix_sops::sops::{emit_encrypted_owned, seal};
use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  nix-sops edit nixos/secrets/secrets.yaml
  EDITOR=nano nix-sops edit secrets.env

The plaintext is written to a private directory (mode 0700) under $XDG_RUNTIME_DIR (a tmpfs on
systemd machines; only if it is this user's own), else /dev/shm (if it is a tmpfs), never
$TMPDIR, and removed when the editor exits. The editor is
$SOPS_EDITOR, else $EDITOR, else vim, nano or vi. Exit 200 when nothing changed (as sops).
On SIGINT, SIGTERM or SIGHUP the editor is stopped, the plaintext removed, and nix-sops ends with
that signal.")]
pub struct EditArgs {
    /// Input format; by default from the file extension.
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    #[command(flatten)]
    pub keys: crate::cli::KeyArgs,
    /// For a new file: age recipients (else .sops.yaml).
    #[arg(long, value_name = "RECIPIENTS")]
    pub age: Vec<String>,
    /// For a new file: PGP fingerprints (else .sops.yaml).
    #[arg(long, value_name = "FINGERPRINTS")]
    pub pgp: Vec<String>,
    /// The SOPS file (created if it does not exist).
    pub file: PathBuf,
}

/// While `edit` runs, SIGINT, SIGTERM and SIGHUP are blocked in this thread (and so in every
/// thread it starts) and read from a signalfd instead, with SIGCHLD to learn when the editor
/// exits: nothing can end the process between writing the plaintext and removing it. No handler
/// is installed; the editor is started with an empty mask, so it reacts to signals as usual. On
/// drop the old mask returns, and a signal that came after the editor (while encrypting) ends
/// the process then.
struct Signals {
    fd: SignalFd,
    old: SigSet,
}

impl Signals {
    fn block() -> anyhow::Result<Signals> {
        let fail = |e: nix::errno::Errno| {
            anyhow::Error::msg(format!("cannot set up signal handling: {e}"))
        };
        let mut set = SigSet::empty();
        for sig in [
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGQUIT,
            Signal::SIGCHLD,
        ] {
            set.add(sig);
        }
        let old = set.thread_swap_mask(SigmaskHow::SIG_BLOCK).map_err(fail)?;
        // Non-blocking until the editor runs (see `before_editor`).
        let fd = match SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK) {
            Ok(fd) => fd,
            Err(e) => {
                let _ = old.thread_set_mask();
                return Err(fail(e));
            }
        };
        Ok(Signals { fd, old })
    }

    /// A stop signal that came while the file was decrypted ends the process now, before any
    /// plaintext is written; then reads block, for the editor's wait.
    fn before_editor(&self, file: &Path) -> anyhow::Result<()> {
        while let Ok(Some(info)) = self.fd.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) | Err(_) => {}
                Ok(sig) => self.die(sig, &format!("{} was not changed", file.display())),
            }
        }
        nix::fcntl::fcntl(&self.fd, FcntlArg::F_SETFL(OFlag::empty()))
            .map(drop)
            .map_err(|e| anyhow::Error::msg(format!("cannot wait for signals: {e}")))
    }

    /// Waits for the next of the blocked signals.
    fn next(&self) -> Result<Signal, nix::errno::Errno> {
        loop {
            match self.fd.read_signal() {
                Ok(Some(info)) => {
                    if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
                        return Ok(sig);
                    }
                }
                Ok(None) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Ends the process with `sig`'s status, as if it had not been caught (the caller has
    /// removed the plaintext). `sig` was read from the signalfd, so it is no longer pending.
    fn die(&self, sig: Signal, what: &str) -> ! {
        eprintln!("nix-sops edit: {sig} received: {what}");
        let _ = self.old.thread_set_mask();
        let mut only = SigSet::empty();
        only.add(sig);
        let _ = only.thread_unblock();
        let _ = nix::sys::signal::raise(sig);
        // Still here: the signal is ignored in this process. Exit as a shell reports it.
        std::process::exit(128 + sig as i32)
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        let _ = self.old.thread_set_mask();
    }
}

/// A private directory for the plaintext on a RAM file system (never on a disk); removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> anyhow::Result<Scratch> {
        // The user's own runtime directory if it is theirs alone and RAM-backed (not every
        // machine makes it a tmpfs), else /dev/shm if it is RAM-backed. Never $TMPDIR, which
        // may be a disk.
        let bases = [
            std::env::var_os("XDG_RUNTIME_DIR")
                .map(PathBuf::from)
                .filter(|b| crate::cli::exec::safe_base(b, true)),
            Some(PathBuf::from("/dev/shm")).filter(|b| crate::cli::exec::safe_base(b, true)),
        ];
        for base in bases.into_iter().flatten() {
            // A random name, retried when taken: a predictable one (the pid) in the shared
            // /dev/shm could be created first by another user, pushing the plaintext on to
            // $TMPDIR, which may be on disk.
            for _ in 0..16 {
                let dir = base.join(format!("nix-sops-edit-{:016x}", rand::random::<u64>()));
                match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                    Ok(()) => return Ok(Scratch(dir)),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(_) => break,
                }
            }
        }
        Err(anyhow::Error::msg(
            "cannot create a private directory for the plaintext: $XDG_RUNTIME_DIR is unset, not \
             RAM-backed or not this user's own, and /dev/shm is not a writable tmpfs; set XDG_RUNTIME_DIR to a \
             private tmpfs directory (the plaintext is never put in $TMPDIR, which may be a disk)",
        ))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Overwrite before unlinking: the directory may be on a disk after all.
        if let Ok(entries) = std::fs::read_dir(&self.0) {
            for e in entries.flatten() {
                // Regular files only, opened without following a link: a symlink the editor
                // left here must not get its target overwritten.
                let Ok(md) = e.metadata() else { continue };
                if !md.is_file() {
                    continue;
                }
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(e.path())
                {
                    let _ = f.write_all(&vec![0u8; md.len() as usize]);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts `cmd file` (searched in PATH) with an empty signal mask: ours blocks SIGINT, SIGTERM
/// and SIGHUP, and `std::process::Command` would pass that on, leaving the editor deaf to them.
fn spawn_editor(cmd: &[String], file: &Path) -> anyhow::Result<Pid> {
    let cant = |why: String| CliError::NoEditor(format!("cannot run {}: {why}", cmd[0]));
    let cstr = |s: &[u8]| CString::new(s).map_err(|_| cant("it contains a NUL byte".into()));
    let mut args = cmd
        .iter()
        .map(|a| cstr(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    args.push(cstr(file.as_os_str().as_bytes())?);
    let env = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            cstr(&kv)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut attr = PosixSpawnAttr::init().map_err(|e| cant(e.to_string()))?;
    attr.set_sigmask(&SigSet::empty())
        .and_then(|()| attr.set_flags(PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK))
        .map_err(|e| cant(e.to_string()))?;
    let actions = PosixSpawnFileActions::init().map_err(|e| cant(e.to_string()))?;
    posix_spawnp(&args[0], &actions, &attr, &args, &env).map_err(|e| cant(e.to_string()).into())
}

fn editor() -> anyhow::Result<Vec<String>> {
    for var in ["SOPS_EDITOR", "EDITOR"] {
        if let Some(cmd) = std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
            return shlex::split(&cmd)
                .filter(|w| !w.is_empty())
                .ok_or_else(|| anyhow::Error::msg(format!("${var} cannot be parsed")));
        }
    }
    for candidate in ["vim", "nano", "vi"] {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(candidate).is_file()))
            .unwrap_or(false);
        if found {
            return Ok(vec![candidate.into()]);
        }
    }
    Err(CliError::NoEditor("no editor found: set $EDITOR (or $SOPS_EDITOR)".into()).into())
}

/// Runs the editor on `bytes` and returns what the file holds afterwards.
fn edit_bytes(file: &Path, bytes: &[u8], signals: &Signals) -> anyhow::Result<SecretBytes> {
    signals.before_editor(file)?;
    let scratch = Scratch::new()?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "secrets".into());
    let tmp = scratch.0.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).map(|_| f))
        .map_err(|e| anyhow::Error::msg(format!("cannot write the temporary file: {e}")))?;
    f.flush().ok();
    drop(f);
    let cmd = editor()?;
    let pid = spawn_editor(&cmd, &tmp)?;
    let status = loop {
        let sig = match signals.next() {
            Ok(Signal::SIGCHLD) => match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => break Ok(code),
                Ok(WaitStatus::Signaled(_, sig, _)) => break Err(sig),
                Ok(_) => continue,
                Err(_) => None,
            },
            Ok(sig) => Some(sig),
            Err(_) => None,
        };
        // SIGINT, SIGTERM or SIGHUP (or waiting failed): stop the editor, which holds the
        // plaintext, then remove it. A signal sent to our process group reached the editor
        // already; one sent to us alone is passed on.
        let _ = kill(pid, sig.unwrap_or(Signal::SIGTERM));
        let gone = (0..20).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            !matches!(
                waitpid(pid, Some(WaitPidFlag::WNOHANG)),
                Ok(WaitStatus::StillAlive | WaitStatus::Stopped(..) | WaitStatus::Continued(_))
            )
        });
        if !gone {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
        // After the editor: whatever it wrote on its way out (a swap file) goes too.
        drop(scratch);
        match sig {
            Some(sig) => signals.die(
                sig,
                &format!(
                    "the editor was stopped and the plaintext removed; {} was not changed",
                    file.display()
                ),
            ),
            None => {
                return Err(anyhow::Error::msg("cannot wait for the editor; it was stopped, the plaintext removed and nothing changed"))
            }
        }
    };
    let failed = match status {
        Ok(0) => None,
        Ok(code) => Some(format!("exit status {code}")),
        Err(sig) => Some(format!("killed by {sig}")),
    };
    if let Some(how) = failed {
        return Err(anyhow::Error::msg(format!(
            "the editor {} failed ({how}); nothing was changed",
            cmd[0]
        )));
    }
    std::fs::read(&tmp)
        .map(SecretBytes::new)
        .map_err(|e| anyhow::Error::msg(format!("cannot read the edited file: {e}")))
}

pub fn run(args: EditArgs) -> anyhow::Result<()> {
    // First, so that every thread started from here on (decryption may start one) blocks them too.
    let signals = Signals::block()?;
    args.keys.check_decryption_order()?;
    let format = crate::cli::input_format(args.input_type.as_deref(), &args.file)?;
    let shown = args.file.display().to_string();

    if !args.file.exists() {
        // A new file: edit an empty document, then encrypt it as `encrypt` would. Its keys are
        // looked up first, as sops does: a missing rule must not throw away what was typed.
        let enc_args = EncryptArgs {
            age: args.age.clone(),
            pgp: args.pgp.clone(),
            types: crate::cli::FormatArgs {
                input_type: Some(format.name().into()),
                output_type: None,
            },
            unencrypted_suffix: None,
            encrypted_suffix: None,
            unencrypted_regex: None,
            encrypted_regex: None,
            shamir_threshold: None,
            config: None,
            in_place: false,
            file: args.file.clone(),
        };
        let rule = plan(&enc_args, &args.file)?;
        let edited = edit_bytes(&args.file, b"", &signals)?;
        let out = encrypt_bytes(&enc_args, Some(rule), format, format, edited.expose())?;
        return crate::cli::write_replacing(&args.file, &out);
    }

    // Keep the metadata (keys and crypt rule) and the data key: only values change.
    let crate::cli::set::Opened {
        metadata,
        key,
        plain,
    } = crate::cli::set::open(&args.file, format, &args.keys, false)?;
    let before = plain
        .emit(format)
        .map_err(|e| anyhow::Error::from(CliError::DumpTree(format!("{shown}: {e}"))))?;
    drop(plain);
    let edited = edit_bytes(&args.file, before.expose(), &signals)?;
    if edited.expose() == before.expose() {
        return Err(CliError::NotModified(format!("{shown}: file has not been modified")).into());
    }
    let tree = nix_sops::sops::parse_plain(format, edited.expose()).map_err(|e| {
        anyhow::Error::msg(format!(
            "{shown}: the edited file is not valid {format}: {e}; nothing was changed"
        ))
    })?;
    let file = seal(PlainTree { format, tree }, metadata, &key)
        .map_err(|e| anyhow::Error::msg(format!("{shown}: {e}")))?;
    let out = emit_encrypted_owned(file)
        .map_err(|e| anyhow::Error::from(CliError::DumpTree(format!("{shown}: {e}"))))?;
    crate::cli::write_replacing(&args.file, &out)
}
