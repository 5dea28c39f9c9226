//! Sleeping until a moment in time that also passes while the computer is suspended, so the
//! session clock can sleep until its next deadline instead of looking once a second (an idle
//! app that wakes for nothing) and still act on a deadline that passed during a suspend as
//! soon as the computer wakes. Linux: a timerfd on `CLOCK_BOOTTIME`. Elsewhere, and if the
//! timerfd cannot be had: at most a second at a time (tokio's clock stands still in suspend),
//! and the caller looks again.

use std::time::Duration;

/// The longest step where only a clock that stops in suspend is at hand.
const STEP: Duration = Duration::from_secs(1);

/// Returns after `wait` has passed, suspended time included, or earlier (after at most a
/// second) where that cannot be measured: the caller checks its deadline again either way.
pub async fn after(wait: Duration) {
    #[cfg(target_os = "linux")]
    match boottime::after(wait).await {
        Ok(()) => return,
        Err(error) => tracing::warn!(%error, "no CLOCK_BOOTTIME timer; looking once a second"),
    }
    tokio::time::sleep(wait.min(STEP)).await;
}

#[cfg(target_os = "linux")]
mod boottime {
    use std::time::Duration;

    use rustix::time::{
        timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags,
        TimerfdTimerFlags, Timespec,
    };
    use tokio::io::unix::AsyncFd;

    pub async fn after(wait: Duration) -> std::io::Result<()> {
        let fd = timerfd_create(
            TimerfdClockId::Boottime,
            TimerfdFlags::CLOEXEC | TimerfdFlags::NONBLOCK,
        )?;
        // An all-zero time disarms the timer instead of firing it: a nanosecond at least.
        let wait = wait.max(Duration::from_nanos(1));
        let when = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: wait.as_secs().try_into().unwrap_or(i64::MAX),
                tv_nsec: wait.subsec_nanos().into(),
            },
        };
        timerfd_settime(&fd, TimerfdTimerFlags::empty(), &when)?;
        // Deprecated in tokio 1.54 for inner types whose descriptor could change under it (its
        // replacement, `register`, is `unsafe`, which this workspace forbids). An `OwnedFd`
        // holds one descriptor, open, for its whole life: the case that is sound.
        #[allow(deprecated)]
        let fd = AsyncFd::new(fd)?;
        loop {
            let mut ready = fd.readable().await?;
            let mut expirations = [0u8; 8];
            match rustix::io::read(ready.get_inner(), &mut expirations) {
                Ok(_) => return Ok(()),
                Err(rustix::io::Errno::AGAIN) => ready.clear_ready(),
                Err(error) => return Err(error.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn it_sleeps_at_least_the_time_asked_and_then_returns() {
        for wait in [Duration::ZERO, Duration::from_millis(120)] {
            let started = Instant::now();
            tokio::time::timeout(Duration::from_secs(10), after(wait))
                .await
                .expect("the timer fired");
            assert!(
                started.elapsed() >= wait,
                "{wait:?}: {:?}",
                started.elapsed()
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn on_linux_the_timer_is_a_boottime_one() {
        // The fallback would return after a second: this one waits the whole time.
        let started = Instant::now();
        boottime::after(Duration::from_millis(1500))
            .await
            .expect("a CLOCK_BOOTTIME timerfd");
        assert!(started.elapsed() >= Duration::from_millis(1500));
    }
}
