//! Shamir secret sharing over GF(2^8) as HashiCorp Vault (and so SOPS) does it. (Being written.)

use crate::secret::SecretBytes;

#[derive(Debug, thiserror::Error)]
pub enum ShamirError {
    #[error("not implemented yet")]
    Unimplemented,
}

pub fn combine(_parts: &[SecretBytes]) -> Result<SecretBytes, ShamirError> {
    Err(ShamirError::Unimplemented)
}
