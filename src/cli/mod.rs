//! The `nix-sops` command line: one module per subcommand, each a thin layer over the library.

pub mod decrypt;
pub mod exit;
pub mod install;
pub mod keygen;
pub mod ssh_to_age;
