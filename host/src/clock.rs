//! The host's clock: tokio time mapped onto unix milliseconds.
//!
//! The core takes `now` as unix ms. Reading time through `tokio::time::Instant` (from a base
//! captured at start) keeps paused-time tests working, while the values stay wall-clock-like so
//! `at` fields and snapshots make sense across restarts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Maps tokio instants to unix milliseconds and back.
#[derive(Debug, Clone, Copy)]
pub struct HostClock {
    base_unix_ms: u64,
    base: Instant,
}

impl HostClock {
    /// A clock starting at the wall clock, or at `not_before` if that is later (a restored
    /// state must not see time go backwards, or its timers would wait for the wall clock).
    pub fn start(not_before: u64) -> Self {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        Self { base_unix_ms: wall.max(not_before), base: Instant::now() }
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

    #[tokio::test(start_paused = true)]
    async fn follows_tokio_time() {
        let clock = HostClock::start(0);
        let t0 = clock.now();
        tokio::time::sleep_until(clock.instant_at(t0 + 1_500)).await;
        assert_eq!(clock.now(), t0 + 1_500);
    }

    #[test]
    fn never_starts_before_a_restored_now() {
        let far = 4_000_000_000_000;
        let clock = HostClock::start(far);
        assert!(clock.now() >= far);
    }
}
