//! nix-sops: a drop-in replacement for sops-nix.
//!
//! Six namespaces, each a short, explicit list of re-exports (its `mod.rs`); every module behind
//! them is private:
//!
//! - [`sops`]: the SOPS v3 format, no filesystem writes.
//!   Reading: [`sops::load`] → [`sops::EncryptedFile`] → [`sops::EncryptedFile::decrypt`] with a
//!   [`sops::DataKey`] → [`sops::PlainTree`] → [`sops::PlainTree::emit`]. The tree:
//!   [`sops::Tree`], [`sops::Value`], [`sops::MapItem`], [`sops::ListItem`], [`sops::map_get`].
//!   Metadata: [`sops::Metadata`], [`sops::KeyGroup`], [`sops::MasterKey`], [`sops::CryptRule`].
//!   Writing: [`sops::parse_plain`], [`sops::seal`], [`sops::emit_encrypted`]. Paths:
//!   [`sops::parse_extract`], [`sops::lookup`]. Errors: [`sops::LoadError`],
//!   [`sops::DecryptError`], [`sops::EmitError`], [`sops::EncryptError`].
//! - [`keys`]: identities that unwrap data keys. [`keys::Keyring`] (from the sops environment:
//!   [`keys::from_sops_env`]) → [`keys::Keyring::unwrap_data_key`], or [`keys::NoDataKey`] with
//!   every attempt. Encrypting: [`keys::Recipient`], [`keys::new_data_key`],
//!   [`keys::wrap_data_key`]. Also [`keys::shamir_split`] and ssh-to-age
//!   ([`keys::convert_private_key`], [`keys::public_key_to_age`]).
//! - [`manifest`]: [`manifest::Manifest`], sops-nix's manifest JSON, the contract with the Nix
//!   module.
//! - [`install`]: `sops-install-secrets`: [`install::main`] (exit code and log lines) or
//!   [`install::install`] with [`install::Options`] and [`install::Env`]; it plans every
//!   secret, then mounts, writes, switches, prunes, and reports an [`install::Record`].
//! - [`config`]: `.sops.yaml` creation rules ([`config::find`], [`config::rule_for`]).
//! - [`secret`]: the zeroizing containers every plaintext lives in ([`secret::SecretBytes`],
//!   [`secret::SecretString`]).
//!
//! The binaries are thin: `sops-install-secrets` (Go-style flags) calls [`install::main`];
//! `nix-sops` (clap subcommands, in `src/bin/nix-sops/`) calls the layers above. The library
//! itself does not depend on clap.
//!
//! No `unsafe` code: denied here; the one exception is [`sys`], each call with its `SAFETY`.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod install;
pub mod keys;
pub mod manifest;
pub mod secret;
pub mod sops;
/// Public only for `nix-sops exec-*`, which must reset a child's signal mask (`pre_exec` is
/// `unsafe`); it is the crate's one module allowed `unsafe`, kept apart so an audit finds it.
pub mod sys;

/// Differential checks for the fuzz targets in `fuzz/` (built only with the `fuzzing` feature).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::sops::stores::check_against_full as yaml_fast_path;
}
