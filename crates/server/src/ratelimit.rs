//! Limits on guessing and on costly requests (login failures per account and per address,
//! registrations, BankID orders, SITHS challenges per address). Counted in the database
//! (`store::limits`), so every instance sees the same count, and reserved before the work they
//! guard, so parallel requests cannot overshoot. A window always empties, so nobody is locked
//! out for good. Keys for accounts are hashed so no address is stored readable.

use sha2::{Digest, Sha256};

use crate::error::{ApiError, Result};
use crate::{store, AppState};

/// At most `max` attempts per key in a window of `window_seconds` from the first.
#[derive(Debug, Clone, Copy)]
pub struct Limiter {
    /// Which limit: keys of different limits never meet.
    scope: &'static str,
    max: i64,
    window_seconds: i64,
}

impl Limiter {
    pub const fn new(scope: &'static str, max: i64, window_seconds: i64) -> Self {
        Limiter {
            scope,
            max,
            window_seconds,
        }
    }

    /// Reserves one attempt for `key`: `429 rate_limited` (with `Retry-After`) when its
    /// window is full, and then nothing is counted.
    pub async fn reserve(&self, state: &AppState, key: &str) -> Result<()> {
        let refused = store::limits::reserve(
            state.pool(),
            self.scope,
            key,
            self.max,
            self.window_seconds,
            state.now(),
        )
        .await?;
        match refused {
            None => Ok(()),
            Some(retry_after) => {
                tracing::warn!(limit = self.scope, retry_after, "rate limited");
                Err(ApiError::RateLimited { retry_after })
            }
        }
    }

    /// Gives back an attempt [`reserve`](Self::reserve)d in this window: it was no failure.
    pub async fn release(&self, state: &AppState, key: &str) -> Result<()> {
        store::limits::release(state.pool(), self.scope, key, state.now()).await?;
        Ok(())
    }

    /// Forgets the key's attempts (the owner got in).
    pub async fn clear(&self, state: &AppState, key: &str) -> Result<()> {
        store::limits::clear(state.pool(), self.scope, key).await?;
        Ok(())
    }
}

/// A limiter key for personal data (an e-mail address) that does not keep it readable.
pub fn hashed_key(kind: &str, value: &str) -> String {
    let digest = Sha256::digest(format!("{kind}:{value}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
