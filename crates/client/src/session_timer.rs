//! The session's clock on this side: when to warn, when the idle or the absolute limit ends the
//! session. Pure: every call takes `now` (from a [`Clock`]), so tests drive 30 minutes in
//! microseconds. It never ends a session itself; the caller does (server first, then the wipe).
//!
//! `now` carries two clocks. The monotonic one is immune to the user changing the time; the
//! wall clock keeps running while the computer sleeps (the monotonic one may not). Elapsed time
//! is the larger of the two, so neither a clock set back nor a night asleep extends a session.

use std::time::{Duration, Instant, SystemTime};

/// The longest warning before the idle limit ends a session.
pub const MAX_WARNING: Duration = Duration::from_secs(5 * 60);

/// A moment on both clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub monotonic: Instant,
    pub wall: SystemTime,
}

impl Now {
    /// Time from `earlier` to `self`: the larger of what each clock says (never negative).
    pub fn since(&self, earlier: &Now) -> Duration {
        let monotonic = self.monotonic.saturating_duration_since(earlier.monotonic);
        let wall = self.wall.duration_since(earlier.wall).unwrap_or_default();
        monotonic.max(wall)
    }
}

pub trait Clock: Send + Sync {
    fn now(&self) -> Now;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Now {
        Now {
            monotonic: Instant::now(),
            wall: SystemTime::now(),
        }
    }
}

/// Why a session ended by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Idle,
    Absolute,
}

/// What the session looks like at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerState {
    Active,
    /// The idle limit is near: warn, with this much time left.
    Warning {
        left: Duration,
    },
    Ended(Limit),
}

/// The warning counts down in whole seconds.
const COUNTDOWN_STEP: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct SessionTimer {
    idle_timeout: Duration,
    warning: Duration,
    last_activity: Now,
    started: Now,
    absolute_left_at_start: Duration,
}

impl SessionTimer {
    /// A session that started at `now` with the server's limits: `idle_timeout` after the last
    /// activity, and `absolute_left` from now whatever happens. The warning comes
    /// `min(5 minutes, idle_timeout / 4)` before the idle limit: at 25:00 of 30:00.
    pub fn start(now: Now, idle_timeout: Duration, absolute_left: Duration) -> Self {
        SessionTimer {
            idle_timeout,
            warning: MAX_WARNING.min(idle_timeout / 4),
            last_activity: now,
            started: now,
            absolute_left_at_start: absolute_left,
        }
    }

    /// A click on a button or a link, or a save. Nothing else counts (not typing, not reading,
    /// not moving the mouse): the caller only calls this for those. An ended session stays ended.
    pub fn activity(&mut self, now: Now) {
        if !matches!(self.state(now), TimerState::Ended(_)) {
            self.last_activity = now;
        }
    }

    pub fn state(&self, now: Now) -> TimerState {
        if self.absolute_left(now).is_zero() {
            return TimerState::Ended(Limit::Absolute);
        }
        let idle_left = self.idle_left(now);
        if idle_left.is_zero() {
            return TimerState::Ended(Limit::Idle);
        }
        if idle_left <= self.warning {
            return TimerState::Warning { left: idle_left };
        }
        TimerState::Active
    }

    /// How long from `now` until the state may change by time alone: the warning, the end (the
    /// absolute limit's too), or, while warning, the next second of its countdown. Activity
    /// only moves these later, so a clock that sleeps this long misses nothing.
    pub fn next_change(&self, now: Now) -> Duration {
        let absolute_left = self.absolute_left(now);
        match self.state(now) {
            TimerState::Ended(_) => Duration::ZERO,
            TimerState::Warning { left } => left.min(COUNTDOWN_STEP).min(absolute_left),
            TimerState::Active => self
                .idle_left(now)
                .saturating_sub(self.warning)
                .min(absolute_left),
        }
    }

    /// How long until the idle limit.
    fn idle_left(&self, now: Now) -> Duration {
        self.idle_timeout
            .saturating_sub(now.since(&self.last_activity))
    }

    /// How long until the absolute limit, for the session info.
    pub fn absolute_left(&self, now: Now) -> Duration {
        self.absolute_left_at_start
            .saturating_sub(now.since(&self.started))
    }

    pub fn warning(&self) -> Duration {
        self.warning
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);
    const IDLE: Duration = Duration::from_secs(30 * 60);
    const ABSOLUTE: Duration = Duration::from_secs(12 * 60 * 60);

    /// A clock the test moves: `run` advances both clocks (awake), `sleep` only the wall clock
    /// (a suspended computer), `set_back` only moves the wall clock backwards.
    struct FakeClock {
        now: Now,
    }

    impl FakeClock {
        fn new() -> Self {
            FakeClock {
                now: SystemClock.now(),
            }
        }
        fn run(&mut self, by: Duration) -> Now {
            self.now.monotonic += by;
            self.now.wall += by;
            self.now
        }
        fn sleep(&mut self, by: Duration) -> Now {
            self.now.wall += by;
            self.now
        }
        fn set_back(&mut self, by: Duration) -> Now {
            self.now.wall -= by;
            self.now
        }
    }

    fn timer(clock: &FakeClock) -> SessionTimer {
        SessionTimer::start(clock.now, IDLE, ABSOLUTE)
    }

    #[test]
    fn the_next_change_is_the_warning_then_each_second_then_now() {
        let mut clock = FakeClock::new();
        let mut timer = timer(&clock);
        assert_eq!(timer.next_change(clock.now), 25 * MIN);
        // Activity moves it later only.
        timer.activity(clock.run(10 * MIN));
        assert_eq!(timer.next_change(clock.now), 25 * MIN);
        // Sleeping exactly that long reaches the warning.
        let at = clock.run(25 * MIN);
        assert_eq!(timer.state(at), TimerState::Warning { left: 5 * MIN });
        assert_eq!(timer.next_change(at), Duration::from_secs(1));
        let at = clock.run(5 * MIN - Duration::from_millis(300));
        assert_eq!(timer.next_change(at), Duration::from_millis(300));
        assert_eq!(
            timer.next_change(clock.run(Duration::from_millis(300))),
            Duration::ZERO
        );
    }

    #[test]
    fn the_absolute_limit_comes_first_when_it_is_nearer() {
        let clock = FakeClock::new();
        let timer = SessionTimer::start(clock.now, IDLE, 3 * MIN);
        assert_eq!(timer.next_change(clock.now), 3 * MIN);
    }

    #[test]
    fn a_suspend_past_the_deadline_leaves_nothing_to_wait_for() {
        let mut clock = FakeClock::new();
        let timer = timer(&clock);
        assert_eq!(timer.next_change(clock.sleep(40 * MIN)), Duration::ZERO);
    }

    #[test]
    fn warns_at_25_minutes_and_ends_at_30() {
        let mut clock = FakeClock::new();
        let timer = timer(&clock);
        assert_eq!(
            timer.state(clock.run(25 * MIN - Duration::from_secs(1))),
            TimerState::Active
        );
        assert_eq!(
            timer.state(clock.run(Duration::from_secs(1))),
            TimerState::Warning { left: 5 * MIN }
        );
        assert_eq!(
            timer.state(clock.run(5 * MIN - Duration::from_secs(1))),
            TimerState::Warning {
                left: Duration::from_secs(1)
            }
        );
        assert_eq!(
            timer.state(clock.run(Duration::from_secs(1))),
            TimerState::Ended(Limit::Idle)
        );
    }

    #[test]
    fn a_click_starts_the_idle_time_again() {
        let mut clock = FakeClock::new();
        let mut timer = timer(&clock);
        timer.activity(clock.run(20 * MIN));
        assert_eq!(timer.state(clock.run(20 * MIN)), TimerState::Active);
        assert_eq!(
            timer.state(clock.run(10 * MIN)),
            TimerState::Ended(Limit::Idle)
        );
    }

    #[test]
    fn typing_is_not_activity() {
        // Typing never reaches the timer (only clicks and saves are reported), so twenty-nine
        // minutes of typing after a click still ends the session at thirty.
        let mut clock = FakeClock::new();
        let timer = timer(&clock);
        for _ in 0..29 {
            clock.run(MIN);
        }
        assert!(matches!(timer.state(clock.now), TimerState::Warning { .. }));
        assert_eq!(timer.state(clock.run(MIN)), TimerState::Ended(Limit::Idle));
    }

    #[test]
    fn the_warnings_button_keeps_the_session() {
        let mut clock = FakeClock::new();
        let mut timer = timer(&clock);
        assert!(matches!(
            timer.state(clock.run(27 * MIN)),
            TimerState::Warning { .. }
        ));
        timer.activity(clock.now);
        assert_eq!(timer.state(clock.now), TimerState::Active);
        assert_eq!(timer.state(clock.run(24 * MIN)), TimerState::Active);
    }

    #[test]
    fn the_absolute_limit_ends_even_an_active_session() {
        let mut clock = FakeClock::new();
        let mut timer = timer(&clock);
        for _ in 0..(12 * 60 / 20) - 1 {
            timer.activity(clock.run(20 * MIN));
        }
        assert_eq!(timer.state(clock.now), TimerState::Active);
        assert_eq!(timer.absolute_left(clock.now), 20 * MIN);
        timer.activity(clock.run(20 * MIN));
        assert_eq!(timer.state(clock.now), TimerState::Ended(Limit::Absolute));
        // Once ended, a click does not bring it back.
        timer.activity(clock.now);
        assert_eq!(timer.state(clock.now), TimerState::Ended(Limit::Absolute));
    }

    #[test]
    fn sleeping_past_the_limit_ends_the_session_on_wake() {
        let mut clock = FakeClock::new();
        let timer = timer(&clock);
        clock.run(MIN);
        // Suspended for an hour: the monotonic clock stood still, the wall clock did not.
        assert_eq!(
            timer.state(clock.sleep(60 * MIN)),
            TimerState::Ended(Limit::Idle)
        );
    }

    #[test]
    fn setting_the_clock_back_does_not_extend_the_session() {
        let mut clock = FakeClock::new();
        let timer = timer(&clock);
        clock.set_back(60 * MIN);
        assert_eq!(
            timer.state(clock.run(30 * MIN)),
            TimerState::Ended(Limit::Idle)
        );
    }

    #[test]
    fn short_limits_for_tests_warn_a_quarter_before() {
        let mut clock = FakeClock::new();
        let timer = SessionTimer::start(clock.now, Duration::from_secs(20), ABSOLUTE);
        assert_eq!(timer.warning(), Duration::from_secs(5));
        assert_eq!(
            timer.state(clock.run(Duration::from_secs(15))),
            TimerState::Warning {
                left: Duration::from_secs(5)
            }
        );
    }
}
