//! Sliding-window limits on guessing (login failures per account and per address, registrations
//! per address). In memory, per process: a window always empties, so nobody is locked out for
//! good. Keys for accounts are hashed so no address sits in memory longer than needed.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

#[derive(Debug)]
pub struct Limiter {
    max: usize,
    window_seconds: i64,
    hits: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl Limiter {
    /// Past this many keys, empty windows are swept out on the next hit.
    const SWEEP_ABOVE: usize = 10_000;

    pub fn new(max: usize, window_seconds: i64) -> Self {
        Limiter {
            max,
            window_seconds,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds)` until the key may try again when it has used up its window at `now`.
    pub fn retry_after(&self, key: &str, now: i64) -> Option<u64> {
        let mut hits = self.lock();
        let window = hits.get_mut(key)?;
        self.expire(window, now);
        if window.len() < self.max {
            return None;
        }
        let oldest = window.front().copied().unwrap_or(now);
        Some((oldest + self.window_seconds - now).max(1).unsigned_abs())
    }

    pub fn record(&self, key: &str, now: i64) {
        let mut hits = self.lock();
        if hits.len() > Self::SWEEP_ABOVE {
            hits.retain(|_, window| {
                window.retain(|&at| at > now - self.window_seconds);
                !window.is_empty()
            });
        }
        let window = hits.entry(key.to_owned()).or_default();
        self.expire(window, now);
        window.push_back(now);
    }

    pub fn clear(&self, key: &str) {
        self.lock().remove(key);
    }

    fn expire(&self, window: &mut VecDeque<i64>, now: i64) {
        while window
            .front()
            .is_some_and(|&at| at <= now - self.window_seconds)
        {
            window.pop_front();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<i64>>> {
        self.hits
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A limiter key for personal data (an e-mail address) that does not keep it readable.
pub fn hashed_key(kind: &str, value: &str) -> String {
    let digest = Sha256::digest(format!("{kind}:{value}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_stops_then_expires() {
        let limiter = Limiter::new(3, 60);
        for at in [0, 10, 20] {
            assert_eq!(limiter.retry_after("k", at), None);
            limiter.record("k", at);
        }
        assert_eq!(limiter.retry_after("k", 30), Some(30));
        assert_eq!(limiter.retry_after("other", 30), None);
        assert_eq!(
            limiter.retry_after("k", 60),
            None,
            "the oldest hit left the window"
        );
    }

    #[test]
    fn clear_forgets_a_key() {
        let limiter = Limiter::new(1, 60);
        limiter.record("k", 0);
        assert!(limiter.retry_after("k", 1).is_some());
        limiter.clear("k");
        assert_eq!(limiter.retry_after("k", 1), None);
    }
}
