//! `EncValue::parse` on arbitrary text, then decrypt with a fixed key: must never panic.
//! Input: the AAD length (one byte), the AAD, then the ENC[…] text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nix_sops::sops::EncValue;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (aad, text) = rest.split_at(usize::from(n).min(rest.len()));
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    if let Ok(v) = EncValue::parse(text) {
        let _ = v.decrypt(&[7u8; 32], aad);
    }
});
