//! Asking for a passphrase on the terminal (`/dev/tty`, never stdin: stdin may be the data, and a
//! pipe must not be mistaken for a person). Used for `age -p` identity files and protected SSH
//! keys by the CLI only; activation never asks.

use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices};
use nix_sops::secret::SecretString;
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
    // Byte by byte, no echo, and ^C read as a byte: the terminal is restored before anything
    // else happens, whatever key ends the prompt.
    let mut quiet = saved.clone();
    quiet
        .local_flags
        .remove(LocalFlags::ECHO | LocalFlags::ICANON | LocalFlags::ISIG);
    quiet.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
    quiet.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
    // Echo off before the prompt shows, so nothing typed after it is echoed; TCSANOW, not
    // TCSAFLUSH: a passphrase typed (or pasted) ahead of the prompt is kept.
    termios::tcsetattr(&tty, SetArg::TCSANOW, &quiet).ok()?;
    let _ = write!(tty, "{description}: ");
    let _ = tty.flush();
    // Grows only through the wiping type: a long passphrase leaves no copy in freed memory.
    let mut line = nix_sops::secret::SecretBytes::with_capacity(64);
    let mut byte = [0u8; 1];
    let mut interrupted = false;
    let complete = loop {
        match tty.read(&mut byte) {
            Ok(0) => break false,
            Ok(_) => match byte[0] {
                b'\n' | b'\r' => break true,
                // ^C: cancel as an interrupt would (below, once the terminal is restored).
                0x03 => {
                    interrupted = true;
                    break false;
                }
                // ^D on an empty line: end of input.
                0x04 if line.is_empty() => break false,
                0x7f | 0x08 => line.truncate(line.len().saturating_sub(1)),
                // ^U: start over.
                0x15 => line.clear(),
                b => line.push(b),
            },
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break false,
        }
    };
    zeroize::Zeroize::zeroize(&mut byte);
    let _ = termios::tcsetattr(&tty, SetArg::TCSANOW, &saved);
    let _ = writeln!(tty);
    if interrupted {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGINT);
        return None;
    }
    if !complete || line.is_empty() {
        return None;
    }
    let text = std::str::from_utf8(line.expose()).ok()?;
    Some(SecretString::new(text.to_owned()))
}
