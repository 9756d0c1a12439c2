//! Shamir secret sharing over GF(2^8) as HashiCorp Vault (and so SOPS, `shamir/shamir.go`) does it.
//!
//! The field is GF(2^8) with the AES polynomial 0x11B. A share is `y_0 … y_{n-1} ‖ x`: one y per
//! secret byte, then the x coordinate (SOPS gives group i the x `i + 1`). Combining interpolates
//! the polynomial at 0 with **all** the shares given, like SOPS.

use crate::secret::SecretBytes;
use zeroize::Zeroizing;

/// Why key-group parts cannot be combined, or a data key cannot be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShamirError {
    /// Fewer than two parts (the threshold is at least two).
    #[error("less than two parts cannot be used to reconstruct the secret (got {0})")]
    TooFewParts(usize),
    #[error("parts must be at least two bytes")]
    /// A part shorter than its x coordinate plus one byte.
    PartTooShort,
    #[error(
        "all parts must be the same length (part 1 has {first} bytes, part {index} has {len})"
    )]
    /// Parts of different lengths (from different data keys).
    LengthMismatch {
        /// Length of the first part.
        first: usize,
        /// Which part (1-based) differs.
        index: usize,
        /// Its length.
        len: usize,
    },
    #[error("duplicate part detected (x coordinate {0} appears twice)")]
    /// Two parts with the same x coordinate.
    DuplicatePart(u8),
    #[error("cannot split: {0}")]
    /// A threshold or part count that cannot split (e.g. threshold above the group count).
    InvalidSplit(&'static str),
}

/// Constant-time multiplication in GF(2^8) modulo x^8+x^4+x^3+x+1 (shift and xor 0x1B).
fn mult(a: u8, b: u8) -> u8 {
    let mut acc: u8 = 0;
    for i in (0..8).rev() {
        let bit_of_b = (b >> i) & 1;
        let a_or_zero = bit_of_b.wrapping_neg() & a;
        let zero_or_1b = (acc >> 7).wrapping_neg() & 0x1B;
        acc = a_or_zero ^ (zero_or_1b ^ acc.wrapping_add(acc));
    }
    acc
}

/// a^254 = a^-1 (and 0 for 0), by the same addition chain as SOPS.
fn inverse(a: u8) -> u8 {
    let mut b = mult(a, a); // a^2
    let mut c = mult(a, b); // a^3
    b = mult(c, c); // a^6
    b = mult(b, b); // a^12
    c = mult(b, c); // a^15
    b = mult(b, b); // a^24
    b = mult(b, b); // a^48
    b = mult(b, c); // a^63
    b = mult(b, b); // a^126
    b = mult(a, b); // a^127
    mult(b, b) // a^254
}

fn div(a: u8, b: u8) -> u8 {
    // Callers only divide by x_i ^ x_j with distinct x values, never by zero.
    debug_assert!(b != 0, "division by zero in GF(2^8)");
    mult(a, inverse(b))
}

/// Lagrange interpolation of the points at `x`.
fn interpolate(xs: &[u8], ys: &[u8], x: u8) -> u8 {
    let mut result = 0u8;
    for i in 0..xs.len() {
        let mut basis = 1u8;
        for j in 0..xs.len() {
            if i == j {
                continue;
            }
            let num = x ^ xs[j];
            let denom = xs[i] ^ xs[j];
            basis = mult(basis, div(num, denom));
        }
        result ^= mult(ys[i], basis);
    }
    result
}

/// Recombines shares (`y… ‖ x`) into the secret, using every share given.
pub fn combine(parts: &[SecretBytes]) -> Result<SecretBytes, ShamirError> {
    if parts.len() < 2 {
        return Err(ShamirError::TooFewParts(parts.len()));
    }
    let len = parts[0].len();
    if len < 2 {
        return Err(ShamirError::PartTooShort);
    }
    for (i, p) in parts.iter().enumerate().skip(1) {
        if p.len() != len {
            return Err(ShamirError::LengthMismatch {
                first: len,
                index: i + 1,
                len: p.len(),
            });
        }
    }
    let mut xs = Vec::with_capacity(parts.len());
    for p in parts {
        let x = p.expose()[len - 1];
        if xs.contains(&x) {
            return Err(ShamirError::DuplicatePart(x));
        }
        xs.push(x);
    }
    let mut secret = SecretBytes::new(Vec::with_capacity(len - 1));
    let mut ys = Zeroizing::new(vec![0u8; parts.len()]);
    for idx in 0..len - 1 {
        for (i, p) in parts.iter().enumerate() {
            ys[i] = p.expose()[idx];
        }
        secret.push(interpolate(&xs, &ys, 0));
    }
    Ok(secret)
}

/// Splits `secret` into `parts` shares, any `threshold` of which recombine it (SOPS' `Split`:
/// share i has x = i + 1). Used by `nix-sops encrypt`/`updatekeys` for several key groups.
pub fn split(
    secret: &[u8],
    parts: usize,
    threshold: usize,
) -> Result<Vec<SecretBytes>, ShamirError> {
    use rand::RngCore;
    if parts < threshold {
        return Err(ShamirError::InvalidSplit(
            "parts cannot be less than threshold",
        ));
    }
    if parts > 255 {
        return Err(ShamirError::InvalidSplit("parts cannot exceed 255"));
    }
    if threshold < 2 {
        return Err(ShamirError::InvalidSplit("threshold must be at least 2"));
    }
    if secret.is_empty() {
        return Err(ShamirError::InvalidSplit("cannot split an empty secret"));
    }
    let mut out: Vec<SecretBytes> = (0..parts)
        .map(|_| SecretBytes::new(Vec::with_capacity(secret.len() + 1)))
        .collect();
    let mut coefficients = Zeroizing::new(vec![0u8; threshold]);
    let mut rng = rand::rngs::OsRng;
    for &byte in secret {
        // coefficients[0] is the secret byte; the rest are random.
        rng.fill_bytes(&mut coefficients[1..]);
        coefficients[0] = byte;
        for (i, share) in out.iter_mut().enumerate() {
            let x = (i + 1) as u8;
            // Horner's method.
            let mut y = 0u8;
            for &c in coefficients.iter().rev() {
                y = mult(y, x) ^ c;
            }
            share.push(y);
        }
    }
    for (i, share) in out.iter_mut().enumerate() {
        share.push((i + 1) as u8);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_inverse_is_inverse() {
        for a in 1..=255u8 {
            assert_eq!(mult(a, inverse(a)), 1, "a = {a}");
        }
        assert_eq!(inverse(0), 0);
    }

    #[test]
    fn mult_matches_aes_field() {
        // FIPS-197 §4.2: {57} • {83} = {c1}, {57} • {13} = {fe}.
        assert_eq!(mult(0x57, 0x83), 0xc1);
        assert_eq!(mult(0x57, 0x13), 0xfe);
    }

    #[test]
    fn combine_checks_shares() {
        let one = SecretBytes::new(vec![1, 2, 3]);
        assert_eq!(
            combine(std::slice::from_ref(&one)),
            Err(ShamirError::TooFewParts(1))
        );
        assert_eq!(
            combine(&[one.clone(), one.clone()]),
            Err(ShamirError::DuplicatePart(3))
        );
        assert!(matches!(
            combine(&[one, SecretBytes::new(vec![1, 2])]),
            Err(ShamirError::LengthMismatch { .. })
        ));
        assert_eq!(
            combine(&[SecretBytes::new(vec![1]), SecretBytes::new(vec![2])]),
            Err(ShamirError::PartTooShort)
        );
    }

    #[test]
    fn hand_computed_line() {
        // f(x) = 0x42 + 0x07·x: f(1) = 0x45, f(3) = 0x42 ^ mult(7,3) = 0x42 ^ 0x09 = 0x4b.
        assert_eq!(mult(7, 3), 0x09);
        let a = SecretBytes::new(vec![0x45, 1]);
        let b = SecretBytes::new(vec![0x4b, 3]);
        assert_eq!(combine(&[a, b]).unwrap().expose(), &[0x42]);
    }
}
