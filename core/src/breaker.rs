//! The circuit breaker: CLOSED / OPEN / HALF_OPEN, driven by outcome classes and deadlines.
//!
//! - Trips on `circuitBreakerThreshold` consecutive failures, or on a failure rate over a time
//!   window once a minimum volume is seen (when the rate rule is on).
//! - OPEN lasts `circuitBreakerResetTimeout`, doubling with each trip in a row, capped.
//! - HALF_OPEN is entered by deadline (`handle_timeout`), never lazily; a bounded number of probes
//!   may be in flight; one success closes, one failure re-opens.
//! - Every permit carries the generation it was issued under: results from an older generation
//!   cannot move the state (a slow success from before a trip does not close an OPEN breaker).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::config::Config;

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BreakerState {
    /// Requests flow.
    Closed,
    /// No request is sent until the reset deadline.
    Open,
    /// A few probes test the backend.
    HalfOpen,
}

impl BreakerState {
    /// The wire name (`CLOSED`, `OPEN`, `HALF_OPEN`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "CLOSED",
            Self::Open => "OPEN",
            Self::HalfOpen => "HALF_OPEN",
        }
    }
}

/// The class of a delivery outcome, as the breaker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OutcomeClass {
    /// 2xx.
    Success,
    /// 5xx (but 503 with throttling semantics), timeout, connection error.
    Failure,
    /// 429 / 503: the backend is alive but asks us to slow down. Neutral for the breaker.
    Throttled,
    /// Other 4xx: the backend is alive and refused this item. Healthy for the breaker.
    Rejected,
}

/// Permission to send one request, tagged with the breaker generation it was issued under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permit {
    /// Generation of the breaker when the permit was issued.
    pub generation: u64,
    /// Whether the request is a HALF_OPEN probe.
    pub probe: bool,
}

/// The circuit breaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CircuitBreaker {
    state: BreakerState,
    generation: u64,
    consecutive_failures: u32,
    consecutive_successes: u32,
    /// Trips in a row without a healthy period; grows the OPEN duration.
    trip_streak: u32,
    opened_at: Option<u64>,
    half_open_at: Option<u64>,
    probes_in_flight: u32,
    /// (time, failed) of recent outcomes, for the failure-rate rule.
    window: VecDeque<(u64, bool)>,
    window_failures: u32,
    trips: u64,
    transitions: u64,
    stale_results: u64,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new() -> Self {
        Self {
            state: BreakerState::Closed,
            generation: 0,
            consecutive_failures: 0,
            consecutive_successes: 0,
            trip_streak: 0,
            opened_at: None,
            half_open_at: None,
            probes_in_flight: 0,
            window: VecDeque::new(),
            window_failures: 0,
            trips: 0,
            transitions: 0,
            stale_results: 0,
        }
    }

    /// Current state.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Whether a request may be sent now.
    pub fn can_send(&self, config: &Config) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::Open => false,
            BreakerState::HalfOpen => self.probes_in_flight < config.circuit_breaker_half_open_probes,
        }
    }

    /// Takes a permit for one request. Call only when [`Self::can_send`] is true.
    pub fn acquire(&mut self) -> Permit {
        let probe = self.state == BreakerState::HalfOpen;
        if probe {
            self.probes_in_flight += 1;
        }
        Permit { generation: self.generation, probe }
    }

    /// Hands back a permit whose request was never sent or whose result will never come
    /// (restart): frees a probe slot without judging the backend.
    pub fn release(&mut self, permit: Permit) {
        if permit.probe && permit.generation == self.generation {
            self.probes_in_flight = self.probes_in_flight.saturating_sub(1);
        }
    }

    /// The next deadline: the end of OPEN.
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.state {
            BreakerState::Open => self.half_open_at,
            _ => None,
        }
    }

    /// OPEN -> HALF_OPEN once the reset deadline has passed.
    pub fn handle_timeout(&mut self, now: u64) -> Option<(BreakerState, BreakerState)> {
        match (self.state, self.half_open_at) {
            (BreakerState::Open, Some(at)) if now >= at => {
                Some(self.transition(BreakerState::HalfOpen, now, None))
            }
            _ => None,
        }
    }

    /// Records a result. Returns the transition it caused, if any.
    pub fn record(
        &mut self,
        now: u64,
        permit: Permit,
        class: OutcomeClass,
        config: &Config,
    ) -> Option<(BreakerState, BreakerState)> {
        if permit.generation != self.generation {
            self.stale_results += 1;
            return None;
        }
        if permit.probe {
            self.probes_in_flight = self.probes_in_flight.saturating_sub(1);
        }
        let failed = match class {
            OutcomeClass::Failure => true,
            OutcomeClass::Success | OutcomeClass::Rejected => false,
            // Alive but busy: neither healthy nor failing.
            OutcomeClass::Throttled => return None,
        };
        match self.state {
            BreakerState::HalfOpen => {
                let to = if failed { BreakerState::Open } else { BreakerState::Closed };
                Some(self.transition(to, now, Some(config)))
            }
            BreakerState::Open => None,
            BreakerState::Closed => {
                self.push_window(now, failed, config);
                if failed {
                    self.consecutive_failures += 1;
                    self.consecutive_successes = 0;
                } else {
                    self.consecutive_failures = 0;
                    self.consecutive_successes = self.consecutive_successes.saturating_add(1);
                    // A healthy stretch as long as the threshold forgives earlier trips.
                    if self.consecutive_successes >= config.circuit_breaker_threshold {
                        self.trip_streak = 0;
                    }
                }
                if failed && self.should_trip(config) {
                    Some(self.transition(BreakerState::Open, now, Some(config)))
                } else {
                    None
                }
            }
        }
    }

    fn push_window(&mut self, now: u64, failed: bool, config: &Config) {
        if config.circuit_breaker_failure_rate == 0 {
            return;
        }
        self.window.push_back((now, failed));
        if failed {
            self.window_failures += 1;
        }
        while let Some(&(at, f)) = self.window.front() {
            if at.saturating_add(config.circuit_breaker_failure_window) > now {
                break;
            }
            self.window.pop_front();
            if f {
                self.window_failures -= 1;
            }
        }
    }

    fn should_trip(&self, config: &Config) -> bool {
        if self.consecutive_failures >= config.circuit_breaker_threshold {
            return true;
        }
        let volume = self.window.len() as u64;
        config.circuit_breaker_failure_rate > 0
            && volume >= u64::from(config.circuit_breaker_minimum_volume)
            && u64::from(self.window_failures) * 100
                >= volume * u64::from(config.circuit_breaker_failure_rate)
    }

    fn transition(
        &mut self,
        to: BreakerState,
        now: u64,
        config: Option<&Config>,
    ) -> (BreakerState, BreakerState) {
        let from = self.state;
        self.state = to;
        self.generation += 1;
        self.transitions += 1;
        self.probes_in_flight = 0;
        self.consecutive_failures = 0;
        self.consecutive_successes = 0;
        self.window.clear();
        self.window_failures = 0;
        match to {
            BreakerState::Open => {
                let config = config.expect("opening needs the config");
                self.trips += 1;
                self.trip_streak = self.trip_streak.saturating_add(1);
                let doublings = (self.trip_streak - 1).min(32);
                let duration = config
                    .circuit_breaker_reset_timeout
                    .saturating_mul(1u64 << doublings)
                    .min(config.circuit_breaker_max_reset_timeout);
                self.opened_at = Some(now);
                self.half_open_at = Some(now.saturating_add(duration));
            }
            BreakerState::HalfOpen => self.half_open_at = None,
            BreakerState::Closed => {
                self.opened_at = None;
                self.half_open_at = None;
            }
        }
        (from, to)
    }

    /// A view for `health`.
    pub fn view(&self, now: u64) -> BreakerView {
        BreakerView {
            state: self.state,
            consecutive_failures: self.consecutive_failures,
            opened_at: self.opened_at,
            open_for_ms: self.opened_at.map(|at| now.saturating_sub(at)),
            next_attempt_at: self.half_open_at,
            probes_in_flight: self.probes_in_flight,
            trips: self.trips,
            trip_streak: self.trip_streak,
            transitions: self.transitions,
            stale_results: self.stale_results,
            generation: self.generation,
        }
    }
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self::new()
    }
}

/// The breaker as `health` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakerView {
    /// `CLOSED` | `OPEN` | `HALF_OPEN`.
    pub state: BreakerState,
    /// Failures in a row while CLOSED.
    pub consecutive_failures: u32,
    /// When the current OPEN (or the OPEN before this HALF_OPEN) began.
    pub opened_at: Option<u64>,
    /// How long the breaker has been open.
    pub open_for_ms: Option<u64>,
    /// When HALF_OPEN will be entered.
    pub next_attempt_at: Option<u64>,
    /// Probes in flight while HALF_OPEN.
    pub probes_in_flight: u32,
    /// Times the breaker opened.
    pub trips: u64,
    /// Trips in a row (grows the OPEN duration).
    pub trip_streak: u32,
    /// State changes so far.
    pub transitions: u64,
    /// Results ignored because they were issued under an older state.
    pub stale_results: u64,
    /// Current generation.
    pub generation: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config { circuit_breaker_threshold: 3, circuit_breaker_reset_timeout: 1_000, ..Config::default() }
    }

    fn fail(b: &mut CircuitBreaker, now: u64, c: &Config) -> Option<(BreakerState, BreakerState)> {
        let p = b.acquire();
        b.record(now, p, OutcomeClass::Failure, c)
    }

    #[test]
    fn trips_on_threshold_and_recovers_through_half_open() {
        let c = config();
        let mut b = CircuitBreaker::new();
        assert_eq!(fail(&mut b, 0, &c), None);
        assert_eq!(fail(&mut b, 1, &c), None);
        assert_eq!(fail(&mut b, 2, &c), Some((BreakerState::Closed, BreakerState::Open)));
        assert!(!b.can_send(&c));
        assert_eq!(b.poll_timeout(), Some(1_002));
        assert_eq!(b.handle_timeout(1_001), None);
        assert_eq!(b.handle_timeout(1_002), Some((BreakerState::Open, BreakerState::HalfOpen)));
        assert!(b.can_send(&c));
        let probe = b.acquire();
        assert!(probe.probe);
        assert!(!b.can_send(&c), "one probe at a time");
        assert_eq!(
            b.record(1_100, probe, OutcomeClass::Success, &c),
            Some((BreakerState::HalfOpen, BreakerState::Closed))
        );
    }

    #[test]
    fn open_duration_grows_and_is_capped() {
        let c = Config { circuit_breaker_max_reset_timeout: 3_000, ..config() };
        let mut b = CircuitBreaker::new();
        for i in 0..3 {
            fail(&mut b, i, &c);
        }
        assert_eq!(b.poll_timeout(), Some(2 + 1_000));
        b.handle_timeout(1_002);
        fail(&mut b, 1_010, &c);
        assert_eq!(b.poll_timeout(), Some(1_010 + 2_000));
        b.handle_timeout(3_010);
        fail(&mut b, 3_010, &c);
        assert_eq!(b.poll_timeout(), Some(3_010 + 3_000), "capped");
    }

    #[test]
    fn stale_results_cannot_corrupt_state() {
        let c = config();
        let mut b = CircuitBreaker::new();
        let old = b.acquire();
        for i in 0..3 {
            fail(&mut b, i, &c);
        }
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.record(5, old, OutcomeClass::Success, &c), None);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.view(5).stale_results, 1);
    }

    #[test]
    fn throttled_and_rejected_are_not_failures() {
        let c = config();
        let mut b = CircuitBreaker::new();
        for i in 0..10 {
            let p = b.acquire();
            b.record(i, p, OutcomeClass::Throttled, &c);
            let p = b.acquire();
            b.record(i, p, OutcomeClass::Rejected, &c);
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn failure_rate_rule_trips_with_minimum_volume() {
        let c = Config {
            circuit_breaker_threshold: 100,
            circuit_breaker_failure_rate: 50,
            circuit_breaker_minimum_volume: 10,
            ..config()
        };
        let mut b = CircuitBreaker::new();
        for i in 0..9 {
            let p = b.acquire();
            let class = if i % 2 == 0 { OutcomeClass::Failure } else { OutcomeClass::Success };
            assert_eq!(b.record(i, p, class, &c), None);
        }
        // 10th outcome: 5 failures of 10 = 50 %.
        assert_eq!(fail(&mut b, 9, &c), Some((BreakerState::Closed, BreakerState::Open)));
    }
}
