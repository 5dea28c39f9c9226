//! One-time codes: six digits from the OS CSPRNG, stored only as SHA-256 over a per-code random
//! salt and the code, compared in constant time. The rules around them (10 minutes, 5 wrong
//! tries, resend cooldown) live in `challenges`. Never log a code.

use rand::rngs::OsRng;
use rand::{Rng as _, RngCore as _};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use legitimera_protocol::OneTimeCode;

/// A fresh code: what to send, and what to store.
#[derive(Debug)]
pub struct NewCode {
    pub code: OneTimeCode,
    pub stored: StoredCode,
}

/// What the database keeps of a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode {
    pub salt: Vec<u8>,
    pub hash: Vec<u8>,
}

pub fn generate() -> anyhow::Result<NewCode> {
    let number: u32 = OsRng.gen_range(0..1_000_000);
    let text = Zeroizing::new(format!("{number:06}"));
    let code = OneTimeCode::parse(&text).map_err(|_| anyhow::anyhow!("generated a bad code"))?;
    let mut salt = vec![0u8; 16];
    OsRng.fill_bytes(&mut salt);
    let hash = digest(&salt, &code);
    Ok(NewCode {
        code,
        stored: StoredCode { salt, hash },
    })
}

/// Whether `code` is the one `stored` was made from, in time independent of where they differ.
pub fn matches(stored: &StoredCode, code: &OneTimeCode) -> bool {
    digest(&stored.salt, code).ct_eq(&stored.hash).into()
}

fn digest(salt: &[u8], code: &OneTimeCode) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(code.expose().as_bytes());
    hasher.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_only_itself() {
        let new = generate().unwrap();
        assert!(matches(&new.stored, &new.code));
        let other = if new.code.expose() == "000000" {
            "000001"
        } else {
            "000000"
        };
        assert!(!matches(&new.stored, &OneTimeCode::parse(other).unwrap()));
    }

    #[test]
    fn the_same_code_hashes_differently_each_time() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a.stored.salt, b.stored.salt);
        assert_eq!(a.code.expose().len(), 6);
    }
}
