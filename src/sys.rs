//! The only `unsafe` code of nix-sops, each call with why it is sound. Everything else goes
//! through safe wrappers (`nix`, `zeroize`, std).

use std::process::Command;

/// Makes `cmd`'s child start with an empty signal mask. std keeps the parent's blocked signals
/// in the child, and `nix-sops exec-*` blocks SIGINT/SIGTERM/SIGHUP while it waits (to clean up
/// its plaintext first): without this the command could not be interrupted.
pub fn unblock_signals_in_child(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec and only calls sigprocmask,
    // which is async-signal-safe; it allocates nothing and touches no shared state.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::signal::sigprocmask(
                nix::sys::signal::SigmaskHow::SIG_SETMASK,
                Some(&nix::sys::signal::SigSet::empty()),
                None,
            )
            .map_err(std::io::Error::from)
        });
    }
}
