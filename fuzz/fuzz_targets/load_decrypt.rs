//! `sops::load` for every store, then (when the file's data key opens with the fuzzing key)
//! decrypt with and without the MAC check, and emit the plaintext in every format.
//!
//! Input: one byte choosing the store (`byte % 5`: yaml, json, dotenv, ini, binary), then the
//! file. The key comes from `NIX_SOPS_FUZZ_KEY_FILE` (scripts/fuzz makes it and encrypts the seed
//! corpus to it with the real sops); without it only parsing is fuzzed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nix_sops::keys::Keyring;
use nix_sops::sops::{self, DataKey, DecryptOptions, Format, MasterKey, Metadata};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

const FORMATS: [Format; 5] = [
    Format::Yaml,
    Format::Json,
    Format::Dotenv,
    Format::Ini,
    Format::Binary,
];

static KEYRING: LazyLock<Option<Keyring>> = LazyLock::new(|| {
    let file = std::env::var_os("NIX_SOPS_FUZZ_KEY_FILE")?;
    Some(nix_sops::keys::from_sops_env(
        &[PathBuf::from(file)],
        &[],
    ))
});

/// Unwrapping a data key costs an X25519 operation; mutants mostly keep the `sops` block, so
/// remember the outcome per set of wrapped keys.
static DATA_KEYS: LazyLock<Mutex<HashMap<String, Option<DataKey>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn data_key(ring: &Keyring, meta: &Metadata) -> Option<DataKey> {
    let id: String = meta
        .key_groups
        .iter()
        .flat_map(|g| g.iter())
        .map(|k| match k {
            MasterKey::Age { enc, .. } | MasterKey::Pgp { enc, .. } => enc.clone(),
            other => other.kind().to_string(),
        })
        .collect::<Vec<_>>()
        .join("\u{0}")
        + &format!("/{}", meta.shamir_threshold);
    let mut cache = DATA_KEYS.lock().unwrap();
    if cache.len() > 10_000 {
        cache.clear();
    }
    cache
        .entry(id)
        .or_insert_with(|| ring.unwrap_data_key(meta).ok())
        .clone()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let format = FORMATS[usize::from(selector) % FORMATS.len()];
    let Ok(file) = sops::load(format, body) else {
        return;
    };
    let Some(ring) = KEYRING.as_ref() else {
        return;
    };
    let Some(key) = data_key(ring, &file.metadata) else {
        return;
    };
    let _ = file
        .clone()
        .decrypt(&key, DecryptOptions { ignore_mac: false });
    if let Ok(plain) = file.decrypt(&key, DecryptOptions { ignore_mac: true }) {
        for out in FORMATS {
            let _ = plain.emit(out);
        }
    }
});
