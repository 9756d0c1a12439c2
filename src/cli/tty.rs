//! Asking for a passphrase on the terminal (`/dev/tty`, never stdin: stdin may be the data, and a
//! pipe must not be mistaken for a person). Used for `age -p` identity files and protected SSH
//! keys by the CLI only; activation never asks.

use crate::secret::SecretString;
use nix::sys::termios::{self, LocalFlags, SetArg};
use std::io::{Read, Write};

/// Prints `description` on the controlling terminal and reads one line with echo off. `None`
/// (after saying why on stderr) when there is no terminal or nothing was typed.
pub fn ask_passphrase(description: &str) -> Option<SecretString> {
    let mut tty = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "nix-sops: {description}: no terminal to ask for the passphrase on (/dev/tty: \
                 {e}); run this at a terminal, or decrypt the file with `age -d` first"
            );
            return None;
        }
    };
    let saved = termios::tcgetattr(&tty).ok()?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    // Echo off before the prompt shows, so nothing typed after it is echoed; TCSANOW, not
    // TCSAFLUSH: a passphrase typed (or pasted) ahead of the prompt is kept.
    termios::tcsetattr(&tty, SetArg::TCSANOW, &quiet).ok()?;
    let _ = write!(tty, "{description}: ");
    let _ = tty.flush();
    let mut line = zeroize::Zeroizing::new(Vec::with_capacity(64));
    let mut byte = [0u8; 1];
    let read = loop {
        match tty.read(&mut byte) {
            Ok(0) => break line.len(),
            Ok(_) if byte[0] == b'\n' => break line.len(),
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break 0,
        }
    };
    zeroize::Zeroize::zeroize(&mut byte);
    let _ = termios::tcsetattr(&tty, SetArg::TCSANOW, &saved);
    if read == 0 {
        return None;
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    let text = std::str::from_utf8(&line).ok()?;
    Some(SecretString::new(text.to_owned()))
}
