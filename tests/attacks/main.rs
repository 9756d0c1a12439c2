//! Attacks on the installer, tried as the people in `shared/docs/threat-model.md` would: each
//! test runs the real `sops-install-secrets` as root on files the real sops 3.11 encrypted, in a
//! private mount namespace (tmpfs on /run, /home and /tmp; a private copy of /etc) with real
//! unprivileged users from `useradd`, who act through `setpriv`. Nothing touches the machine
//! the tests run on. Each test fails on the installer as it was before the fix it pins.

mod input;
mod links;
mod lock;
mod review;
mod support;

// The input attacks name these at the crate root.
use support::{ns, ok, peers, secret, text, Fixture};
