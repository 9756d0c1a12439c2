//! sops-nix's activation installer, with Go `flag` syntax:
//! `sops-install-secrets [-check-mode=manifest|sopsfile|off] [-ignore-passwd] manifest.json`.

#![forbid(unsafe_code)]

use nix_sops::install::{CheckMode, Options, PROG};
use std::process::ExitCode;

fn usage(opts: &getopts::Options) -> String {
    opts.usage(&format!("Usage: {PROG} [OPTION] manifest.json"))
}

/// Go's `strconv.ParseBool`.
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = getopts::Options::new();
    o.long_only(true)
        .parsing_style(getopts::ParsingStyle::StopAtFirstFree)
        .optopt(
            "",
            "check-mode",
            "Validate configuration without installing it (possible values: \"manifest\",\"sopsfile\",\"off\")",
            "MODE",
        )
        .optflagopt(
            "",
            "ignore-passwd",
            "Don't look up anything in /etc/passwd. Causes everything to be owned by root:root or the user executing the tool in user mode",
            "BOOL",
        )
        .optflag("h", "help", "Print this help");
    let m = match o.parse(&args) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{PROG}: {e}\n{}", usage(&o));
            return ExitCode::from(2);
        }
    };
    if m.opt_present("help") {
        println!("{}", usage(&o));
        return ExitCode::SUCCESS;
    }
    let check_mode = match m
        .opt_str("check-mode")
        .as_deref()
        .unwrap_or("off")
        .parse::<CheckMode>()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{PROG}: {e}");
            return ExitCode::from(2);
        }
    };
    let ignore_passwd = match m.opt_str("ignore-passwd") {
        None => m.opt_present("ignore-passwd"),
        Some(v) => match go_bool(&v) {
            Some(b) => b,
            None => {
                eprintln!("{PROG}: invalid boolean value {v:?} for -ignore-passwd");
                return ExitCode::from(2);
            }
        },
    };
    if m.free.len() != 1 {
        eprintln!("{PROG}: exactly one manifest is required\n{}", usage(&o));
        return ExitCode::from(2);
    }
    nix_sops::install::main(
        std::path::Path::new(&m.free[0]),
        Options {
            check_mode,
            ignore_passwd,
            dry_run: false,
        },
    )
}
