//! The time every rule is measured against (code expiry, session limits, rate windows), behind a
//! trait so tests can move time forward instead of sleeping. The command line always gets the
//! system clock; `ManualClock` is for tests that build the server themselves.

use std::fmt::Debug;
use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> OffsetDateTime;

    /// Whole seconds since the Unix epoch: what the database stores.
    fn unix(&self) -> i64 {
        self.now().unix_timestamp()
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
}

impl ManualClock {
    /// Starts at the current time, so dates in messages look real.
    pub fn new() -> Self {
        ManualClock {
            now: Mutex::new(OffsetDateTime::now_utc()),
        }
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new();
        let start = clock.unix();
        assert_eq!(clock.unix(), start);
        clock.advance(Duration::from_secs(601));
        assert_eq!(clock.unix(), start + 601);
    }
}
