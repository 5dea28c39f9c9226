//! Whether the backend can be reached, and when to ask again. `Reachability` is pure (it takes
//! outcomes and answers with delays), so its schedule is tested without a network or a clock;
//! `Client::watch_backend` is the thin loop that feeds it health checks and reports changes.

use std::time::Duration;

use legitimera_protocol::ErrorCode;
use serde::Serialize;

use crate::error::AppError;

/// How often a reachable backend is checked again.
pub const HEALTHY_INTERVAL: Duration = Duration::from_secs(10);
/// The same while someone is logged in: each check is a new connection (the server closes a
/// kept-alive one after 10 s) and ~8 wake-ups of an otherwise idle app (bench app), and a
/// session's own calls meet an unreachable backend too.
pub const HEALTHY_INTERVAL_LOGGED_IN: Duration = Duration::from_secs(30);
/// The first retry after a failure; it doubles up to `MAX_RETRY`.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between retries, so recovery is noticed within a few seconds.
pub const MAX_RETRY: Duration = Duration::from_secs(4);

/// What the UI is told: `backend-status` events and the `backend_status` command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BackendStatus {
    /// Not checked yet.
    Checking,
    /// `demo`: the backend runs in demo mode (its outbox can be shown).
    Reachable { demo: bool },
    /// `code` is the error code the UI localizes; `retry_in_ms` when it will try again by itself.
    Unreachable { code: ErrorCode, retry_in_ms: u64 },
}

#[derive(Debug, Default, Clone)]
pub struct Reachability {
    consecutive_failures: u32,
}

impl Reachability {
    /// Records a check's outcome; answers the status to show and the delay to the next check.
    /// `Ok(demo)` when the backend answered healthy, and whether it runs in demo mode.
    pub fn record(&mut self, outcome: Result<bool, &AppError>) -> (BackendStatus, Duration) {
        match outcome {
            Ok(demo) => {
                self.consecutive_failures = 0;
                (BackendStatus::Reachable { demo }, HEALTHY_INTERVAL)
            }
            Err(error) => {
                let delay = retry_delay(self.consecutive_failures);
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                let status = BackendStatus::Unreachable {
                    code: error.code(),
                    retry_in_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                };
                (status, delay)
            }
        }
    }
}

fn retry_delay(previous_failures: u32) -> Duration {
    let factor = 1u32 << previous_failures.min(8);
    FIRST_RETRY.saturating_mul(factor).min(MAX_RETRY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable() -> AppError {
        AppError::BackendUnavailable { status: 502 }
    }

    #[test]
    fn retries_back_off_up_to_a_few_seconds_then_stay_there() {
        let mut reachability = Reachability::default();
        let delays: Vec<u64> = (0..6)
            .map(|_| reachability.record(Err(&unreachable())).1.as_secs())
            .collect();
        assert_eq!(delays, vec![1, 2, 4, 4, 4, 4]);
    }

    #[test]
    fn success_resets_the_backoff() {
        let mut reachability = Reachability::default();
        for _ in 0..5 {
            reachability.record(Err(&unreachable()));
        }
        let (status, delay) = reachability.record(Ok(false));
        assert_eq!(status, BackendStatus::Reachable { demo: false });
        assert_eq!(delay, HEALTHY_INTERVAL);
        assert_eq!(reachability.record(Err(&unreachable())).1, FIRST_RETRY);
    }

    #[test]
    fn unreachable_status_carries_the_code_and_the_retry() {
        let mut reachability = Reachability::default();
        let (status, _) = reachability.record(Err(&unreachable()));
        assert_eq!(
            status,
            BackendStatus::Unreachable {
                code: ErrorCode::BackendUnavailable,
                retry_in_ms: 1000
            }
        );
    }
}
