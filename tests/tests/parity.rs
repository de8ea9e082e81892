//! Native/wasm parity: every recorded trace and a few thousand generated ones, replayed through
//! the same driver natively and inside wasmtime, must give byte-identical answers at every step.
//!
//! `SK_PARITY_SEED` (decimal or 0x hex) and `SK_PARITY_TRACES` override the generated set;
//! `SK_PARITY_ONLY=<index>` replays one generated trace; `SK_PARITY_SNAPSHOT_EVERY=1` compares
//! the full snapshot after every generated step (default: every 4th step and at the end);
//! `SK_PARITY_CHECK_EXPECT=1` also holds the wasm answers to the recorded traces' `expect`. A failing trace is saved as JSON lines
//! (recorded-trace format) under `<target>/parity-failures/` and its path is printed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use sessionkeeper_tests::guest::guest_target_dir;
use sessionkeeper_tests::replay::replay_trace;
use sessionkeeper_tests::{
    replay, traces, Coverage, Failure, GuestModule, ReplayStats, SplitMix64, TraceGen,
};

const DEFAULT_SEED: u64 = 0x5e55_10e5_0000_2026;
const DEFAULT_TRACES: u64 = 2_000;
const SHARDS: u64 = 2;
/// Generated traces compare the full snapshot every few steps (and at the end of every trace);
/// serialising it natively in a debug build is the costliest part of a step.
const SNAPSHOT_EVERY: u64 = 4;

fn guest() -> Arc<GuestModule> {
    GuestModule::shared().unwrap_or_else(|e| panic!("{e}"))
}

fn env_u64(name: &str) -> Option<u64> {
    let raw = std::env::var(name).ok()?;
    let raw = raw.trim();
    let parsed = match raw.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => raw.parse(),
    };
    Some(parsed.unwrap_or_else(|e| panic!("{name}={raw:?}: {e}")))
}

fn failures_dir() -> PathBuf {
    guest_target_dir().with_file_name("parity-failures")
}

fn report(failure: &Failure, rerun: &str) -> String {
    let saved = match failure.save(&failures_dir()) {
        Ok(path) => format!("trace saved to {}", path.display()),
        Err(e) => format!("(could not save the trace: {e})"),
    };
    format!("{failure}\n  {saved}\n  rerun: {rerun}")
}

/// Steps of generated trace `index` (20 to 100, about 60 on average).
fn steps_for(trace_seed: u64) -> usize {
    20 + (trace_seed % 81) as usize
}

fn run_generated(shard: u64) {
    let seed = env_u64("SK_PARITY_SEED").unwrap_or(DEFAULT_SEED);
    let count = env_u64("SK_PARITY_TRACES").unwrap_or(DEFAULT_TRACES);
    let only = env_u64("SK_PARITY_ONLY");
    let snapshot_every = env_u64("SK_PARITY_SNAPSHOT_EVERY").unwrap_or(SNAPSHOT_EVERY);
    let guest = guest();
    let started = Instant::now();
    let mut stats = ReplayStats::default();
    let mut coverage = Coverage::default();
    let indexes: Vec<u64> = match only {
        Some(i) if i % SHARDS == shard => vec![i],
        Some(_) => vec![],
        None => (shard..count).step_by(SHARDS as usize).collect(),
    };
    for index in indexes {
        let trace_seed = SplitMix64::derive(seed, index);
        let (mut gen, config) = TraceGen::new(trace_seed, steps_for(trace_seed));
        let name = format!("generated-seed-{seed:#x}-trace-{index}");
        let next = |driver: &_| {
            coverage.observe_step(driver);
            let line = gen.next(driver);
            if line.is_none() {
                coverage.observe_end(driver);
            }
            line
        };
        match replay(&guest, &name, &config, snapshot_every, next, |_, _| Ok(())) {
            Ok(s) => {
                if s.refused_configs > 0 {
                    coverage.observe_refused_config();
                }
                stats += s;
            }
            Err(failure) => {
                let rerun = format!(
                    "SK_PARITY_SEED={seed:#x} SK_PARITY_ONLY={index} cargo test -p sessionkeeper-tests --test parity"
                );
                panic!("{}", report(&failure, &rerun));
            }
        }
    }
    eprintln!(
        "parity shard {shard}/{SHARDS} (seed {seed:#x}, {}): {} traces, {} steps, {} MB compared, {} refused configs, \
         {} unparsed steps, in {:.1?}",
        GuestModule::engine_name(),
        stats.traces,
        stats.steps,
        stats.bytes / 1_000_000,
        stats.refused_configs,
        stats.unparsed_steps,
        started.elapsed()
    );
    if only.is_none() {
        assert!(stats.traces >= count / SHARDS, "shard {shard} replayed only {} traces", stats.traces);
        assert!(stats.steps > stats.traces * 10, "shard {shard} compared only {} steps", stats.steps);
    }
    eprintln!("parity shard {shard} coverage: {:?}", coverage.seen);
    if only.is_none() && count >= 1_000 {
        let missing = coverage.missing();
        assert!(
            missing.is_empty(),
            "shard {shard}: the generated traces never reached {missing:?}; seen: {:?}",
            coverage.seen
        );
    }
}

#[test]
fn generated_traces_shard_0() {
    run_generated(0);
}

#[test]
fn generated_traces_shard_1() {
    run_generated(1);
}

#[test]
fn recorded_traces() {
    let dirs = [traces::recorded_dir(), Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/traces")];
    let guest = guest();
    let check_expectations = std::env::var("SK_PARITY_CHECK_EXPECT").is_ok_and(|v| v == "1");
    let mut stats = ReplayStats::default();
    for dir in &dirs {
        let loaded = traces::load_dir(dir).unwrap_or_else(|e| panic!("{e}"));
        for trace in &loaded {
            assert!(!trace.steps.is_empty(), "{} in {} has no steps", trace.name, dir.display());
            match replay_trace(&guest, trace, check_expectations) {
                Ok(s) => stats += s,
                Err(failure) => {
                    panic!("{}", report(&failure, "cargo test -p sessionkeeper-tests --test parity recorded"))
                }
            }
        }
        eprintln!("parity: {} traces from {}", loaded.len(), dir.display());
    }
    eprintln!(
        "parity recorded: {} traces, {} steps ({} unparsed), {} KB compared",
        stats.traces,
        stats.steps,
        stats.unparsed_steps,
        stats.bytes / 1_000
    );
    assert!(stats.traces > 0 && stats.steps > 0, "no recorded trace was compared");
}

#[test]
fn the_wasm_side_really_runs_the_core() {
    // Guard against a vacuous comparison: the guest's answers carry real keeper output.
    let guest = guest();
    let mut wasm = guest.instantiate().unwrap();
    let (native, started) = sessionkeeper_parity_guest::Driver::start("{}");
    assert_eq!(started, wasm.start("{}").unwrap());
    let mut native = native.unwrap();
    let add = r#"{"now":1000,"input":{"type":"addSession","sessionId":"a"}}"#;
    let qr = r#"{"now":1001,"input":{"type":"connectionUpdate","sessionId":"a","update":{"qr":"2@x"}}}"#;
    assert_eq!(native.step(add), wasm.step(add).unwrap());
    let answer = wasm.step(qr).unwrap();
    assert_eq!(native.step(qr), answer);
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(v["result"]["ack"]["type"], "accepted", "{answer}");
    let outputs = v["outputs"].as_array().unwrap();
    let delivers = |path: &str| outputs.iter().any(|o| o["type"] == "deliver" && o["path"] == path);
    assert!(delivers("/status") || delivers("/qr"), "{answer}");
    assert_eq!(v["sessions"]["pendingCount"], 1, "{answer}");
    assert_eq!(v["qrs"]["a"], "2@x", "{answer}");
    // And a different step gives a different answer.
    let other = r#"{"now":1002,"input":{"type":"addSession","sessionId":"b"}}"#;
    let removed = r#"{"now":1002,"input":{"type":"removeSession","sessionId":"a"}}"#;
    assert_ne!(native.step(other), wasm.step(removed).unwrap());
}
