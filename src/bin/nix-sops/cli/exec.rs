//! `nix-sops exec-env` and `nix-sops exec-file`: run a command with the secrets, as sops does,
//! without the plaintext ever landing on a disk.
//!
//! `exec-env` puts the top-level values into the command's environment. `exec-file` hands the
//! command a path (`{}` in the command) to a FIFO (the default: the plaintext goes through a
//! kernel pipe, once) or, with `--no-fifo`, to a file; either lives in a fresh 0700 directory on
//! a RAM-backed file system (`$XDG_RUNTIME_DIR`, else `/dev/shm`; a FIFO alone may fall back to
//! `$TMPDIR`), removed whatever way the command ends: its exit, an error, or SIGTERM/SIGHUP
//! (passed on to the command) or SIGINT/SIGQUIT sent to nix-sops.

use crate::cli::exit::{self, CliError};
use crate::cli::set::{open, Opened};
use nix::sys::signal::{SigSet, Signal};
use nix_sops::secret::SecretBytes;
use nix_sops::sops::{MapItem, Value};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

#[derive(clap::Args, Debug)]
#[command(
    override_usage = "nix-sops exec-env [OPTIONS] FILE COMMAND",
    after_help = "\
Examples:
  nix-sops exec-env secrets.yaml 'psql \"$DATABASE_URL\"'
  nix-sops exec-env --pristine secrets.env 'env'

Each top-level key becomes a variable (nested maps and lists are an error, as in sops). The
command runs under /bin/sh -c; nix-sops exits with its exit code."
)]
pub struct ExecEnvArgs {
    /// Accepted for compatibility; deprecated in sops: start the command and do not wait.
    #[arg(long)]
    pub background: bool,
    /// Give the command only the secrets, not nix-sops' own environment.
    #[arg(long)]
    pub pristine: bool,
    /// Run the command as this user (nix-sops must be root).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Replace nix-sops by the command (exec) instead of running it as a child.
    #[arg(long)]
    pub same_process: bool,
    /// Input format; by default from the file extension.
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    #[command(flatten)]
    pub keys: crate::cli::KeyArgs,
    /// FILE COMMAND: the SOPS file and the shell command to run.
    #[arg(value_name = "ARGS", num_args = 0.., allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(clap::Args, Debug)]
#[command(
    override_usage = "nix-sops exec-file [OPTIONS] FILE COMMAND",
    after_help = "\
Examples:
  nix-sops exec-file secrets.yaml 'app --config {}'
  nix-sops exec-file --no-fifo --filename config.json --output-type json secrets.yaml 'app -c {}'

`{}` in the command is replaced by the path of the plaintext. The command runs under /bin/sh -c;
nix-sops exits with its exit code. The FIFO can be read once; use --no-fifo for a command that
reads the file twice."
)]
pub struct ExecFileArgs {
    /// Accepted for compatibility; deprecated in sops (the file would be gone at once).
    #[arg(long)]
    pub background: bool,
    /// A regular file (on a RAM-backed file system) instead of a FIFO.
    #[arg(long)]
    pub no_fifo: bool,
    /// Run the command as this user (nix-sops must be root).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    #[command(flatten)]
    pub types: crate::cli::FormatArgs,
    /// The name of the plaintext file in its private directory (default: tmp-file).
    #[arg(long, value_name = "NAME")]
    pub filename: Option<String>,
    #[command(flatten)]
    pub keys: crate::cli::KeyArgs,
    /// FILE COMMAND: the SOPS file and the shell command to run.
    #[arg(value_name = "ARGS", num_args = 0.., allow_hyphen_values = true)]
    pub args: Vec<String>,
}

fn file_and_command(args: &[String]) -> anyhow::Result<(PathBuf, &str)> {
    match args {
        [file, command] => Ok((PathBuf::from(file), command.as_str())),
        _ => Err(anyhow::Error::msg(
            "error: missing file to decrypt: give FILE and COMMAND",
        )),
    }
}

/// `--user`: the uid and primary gid to run the command with.
fn lookup_user(name: &str) -> anyhow::Result<(u32, u32)> {
    match nix::unistd::User::from_name(name) {
        Ok(Some(u)) => Ok((u.uid.as_raw(), u.gid.as_raw())),
        Ok(None) => Err(anyhow::Error::msg(format!("--user {name}: no such user"))),
        Err(e) => Err(anyhow::Error::msg(format!(
            "--user {name}: cannot look the user up: {e}"
        ))),
    }
}

fn shell(command: &str, user: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(command);
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

/// The command's exit status as nix-sops' result: its code; 255 when a signal killed it (sops
/// exits with Go's -1 then).
fn status_result(status: ExitStatus) -> anyhow::Result<()> {
    if status.success() {
        return Ok(());
    }
    let (code, what) = match (status.code(), status.signal()) {
        (Some(c), _) => (c, format!("exit status {c}")),
        (None, Some(s)) => (255, format!("killed by signal {s}")),
        _ => (1, status.to_string()),
    };
    Err(CliError::Command {
        code: u8::try_from(code).unwrap_or(exit::GENERIC),
        message: format!("the command failed: {what}"),
    }
    .into())
}

/// The variables sops' `exec-env` makes of the first document's top-level entries.
pub fn environment(top: &[MapItem]) -> anyhow::Result<Vec<(String, SecretBytes)>> {
    let mut env = Vec::new();
    for item in top {
        let MapItem::Entry(key, value) = item else {
            continue;
        };
        if matches!(value, Value::Map(_) | Value::List(_)) {
            return Err(anyhow::Error::msg(format!(
                "cannot use complex value in environment; offending key {key}"
            )));
        }
        if key.contains('=') {
            return Err(anyhow::Error::msg(format!(
                "cannot use keys with '=' in environment: {key}"
            )));
        }
        let mut text = SecretBytes::default();
        match value {
            Value::Str(s) => text.extend_from_slice(s.expose().as_bytes()),
            Value::Bytes(b) => text.extend_from_slice(b.expose()),
            other => nix_sops::sops::val_to_string(&mut text, other),
        }
        env.push((key.clone(), text));
    }
    Ok(env)
}

pub fn run_env(args: ExecEnvArgs) -> anyhow::Result<()> {
    let (file, command) = file_and_command(&args.args)?;
    if args.background && args.same_process {
        return Err(anyhow::Error::from(CliError::ConflictingParameters(
            String::from("Error: The --same-process flag cannot be used with --background"),
        )));
    }
    let user = args.user.as_deref().map(lookup_user).transpose()?;
    let format = crate::cli::input_format(args.input_type.as_deref(), &file)?;
    let Opened { plain, .. } = open(&file, format, &args.keys, false)?;
    let env = environment(
        plain
            .tree
            .branches
            .first()
            .map_or(&[][..], |b| b.as_slice()),
    )?;
    drop(plain);

    let mut cmd = shell(command, user);
    if args.pristine {
        cmd.env_clear();
    }
    for (k, v) in &env {
        use std::os::unix::ffi::OsStrExt;
        cmd.env(k, std::ffi::OsStr::from_bytes(v.expose()));
    }
    if args.same_process {
        let err = cmd.exec();
        return Err(anyhow::Error::msg(format!("cannot run /bin/sh: {err}")));
    }
    if args.background {
        log::warn!("exec-env's --background option is deprecated (as in sops)");
        return cmd
            .spawn()
            .map(drop)
            .map_err(|e| anyhow::Error::msg(format!("cannot run /bin/sh: {e}")));
    }
    let status = cmd
        .status()
        .map_err(|e| anyhow::Error::msg(format!("cannot run /bin/sh: {e}")))?;
    drop(env);
    status_result(status)
}

/// A private directory on a RAM-backed file system; removed (with its content) on drop.
pub struct RamDir(PathBuf);

/// tmpfs and ramfs: what `statfs` reports for a file system that lives in memory.
const TMPFS_MAGIC: i64 = 0x0102_1994;
const RAMFS_MAGIC: i64 = 0x8584_58f6;

fn ram_backed(dir: &Path) -> bool {
    nix::sys::statfs::statfs(dir)
        .map(|st| {
            // fs_type_t is i64 here, but not on every libc.
            #[allow(clippy::unnecessary_cast)]
            let t = st.filesystem_type().0 as i64;
            t == TMPFS_MAGIC || t == RAMFS_MAGIC
        })
        .unwrap_or(false)
}

/// Whether our private directory may be made in `base`: nobody but us (or root) can rename or
/// replace what we make there. That is a directory we own that others cannot write to, or a
/// sticky one of root's or ours (`/dev/shm`, `/tmp`). An `$XDG_RUNTIME_DIR` of another user
/// (`sudo -E`) is not: its owner could swap our directory for a link. `ram`: it must also be a
/// RAM file system.
pub fn safe_base(base: &Path, ram: bool) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(md) = std::fs::metadata(base) else {
        return false;
    };
    let me = nix::unistd::geteuid().as_raw();
    let owner_ok = md.uid() == me || md.uid() == 0;
    let private = md.uid() == me && md.mode() & 0o022 == 0;
    let sticky = owner_ok && md.mode() & 0o1000 != 0;
    md.is_dir() && (private || sticky) && (!ram || ram_backed(base))
}

impl RamDir {
    /// A fresh 0700 directory under `$XDG_RUNTIME_DIR` or `/dev/shm`, whichever is RAM-backed
    /// and [`safe_base`].
    /// `fifo_only`: it will hold only a FIFO, whose data never reaches the file system, so
    /// `$TMPDIR` will do when no RAM-backed directory exists.
    pub fn new(fifo_only: bool) -> anyhow::Result<RamDir> {
        use rand::Rng;
        let bases = [
            std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
            Some(PathBuf::from("/dev/shm")),
        ];
        let fallback = fifo_only.then(std::env::temp_dir);
        for (base, ram) in bases
            .into_iter()
            .flatten()
            .map(|b| (b, true))
            .chain(fallback.map(|b| (b, false)))
        {
            if !safe_base(&base, ram) {
                continue;
            }
            let tag: u64 = rand::thread_rng().gen();
            let dir = base.join(format!(".nix-sops-exec-{tag:016x}"));
            if std::fs::DirBuilder::new().mode(0o700).create(&dir).is_ok() {
                return Ok(RamDir(dir));
            }
        }
        Err(anyhow::Error::msg(if fifo_only {
            "no directory for the FIFO: neither $XDG_RUNTIME_DIR, /dev/shm nor $TMPDIR is \
                 writable"
        } else {
            "no RAM-backed directory for the plaintext: neither $XDG_RUNTIME_DIR nor \
                 /dev/shm is a writable tmpfs (set XDG_RUNTIME_DIR to one, or leave out \
                 --no-fifo)"
        }))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for RamDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The plaintext's name inside the private directory: `--filename` (one path component).
fn plaintext_name(filename: Option<&str>) -> anyhow::Result<String> {
    let name = filename.filter(|n| !n.is_empty()).unwrap_or("tmp-file");
    if name.contains('/') || name == "." || name == ".." {
        return Err(anyhow::Error::msg(format!(
            "--filename {name:?}: must be a plain file name, without '/'"
        )));
    }
    Ok(name.to_owned())
}

/// Signals nix-sops outlives while the command runs, so the directory can be removed.
fn guarded_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
    ] {
        set.add(s);
    }
    set
}

/// Waits for the child with the guarded signals blocked: SIGTERM and SIGHUP are passed on to
/// it; SIGINT and SIGQUIT (which a terminal sends the command too) are left to it.
fn wait_guarded(child: &mut std::process::Child, set: &SigSet) -> anyhow::Result<ExitStatus> {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|e| anyhow::Error::msg(format!("cannot wait for the command: {e}")))?
        {
            return Ok(status);
        }
        match set.wait() {
            Ok(sig @ (Signal::SIGTERM | Signal::SIGHUP)) => {
                let _ = nix::sys::signal::kill(pid, sig);
            }
            Ok(_) => {}
            Err(e) => {
                return Err(anyhow::Error::msg(format!(
                    "cannot wait for the command: {e}"
                )))
            }
        }
    }
}

pub fn run_file(args: ExecFileArgs) -> anyhow::Result<()> {
    let (file, command) = file_and_command(&args.args)?;
    let (input, output) = args.types.resolve(&file)?;
    let name = plaintext_name(args.filename.as_deref())?;
    let user = args.user.as_deref().map(lookup_user).transpose()?;
    let Opened { plain, .. } = open(&file, input, &args.keys, false)?;
    let text = plain
        .emit(output)
        .map_err(|e| anyhow::Error::from(CliError::DumpTree(format!("{}: {e}", file.display()))))?;
    drop(plain);
    if args.background {
        log::warn!(
            "exec-file's --background option is deprecated (as in sops); running in the foreground"
        );
    }

    // Blocked before any thread starts, so no thread takes a signal's default action (death,
    // leaving the plaintext behind); the command gets an empty mask back (`pre_exec` below).
    let signals = guarded_signals();
    signals
        .thread_block()
        .map_err(|e| anyhow::Error::msg(format!("cannot block signals: {e}")))?;
    let dir = RamDir::new(!args.no_fifo)?;
    let path = dir.path().join(&name);
    let cannot = |what: &str, e: std::io::Error| {
        anyhow::Error::msg(format!("{}: cannot {what}: {e}", path.display()))
    };
    // With --user the directory stays ours (0711: the user may reach the file, not replace it)
    // and only the file or FIFO becomes theirs, so nothing the user can rename is ever chowned
    // or written through by us.
    if user.is_some() {
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o711),
        )
        .map_err(|e| cannot("make the directory traversable", e))?;
    }
    let writer = if args.no_fifo {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| cannot("create", e))?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::fchown(&f, Some(uid), Some(gid)).map_err(|e| cannot("chown", e))?;
        }
        f.write_all(text.expose()).map_err(|e| cannot("write", e))?;
        drop(text);
        None
    } else {
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).map_err(
            |e| anyhow::Error::msg(format!("{}: cannot make a FIFO: {e}", path.display())),
        )?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid))
                .map_err(|e| cannot("chown", e))?;
        }
        let fifo = path.clone();
        // Opening a FIFO for writing waits for a reader: done aside, so the command can start.
        Some(std::thread::spawn(move || {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&fifo)
            {
                let _ = f.write_all(text.expose());
            }
            drop(text);
        }))
    };

    let shown_path = path.to_string_lossy();
    let mut cmd = shell(&command.replace("{}", &shown_path), user);
    // The command must not inherit the mask blocked above.
    nix_sops::sys::unblock_signals_in_child(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| anyhow::Error::msg(format!("cannot run /bin/sh: {e}")))?;
    let status = wait_guarded(&mut child, &signals);
    if let Some(writer) = writer {
        // A command that never opened the FIFO leaves the writer waiting for a reader: be that
        // reader for a moment, so the writer finishes (with EPIPE) and wipes its copy.
        if let Ok(f) = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(&path)
        {
            drop(f);
        }
        // A reader the command left running in the background may still hold the FIFO: do
        // not wait for it for long (the process ends right after, and its memory with it).
        let start = std::time::Instant::now();
        while !writer.is_finished() && start.elapsed() < std::time::Duration::from_secs(1) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    drop(dir);
    let _ = signals.thread_unblock();
    status_result(status?)
}
