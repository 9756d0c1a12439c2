//! The SOPS format, one test binary, each module against the real sops 3.11: `yaml_store` and
//! `stores` (every store read as sops reads it), `interop` (our output next to sops' on the same
//! files), `properties` (random documents through both, proptest), `hostile` (malformed and hostile input:
//! sops' exit codes, no plaintext in errors, go-yaml's limits).

#[path = "../common/mod.rs"]
mod common;
mod support;

mod hostile;
mod interop;
mod properties;
mod stores;
mod yaml_store;
