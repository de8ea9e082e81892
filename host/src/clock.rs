//! The host's clock: tokio time mapped onto unix milliseconds.
//!
//! The core takes `now` as unix ms. Reading time through `tokio::time::Instant` (from a base
//! captured at start) keeps paused-time tests working, while the values stay wall-clock-like so
//! `at` fields and snapshots make sense across restarts.
//!
//! Keeper time never goes backwards, so a wall clock that was wrong ahead once would stay in the
//! state for good. A restart therefore moves keeper time forward by at most `maxClockJump`
//! past the saved time (a restart after a longer downtime lags the wall clock by the rest, and
//! says so in the log): a clock that was a day ahead for one run leaves at most that bound
//! behind once it is corrected.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Maps tokio instants to unix milliseconds and back.
#[derive(Debug, Clone, Copy)]
pub struct HostClock {
    base_unix_ms: u64,
    base: Instant,
}

/// Where keeper time starts, and why when it is not the wall clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// At the wall clock.
    Wall(u64),
    /// At the saved keeper time, which the wall clock is behind.
    Saved {
        /// Keeper time at start.
        at: u64,
        /// How far the wall clock is behind it.
        behind_ms: u64,
    },
    /// At the saved time plus the bound, which the wall clock is past.
    Bounded {
        /// Keeper time at start.
        at: u64,
        /// How far the wall clock is past the saved time.
        ahead_ms: u64,
    },
}

impl Start {
    /// Keeper time at start.
    pub fn at(&self) -> u64 {
        match self {
            Self::Wall(at) | Self::Saved { at, .. } | Self::Bounded { at, .. } => *at,
        }
    }
}

/// Where keeper time starts for a keeper last at `saved` (0: a fresh keeper, which takes the
/// wall clock) when the wall clock reads `wall`.
pub fn start_time(wall: u64, saved: u64, max_jump: u64) -> Start {
    if saved == 0 {
        Start::Wall(wall)
    } else if wall < saved {
        Start::Saved { at: saved, behind_ms: saved - wall }
    } else if wall - saved > max_jump {
        Start::Bounded { at: saved + max_jump, ahead_ms: wall - saved }
    } else {
        Start::Wall(wall)
    }
}

fn wall_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl HostClock {
    /// A clock for a keeper last at `saved` (see [`start_time`]); logs when keeper time does
    /// not start at the wall clock.
    pub fn start(saved: u64, max_jump: u64) -> Self {
        let start = start_time(wall_ms(), saved, max_jump);
        match start {
            Start::Wall(_) => {}
            // A small difference is an ordinary restart within the same millisecond range.
            Start::Saved { behind_ms, .. } if behind_ms < 1_000 => {}
            Start::Saved { behind_ms, .. } => tracing::warn!(
                behind_ms,
                "the wall clock is behind the saved keeper time; keeper time goes on from the saved time"
            ),
            Start::Bounded { ahead_ms, .. } => tracing::warn!(
                ahead_ms,
                max_jump,
                "the wall clock is far ahead of the saved keeper time; keeper time moves ahead by maxClockJump only \
                 (if the clock is right, `at` fields lag it by the rest)"
            ),
        }
        Self::starting_at(start.at())
    }

    /// A clock reading `unix_ms` now.
    pub fn starting_at(unix_ms: u64) -> Self {
        Self { base_unix_ms: unix_ms, base: Instant::now() }
    }

    /// Now, in unix milliseconds.
    pub fn now(&self) -> u64 {
        self.base_unix_ms + self.base.elapsed().as_millis() as u64
    }

    /// The tokio instant at which `unix_ms` is reached.
    pub fn instant_at(&self, unix_ms: u64) -> Instant {
        self.base + Duration::from_millis(unix_ms.saturating_sub(self.base_unix_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3_600_000;
    const DAY: u64 = 24 * HOUR;

    #[tokio::test(start_paused = true)]
    async fn follows_tokio_time() {
        let clock = HostClock::start(0, HOUR);
        let t0 = clock.now();
        tokio::time::sleep_until(clock.instant_at(t0 + 1_500)).await;
        assert_eq!(clock.now(), t0 + 1_500);
    }

    #[test]
    fn never_starts_before_a_restored_now() {
        let far = 4_000_000_000_000;
        let clock = HostClock::start(far, HOUR);
        assert!(clock.now() >= far);
    }

    #[test]
    fn a_fresh_keeper_takes_the_wall_clock_and_a_restart_follows_it_within_the_bound() {
        let t = 1_800_000_000_000;
        assert_eq!(start_time(t, 0, HOUR), Start::Wall(t));
        assert_eq!(start_time(t + 10 * 60_000, t, HOUR), Start::Wall(t + 10 * 60_000));
        assert_eq!(start_time(t + HOUR, t, HOUR), Start::Wall(t + HOUR));
    }

    #[test]
    fn a_wall_clock_a_day_ahead_then_corrected_leaves_at_most_the_bound() {
        let t = 1_800_000_000_000;
        // Run 1 ended at keeper time t. Run 2 starts under a clock a day ahead.
        let run2 = start_time(t + DAY, t, HOUR);
        assert_eq!(run2, Start::Bounded { at: t + HOUR, ahead_ms: DAY });
        // Run 2 lasts a minute; the clock is corrected; run 3 starts at the right time.
        let saved = run2.at() + 60_000;
        let right_now = t + 2 * 60_000;
        let run3 = start_time(right_now, saved, HOUR);
        assert_eq!(run3, Start::Saved { at: saved, behind_ms: saved - right_now });
        assert!(run3.at() - right_now <= HOUR, "ahead by at most the bound, not a day");
    }
}
