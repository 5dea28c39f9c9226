//! A personal computer's trusted-device tokens, in the OS keyring (Secret Service on Linux,
//! Keychain on macOS, Credential Manager on Windows) through the `keyring` crate. One entry per
//! account, named by a hash of its address so the entry's name says nothing about who it is.
//! The token itself never leaves Rust memory except to the keyring and the server.

use legitimera_protocol::{Email, SecretString};
use sha2::{Digest, Sha256};

/// The keyring service every entry of this app is filed under (the app's identifier).
pub const SERVICE: &str = "se.legitimera.desktop";

/// The entry name for `email`'s trusted-device token.
pub fn entry_name(email: &Email) -> String {
    let digest = Sha256::digest(email.as_str().as_bytes());
    format!("trusted-device-{}", &hex::encode(digest)[..32])
}

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// No keyring service (no Secret Service on the session bus, a locked keychain, …).
    #[error("the keyring is not available: {0}")]
    Unavailable(String),
}

/// Where tokens are kept. The OS keyring in the app; the trait lets the logic be tested.
pub trait Keyring: Send + Sync + std::fmt::Debug {
    fn get(&self, name: &str) -> Result<Option<SecretString>, KeyringError>;
    fn set(&self, name: &str, secret: &SecretString) -> Result<(), KeyringError>;
    /// Removing an entry that is not there is not an error.
    fn delete(&self, name: &str) -> Result<(), KeyringError>;
}

/// Tokens in memory, for tests; `unavailable` makes every call fail as a locked keyring does.
#[derive(Debug, Default)]
pub struct MemoryKeyring {
    entries: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
    pub unavailable: std::sync::atomic::AtomicBool,
}

impl MemoryKeyring {
    fn entries(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, std::collections::BTreeMap<String, String>>, KeyringError>
    {
        if self.unavailable.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(KeyringError::Unavailable("locked".to_owned()));
        }
        Ok(self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// The names of the entries held now.
    pub fn names(&self) -> Vec<String> {
        self.entries()
            .map(|e| e.keys().cloned().collect())
            .unwrap_or_default()
    }
}

impl Keyring for MemoryKeyring {
    fn get(&self, name: &str) -> Result<Option<SecretString>, KeyringError> {
        Ok(self.entries()?.get(name).map(SecretString::new))
    }

    fn set(&self, name: &str, secret: &SecretString) -> Result<(), KeyringError> {
        self.entries()?
            .insert(name.to_owned(), secret.expose().to_owned());
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<(), KeyringError> {
        self.entries()?.remove(name);
        Ok(())
    }
}

/// The OS keyring.
#[derive(Debug, Default)]
pub struct OsKeyring;

fn unavailable(error: keyring::Error) -> KeyringError {
    // The error's text names the backend's problem, never the secret.
    KeyringError::Unavailable(error.to_string())
}

impl Keyring for OsKeyring {
    fn get(&self, name: &str) -> Result<Option<SecretString>, KeyringError> {
        let entry = keyring::Entry::new(SERVICE, name).map_err(unavailable)?;
        match entry.get_password() {
            Ok(secret) => Ok(Some(SecretString::new(&secret))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(error) => Err(unavailable(error)),
        }
    }

    fn set(&self, name: &str, secret: &SecretString) -> Result<(), KeyringError> {
        let entry = keyring::Entry::new(SERVICE, name).map_err(unavailable)?;
        entry.set_password(secret.expose()).map_err(unavailable)
    }

    fn delete(&self, name: &str) -> Result<(), KeyringError> {
        let entry = keyring::Entry::new(SERVICE, name).map_err(unavailable)?;
        match entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(error) => Err(unavailable(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_hide_the_address_and_follow_its_normal_form() {
        let a = Email::parse("Amira@Example.se").unwrap_or_else(|e| panic!("{e:?}"));
        let b = Email::parse("amira@example.se").unwrap_or_else(|e| panic!("{e:?}"));
        let other = Email::parse("erik@example.se").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(entry_name(&a), entry_name(&b));
        assert_ne!(entry_name(&a), entry_name(&other));
        assert!(!entry_name(&a).contains("amira"));
        assert_eq!(entry_name(&a).len(), "trusted-device-".len() + 32);
    }
}
