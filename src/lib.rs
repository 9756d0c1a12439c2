//! nix-sops: a drop-in replacement for sops-nix.
//!
//! - [`sops`]: the SOPS v3 format (trees, value cipher, MAC, metadata, stores). No filesystem writes.
//! - [`keys`]: identities that unwrap data keys (age, ssh→age, PGP, Shamir).
//! - [`secret`]: zeroizing containers every plaintext lives in.

pub mod cli;
pub mod install;
pub mod keys;
pub mod manifest;
pub mod secret;
pub mod sops;
