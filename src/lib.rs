//! nix-sops: a drop-in replacement for sops-nix.
//!
//! - [`sops`]: the SOPS v3 format (trees, value cipher, MAC, metadata, stores). No filesystem writes.
//! - [`keys`]: identities that unwrap data keys (age, ssh→age, PGP, Shamir).
//! - [`manifest`]: sops-nix's manifest JSON, the contract with the Nix module.
//! - [`install`]: `sops-install-secrets`: plan every secret, then mount, write, switch, prune.
//! - [`config`]: `.sops.yaml` creation rules (which keys a new file is encrypted to).
//! - [`secret`]: zeroizing containers every plaintext lives in.
//!
//! The binaries are thin: `sops-install-secrets` (Go-style flags) calls [`install::main`];
//! `nix-sops` (clap subcommands, in `src/bin/nix-sops/`) calls the layers above. The library
//! itself does not depend on clap.
//!
//! No `unsafe` code: denied here; the one exception is [`sys`], each call with its `SAFETY`.

#![deny(unsafe_code)]

pub mod config;
pub mod install;
pub mod keys;
pub mod manifest;
pub mod secret;
pub mod sops;
pub mod sys;

/// Differential checks for the fuzz targets in `fuzz/` (built only with the `fuzzing` feature).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::sops::stores::yaml::check_against_full as yaml_fast_path;
}
