//! nix-sops: a drop-in replacement for sops-nix.
//!
//! - [`sops`]: the SOPS v3 format (trees, value cipher, MAC, metadata, stores). No filesystem writes.
//! - [`keys`]: identities that unwrap data keys (age, ssh→age, PGP, Shamir).
//! - [`manifest`]: sops-nix's manifest JSON, the contract with the Nix module.
//! - [`install`]: `sops-install-secrets`: plan every secret, then mount, write, switch, prune.
//! - [`config`]: `.sops.yaml` creation rules (which keys a new file is encrypted to).
//! - [`cli`]: the subcommands of `nix-sops`, thin layers over the above.
//! - [`secret`]: zeroizing containers every plaintext lives in.
//!
//! No `unsafe` code: denied here, and the one exception (`flock` in [`install`], to become
//! `nix::fcntl::Flock`) says so where it is.

#![deny(unsafe_code)]

pub mod cli;
pub mod config;
pub mod install;
pub mod keys;
pub mod manifest;
pub mod secret;
pub mod sops;
