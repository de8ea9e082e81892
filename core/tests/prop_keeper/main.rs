//! Property test of the keeper as a state machine against a reference built from its outputs
//! (proptest-state-machine). Time moves only by generated transitions (`Tick`, `Stall`,
//! `Rewind`, `Absurd`, `HandleTimeout`); every invariant of issue 2 is checked after every step:
//!
//! - no dispatch while OPEN, at most the probe count in flight in HALF_OPEN;
//! - spacing and max in flight respected (fixed pacing);
//! - no QR delivered for a session unknown when it was produced or removed since;
//! - every pending session gone by its deadline;
//! - connected sessions never removed by cleanup;
//! - accepted = queued + inFlight + delivered + superseded + deadLettered + purged;
//! - latest wins per session (a superseded QR is never delivered);
//! - per-session order of statuses;
//! - `poll_timeout` never in the past, never a busy loop;
//! - a copy restored from a snapshot at a generated step gives the same results, outputs and
//!   state from there on (and `Restarted` after a crash-restore keeps every invariant);
//! - same inputs give the same outputs (a twin keeper in lockstep);
//! - time going backwards, duplicate or unknown results and absurd values (`u64::MAX` now,
//!   huge Retry-After, huge strings) never panic or corrupt the books.
//!
//! Plus: Baileys lifecycle per update (maxQrCodes, scan, open, terminal/transient/515 closes,
//! backoff bounds), breaker moves per outcome class and stale results, Retry-After pauses,
//! stable and unique idempotency keys, no resend after a 2xx or a dead letter, no ghosts (every
//! session not connected has an inactivity deadline), refused inputs change nothing, and at the
//! end a healthy backend drains the queue. At `now == u64::MAX` ("the end of time") every
//! deadline equals `now`, so the "strictly later" checks are relaxed there.
//!
//! Configs: a small one (threshold 3, reset 2 s, pending 5 s, inactive 20 s, spacing 100 ms,
//! 2 in flight, 3 QRs, queue of 6), the defaults, and an edge one (every knob at its minimum,
//! zero delays, adaptive pacing).
//!
//! Cases: `PROPTEST_CASES` (default 1000). Seed: `SK_PROPTEST_SEED` (default fixed, printed), so
//! a run is reproducible; the ChaCha generator is used. `SK_PROPTEST_STEPS` sets the longest
//! sequence (default 100); `SK_PROPTEST_TRACE=1` prints every call and its outputs.

mod harness;
mod model;
mod observer;
mod regressions;
mod transitions;

use std::marker::PhantomData;

use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, RngSeed, TestError, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
use sessionkeeper_core::Config;

use harness::Harness;
use model::{KeeperModel, Profile};

/// Default seed of the generator (override with `SK_PROPTEST_SEED`).
const DEFAULT_SEED: u64 = 0x5e55_10e5_0000_0002;
/// Default number of cases (override with `PROPTEST_CASES`).
const DEFAULT_CASES: u32 = 1_000;
/// Transitions per case, at most (override with `SK_PROPTEST_STEPS` for deeper runs).
const MAX_STEPS: usize = 100;

/// Small timeouts so that a short sequence crosses all of them.
#[derive(Debug, Clone)]
struct Small;

impl Profile for Small {
    const NAME: &'static str = "small";
    const SCALE: u64 = 1;

    fn config() -> Config {
        Config {
            circuit_breaker_threshold: 3,
            circuit_breaker_reset_timeout: 2_000,
            circuit_breaker_max_reset_timeout: 8_000,
            circuit_breaker_half_open_probes: 2,
            circuit_breaker_failure_rate: 60,
            circuit_breaker_failure_window: 10_000,
            circuit_breaker_minimum_volume: 6,
            pending_session_timeout: 5_000,
            pending_session_cleanup_interval: 1_000,
            inactive_session_timeout: 20_000,
            sync_spacing: 100,
            max_concurrent_messages: 2,
            max_qr_codes: 3,
            max_queue_size: 6,
            max_attempts: 4,
            max_item_age: 30_000,
            retry_base_delay: 200,
            retry_max_delay: 2_000,
            retry_after_cap: 10_000,
            throttle_default_pause: 500,
            delivery_lease_timeout: 3_000,
            dead_letter_limit: 4,
            reconnect_base_delay: 100,
            reconnect_max_delay: 2_000,
            max_concurrent_reconnects: 2,
            reconnect_slot_timeout: 3_000,
            connection_replaced_limit: 3,
            connection_replaced_window: 10_000,
            pending_alert_threshold: 2,
            breaker_open_alert_after: 4_000,
            seed: 42,
            ..Config::default()
        }
    }
}

/// Every knob at its smallest valid value, adaptive pacing: zero delays, one of everything.
#[derive(Debug, Clone)]
struct Edge;

impl Profile for Edge {
    const NAME: &'static str = "edge";
    const SCALE: u64 = 1;

    fn config() -> Config {
        Config {
            circuit_breaker_threshold: 1,
            circuit_breaker_reset_timeout: 1,
            circuit_breaker_max_reset_timeout: 1,
            circuit_breaker_half_open_probes: 1,
            circuit_breaker_failure_rate: 100,
            circuit_breaker_failure_window: 1,
            circuit_breaker_minimum_volume: 1,
            pending_session_timeout: 1,
            pending_session_cleanup_interval: 1,
            inactive_session_timeout: 1,
            sync_spacing: 0,
            max_concurrent_messages: 1,
            max_qr_codes: 1,
            pacing: sessionkeeper_core::PacingMode::Adaptive,
            adaptive_min_spacing: 1,
            adaptive_latency_target: 1,
            max_queue_size: 1,
            max_attempts: 1,
            max_item_age: 1,
            retry_base_delay: 1,
            retry_max_delay: 1,
            retry_after_cap: 0,
            throttle_default_pause: 0,
            delivery_lease_timeout: 1,
            dead_letter_limit: 0,
            reconnect_base_delay: 0,
            reconnect_max_delay: 0,
            max_concurrent_reconnects: 1,
            reconnect_slot_timeout: 1,
            connection_replaced_limit: 1,
            connection_replaced_window: 1,
            pending_alert_threshold: 0,
            breaker_open_alert_after: 0,
            seed: 0,
        }
    }
}

/// The defaults (the seed's values).
#[derive(Debug, Clone)]
struct Defaults;

impl Profile for Defaults {
    const NAME: &'static str = "default";
    const SCALE: u64 = 24;

    fn config() -> Config {
        Config::default()
    }
}

/// The state machine test.
struct KeeperTest<P>(PhantomData<P>);

impl<P: Profile> StateMachineTest for KeeperTest<P> {
    type SystemUnderTest = Harness;
    type Reference = KeeperModel<P>;

    fn init_test(_: &model::ModelState) -> Harness {
        Harness::new(P::config())
    }

    fn apply(mut h: Harness, _: &model::ModelState, transition: transitions::Transition) -> Harness {
        h.apply(&transition);
        h
    }

    fn teardown(mut h: Harness, _: model::ModelState) {
        h.drain_to_idle();
        STATS.with(|s| s.borrow_mut().add(&h));
    }
}

/// What the cases exercised, to show the generator reaches the interesting states.
#[derive(Default, Debug)]
struct Stats {
    cases: u64,
    dispatches: u64,
    qr_dispatches: u64,
    qrs_produced: u64,
    trips: u64,
    delivered: u64,
    connects: u64,
    removed_expired_inactive_other: (u64, u64, u64),
}

impl Stats {
    fn add(&mut self, h: &Harness) {
        self.cases += 1;
        self.dispatches += h.obs.dispatches;
        self.qr_dispatches += h.obs.qr_dispatches;
        self.trips += h.obs.trips;
        self.delivered += h.obs.delivered;
        self.qrs_produced += h.obs.qr_seq;
        self.connects += h.obs.connects;
        let (a, b, c) = h.obs.removals;
        let r = &mut self.removed_expired_inactive_other;
        *r = (r.0 + a, r.1 + b, r.2 + c);
    }
}

thread_local! {
    /// Whether panics on this thread are expected (shrinking) and not worth printing.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static STATS: std::cell::RefCell<Stats> = std::cell::RefCell::new(Stats::default());
}

/// Shrinking panics hundreds of times: keep those quiet, print only the final failure.
fn quiet_panics_on_this_thread() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(|q| q.get()) {
                default(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    let value = std::env::var(name).ok()?;
    Some(value.trim().parse().unwrap_or_else(|_| panic!("{name}={value} is not a number")))
}

fn run<P: Profile>() {
    let seed = env_number::<u64>("SK_PROPTEST_SEED").unwrap_or(DEFAULT_SEED);
    let cases = env_number::<u32>("PROPTEST_CASES").unwrap_or(DEFAULT_CASES);
    let steps = 1..env_number::<usize>("SK_PROPTEST_STEPS").unwrap_or(MAX_STEPS).max(2);
    eprintln!("prop_keeper[{}]: {cases} cases, {steps:?} transitions, SK_PROPTEST_SEED={seed}", P::NAME);
    let config = RunnerConfig {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 4_096,
        ..RunnerConfig::default()
    };
    quiet_panics_on_this_thread();
    let mut runner = TestRunner::new(config.clone());
    let strategy = KeeperModel::<P>::sequential_strategy(steps.clone());
    let result = runner.run(&strategy, |(initial, transitions, seen)| {
        KeeperTest::<P>::test_sequential(config.clone(), initial, transitions, seen);
        Ok(())
    });
    QUIET.with(|q| q.set(false));
    STATS.with(|s| eprintln!("prop_keeper[{}]: {:?}", P::NAME, s.borrow()));
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, (_, transitions, _))) => {
            panic!(
                "prop_keeper[{}] failed (SK_PROPTEST_SEED={seed}): {reason}\nminimal transitions:\n{transitions:#?}",
                P::NAME
            )
        }
        Err(e) => panic!("prop_keeper[{}]: {e}", P::NAME),
    }
}

#[test]
fn keeper_state_machine_small_config() {
    run::<Small>();
}

#[test]
fn keeper_state_machine_default_config() {
    run::<Defaults>();
}

#[test]
fn keeper_state_machine_edge_config() {
    run::<Edge>();
}
