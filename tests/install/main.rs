//! The installer (`sops-install-secrets`), one test binary:
//! - `apply`: the apply machinery with a fake decryption source ([`fake`]);
//! - `e2e`: the real binary on files the real sops 3.11 encrypted;
//! - `example`: the README's example, as a normal user;
//! - `hostcheck`: `sops.hostPubKeys`, the build-time check that the host can decrypt.
//!
//! Attacks on the installer are in `tests/attacks/`.

#[path = "../common/mod.rs"]
mod common;

mod apply;
mod e2e;
mod example;
mod fake;
mod hostcheck;
