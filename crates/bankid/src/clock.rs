//! The time rules are measured against, behind a trait so tests move time forward instead of
//! sleeping: the simulator's 30-second and 3-minute limits, and the server's code expiry,
//! session limits and rate windows (it uses this clock, so one `ManualClock` moves both).

use std::fmt::Debug;
use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> OffsetDateTime;

    /// Whole seconds since the Unix epoch: what a database stores.
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
    /// Starts at the current time, so dates in completion data and messages look real.
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
