//! Pacing of dispatches: fixed spacing, or AIMD on the rate (adaptive), plus Retry-After pauses.

use serde::{Deserialize, Serialize};

use crate::breaker::OutcomeClass;
use crate::config::{Config, PacingMode};

/// Rate steps are in milli-requests per second so wasm and native compute the same integers.
const ADDITIVE_STEP_MRPS: u64 = 250;
/// The slowest adaptive rate: one request every 10 s.
const MIN_RATE_MRPS: u64 = 100;

/// Decides when the next request may leave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pacer {
    last_dispatch_at: Option<u64>,
    paused_until: u64,
    /// Current rate in milli-requests/s (adaptive mode).
    rate_mrps: u64,
}

impl Pacer {
    /// Starts at the configured spacing.
    pub fn new(config: &Config) -> Self {
        Self { last_dispatch_at: None, paused_until: 0, rate_mrps: initial_rate(config) }
    }

    /// Current spacing between dispatches.
    pub fn spacing(&self, config: &Config) -> u64 {
        match config.pacing {
            PacingMode::Fixed => config.sync_spacing,
            PacingMode::Adaptive => (1_000_000 / self.rate_mrps.max(1)).max(config.adaptive_min_spacing),
        }
    }

    /// Earliest time the next request may leave.
    pub fn next_send_at(&self, config: &Config) -> u64 {
        let spaced = self.last_dispatch_at.map_or(0, |at| at.saturating_add(self.spacing(config)));
        spaced.max(self.paused_until)
    }

    /// A request left at `now`.
    pub fn on_dispatch(&mut self, now: u64) {
        self.last_dispatch_at = Some(now);
    }

    /// Holds every dispatch until `until` (Retry-After).
    pub fn pause_until(&mut self, until: u64) {
        self.paused_until = self.paused_until.max(until);
    }

    /// `Some(until)` while a pause is in force at `now`.
    pub fn paused_until(&self, now: u64) -> Option<u64> {
        (self.paused_until > now).then_some(self.paused_until)
    }

    /// Adapts the rate to an outcome (adaptive mode only).
    pub fn on_outcome(&mut self, class: OutcomeClass, latency: u64, config: &Config) {
        if config.pacing != PacingMode::Adaptive {
            return;
        }
        let max_rate = (1_000_000 / config.adaptive_min_spacing.max(1)).max(MIN_RATE_MRPS);
        let slow = latency > config.adaptive_latency_target;
        match class {
            OutcomeClass::Success | OutcomeClass::Rejected if !slow => {
                self.rate_mrps = (self.rate_mrps + ADDITIVE_STEP_MRPS).min(max_rate);
            }
            // Slow but healthy: step back gently, never below the configured fixed rate, so a
            // slow backend is not starved (halving on every slow answer collapses the rate).
            OutcomeClass::Success | OutcomeClass::Rejected => {
                let floor = initial_rate(config).min(self.rate_mrps);
                self.rate_mrps = self.rate_mrps.saturating_sub(ADDITIVE_STEP_MRPS).max(floor);
            }
            // Throttled or failing: multiplicative decrease.
            OutcomeClass::Throttled | OutcomeClass::Failure => {
                self.rate_mrps = (self.rate_mrps / 2).max(MIN_RATE_MRPS)
            }
        }
    }
}

fn initial_rate(config: &Config) -> u64 {
    match config.sync_spacing {
        0 => 1_000_000 / config.adaptive_min_spacing.max(1),
        spacing => (1_000_000 / spacing).max(MIN_RATE_MRPS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_spacing_and_pause() {
        let c = Config::default();
        let mut p = Pacer::new(&c);
        assert_eq!(p.next_send_at(&c), 0);
        p.on_dispatch(1_000);
        assert_eq!(p.next_send_at(&c), 1_400);
        p.pause_until(5_000);
        assert_eq!(p.next_send_at(&c), 5_000);
        assert_eq!(p.paused_until(4_999), Some(5_000));
        assert_eq!(p.paused_until(5_000), None);
    }

    #[test]
    fn adaptive_grows_on_fast_success_and_halves_on_throttle() {
        let c = Config { pacing: PacingMode::Adaptive, ..Config::default() };
        let mut p = Pacer::new(&c);
        assert_eq!(p.spacing(&c), 400);
        for _ in 0..100 {
            p.on_outcome(OutcomeClass::Success, 50, &c);
        }
        let fast = p.spacing(&c);
        assert!(fast < 50, "{fast}");
        p.on_outcome(OutcomeClass::Throttled, 50, &c);
        assert!(p.spacing(&c) >= fast * 2 - 1);
        // Slow answers never push the rate below the fixed one (400 ms).
        for _ in 0..1_000 {
            p.on_outcome(OutcomeClass::Success, 5_000, &c);
        }
        assert_eq!(p.spacing(&c), 400);
        for _ in 0..10_000 {
            p.on_outcome(OutcomeClass::Success, 1, &c);
        }
        assert_eq!(p.spacing(&c), c.adaptive_min_spacing);
    }
}
