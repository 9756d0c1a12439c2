//! The YAML fast path against the full reader (issue 9): whenever the fast path reads an input,
//! the full reader must read it too, to the same tree, emitted to the same bytes. The input is
//! the YAML text itself; the seed corpus (scripts/fuzz) holds files written by the real sops.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    nix_sops::fuzzing::yaml_fast_path(data);
});
