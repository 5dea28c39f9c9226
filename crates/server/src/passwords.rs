//! Password policy and hashing: argon2id (m = 19 MiB, t = 2, p = 1, OWASP), run on the blocking
//! pool so a login never stalls the async workers; the common-password list. Never logs a
//! password or a hash.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use legitimera_protocol::Password;

/// OWASP's argon2id parameters: 19 MiB of memory, 2 passes, 1 lane.
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const LANES: u32 = 1;

/// Built by `examples/common_passwords.rs` (see there for how); one lowercase entry a line.
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// Whether a password is on the shipped list of common passwords (compared lowercased).
pub fn is_common(password: &Password) -> bool {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let list = LIST.get_or_init(|| COMMON_PASSWORDS.lines().collect());
    let lowered = zeroize::Zeroizing::new(password.expose().to_lowercase());
    list.contains(lowered.as_str())
}

/// How many entries the common-password list holds.
pub fn common_list_len() -> usize {
    COMMON_PASSWORDS.lines().count()
}

/// Hashes and verifies passwords off the async workers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hasher {
    /// A real hash of a random password, verified against when the account does not exist,
    /// so an unknown e-mail costs as much time as a wrong password.
    dummy_hash: Arc<str>,
}

impl Hasher {
    pub fn new() -> anyhow::Result<Self> {
        let random = SaltString::generate(&mut OsRng);
        let dummy_hash = hash_now(random.as_str().as_bytes())?;
        Ok(Hasher {
            dummy_hash: dummy_hash.into(),
        })
    }

    /// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) for a new password.
    pub async fn hash(&self, password: Password) -> anyhow::Result<String> {
        tokio::task::spawn_blocking(move || hash_now(password.expose().as_bytes())).await?
    }

    /// Whether `password` matches `stored`; with no stored hash, spends the same time and says no.
    pub async fn verify(&self, password: Password, stored: Option<String>) -> anyhow::Result<bool> {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches = tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
            let parsed =
                PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
            Ok(argon2()?
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok())
        })
        .await??;
        Ok(known && matches)
    }
}

fn argon2() -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None)
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes on the current thread: call from the blocking pool (or a benchmark).
pub fn hash_now(password: &[u8]) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()?
        .hash_password(password, &salt)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(text: &str) -> Password {
        Password::parse(&text.into()).unwrap()
    }

    #[test]
    fn list_is_large_and_has_the_obvious_ones() {
        assert!(common_list_len() >= 10_000, "{}", common_list_len());
        for common in [
            "password",
            "12345678",
            "qwertyuiop",
            "lösenord123",
            "Sommar2024",
            "PASSWORD1",
        ] {
            assert!(is_common(&password(common)), "{common}");
        }
        assert!(!is_common(&password("korrekt häst batteri häftklammer")));
    }

    #[tokio::test]
    async fn hash_then_verify_with_owasp_parameters() {
        let hasher = Hasher::new().unwrap();
        let hash = hasher
            .hash(password("en lång fras att minnas"))
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(hasher
            .verify(password("en lång fras att minnas"), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!hasher
            .verify(password("en annan fras"), Some(hash))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn unknown_account_never_verifies() {
        let hasher = Hasher::new().unwrap();
        assert!(!hasher
            .verify(password("whatever it is"), None)
            .await
            .unwrap());
    }
}
