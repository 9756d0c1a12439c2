//! The `nix-sops` subcommands, one test binary, each module against the real peers (sops 3.11,
//! age, ssh-keygen, gpg): `keygen` and `ssh-to-age`; `encrypt`, `edit`, `updatekeys`; the rest of
//! the sops workflow (`rotate`, `set`/`unset`, `groups`, `exec-env`/`exec-file`, `filestatus`,
//! completions, passphrase-protected identities) in `workflow`.

#[path = "../common/mod.rs"]
mod common;

mod edit;
mod encrypt;
mod keygen;
mod ssh_to_age;
mod updatekeys;
mod workflow;
