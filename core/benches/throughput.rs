//! Events per second through `handle` + drain at 1k, 10k and 100k sessions, and heap bytes of
//! state per idle session.
//!
//! `cargo bench -p sessionkeeper-core --bench throughput`
//!
//! The event mix is what a gateway sends: Baileys QR refreshes (coalescing), connecting / open /
//! transient closes, and the backend's answers to every delivery the keeper asks for. Two
//! operating points:
//!
//! - `steady`: the backend keeps up (`syncSpacing` 0, 64 in flight, every delivery answered 200
//!   at once), so about half the events are delivery results. The normal case, and the one the
//!   1 M events/s target is about.
//! - `backlog`: the seed's pacing (one send per 400 ms) against 64 events per virtual ms, so
//!   almost nothing leaves and every session's statuses pile up in its lane (about 12 queued
//!   per session by the end): an overload or outage, the worst case for memory traffic.

// The bench measures wall time; the purity rules bind the core library, not its bench.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sessionkeeper_core::{Config, ConnectionUpdate, DeliveryOutcome, Input, Keeper, Output};

/// Counts live heap bytes so the bench can report state size per session.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const T0: u64 = 1_700_000_000_000;

fn id(i: usize) -> String {
    format!("user-{i:06}")
}

/// The backend keeps up (`true`) or the seed's pacing lets almost nothing out (`false`).
fn keeper_with(n: usize, steady: bool) -> Keeper {
    // Timeouts far away so the fleet stays put while the bench runs.
    let mut config = Config {
        pending_session_timeout: 3_600_000_000,
        inactive_session_timeout: 3_600_000_000,
        max_qr_codes: 1_000,
        max_queue_size: 1_000_000,
        ..Config::default()
    };
    if steady {
        config.sync_spacing = 0;
        config.max_concurrent_messages = 64;
    }
    let mut k = Keeper::new(config).unwrap();
    for i in 0..n {
        k.handle(T0, Input::AddSession { session_id: id(i), meta: None }).unwrap();
    }
    while k.poll_output().is_some() {}
    k
}

/// One round of the event mix over `n` sessions, `events` events long.
fn events(n: usize, events: usize) -> Vec<Input> {
    let updates: Vec<ConnectionUpdate> = [
        r#"{"connection":"connecting"}"#,
        r#"{"qr":"2@Qm9ndXMgcXIgY29kZSBmb3IgdGhlIGJlbmNo,abcdefghijklmnop,qrstuvwxyz0123456789"}"#,
        r#"{"qr":"2@U2Vjb25kIHFyIGNvZGUgZm9yIHRoZSBiZW5jaA,abcdefghijklmnop,qrstuvwxyz0123456789"}"#,
        r#"{"connection":"open"}"#,
        r#"{"connection":"close","lastDisconnect":{"error":{"message":"x","output":{"statusCode":428}}}}"#,
    ]
    .iter()
    .map(|s| serde_json::from_str(s).unwrap())
    .collect();
    (0..events)
        .map(|k| {
            // A stride co-prime with n spreads consecutive events over the fleet.
            let session = (k * 7_919) % n;
            let update = updates[(k / n + session) % updates.len()].clone();
            Input::ConnectionUpdate { session_id: id(session), update }
        })
        .collect()
}

/// Feeds the events, answering every delivery with a 200, and returns events handled.
fn run(k: &mut Keeper, inputs: Vec<Input>, start: u64) -> u64 {
    let mut handled = 0u64;
    let mut now = start;
    let mut answers = Vec::new();
    for (i, input) in inputs.into_iter().enumerate() {
        if i % 64 == 0 {
            now += 1; // 64 events per virtual millisecond
        }
        let _ = k.handle(now, input);
        handled += 1;
        while let Some(o) = k.poll_output() {
            if let Output::Deliver(d) = o {
                answers.push(d.delivery_id);
            }
        }
        // A result can dispatch more (a QR that waited for its session's status): answer those too.
        while let Some(delivery_id) = answers.pop() {
            let outcome = DeliveryOutcome::Response { status: 200, retry_after: None };
            let _ = k.handle(now, Input::DeliveryResult { delivery_id, outcome });
            handled += 1;
            while let Some(o) = k.poll_output() {
                if let Output::Deliver(d) = o {
                    answers.push(d.delivery_id);
                }
            }
        }
        if k.poll_timeout().is_some_and(|t| t <= now) {
            k.handle_timeout(now);
        }
    }
    handled
}

fn bench_events(c: &mut Criterion) {
    for (name, steady) in [("steady", true), ("backlog", false)] {
        bench_mode(c, name, steady);
    }
}

fn bench_mode(c: &mut Criterion, name: &str, steady: bool) {
    let mut group = c.benchmark_group(name);
    group.measurement_time(Duration::from_secs(5)).sample_size(10);
    for n in [1_000usize, 10_000, 100_000] {
        let inputs = events(n, 200_000);
        let fleet = keeper_with(n, steady);
        // Throughput counts every input handled: the updates plus the delivery results they
        // lead to (counted by a dry run, the same every round).
        let handled = run(&mut fleet.clone(), inputs.clone(), T0 + 1);
        println!(
            "{name}/{n}: {} updates + {} delivery results per round",
            inputs.len(),
            handled - inputs.len() as u64
        );
        group.throughput(Throughput::Elements(handled));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // A fresh fleet each round: the backlog of one round does not leak into the next.
                    let mut k = fleet.clone();
                    // Inputs are built by the caller (decoding a request); only handle + drain
                    // is timed.
                    let batch = inputs.clone();
                    let started = Instant::now();
                    let handled = run(&mut k, batch, T0 + 1);
                    total += started.elapsed();
                    std::hint::black_box(handled);
                }
                total
            })
        });
    }
    group.finish();
}

fn report_state_size(_: &mut Criterion) {
    for n in [1_000usize, 10_000, 100_000] {
        let before = LIVE.load(Ordering::Relaxed);
        let k = keeper_with(n, true);
        let after = LIVE.load(Ordering::Relaxed);
        let per_session = (after - before) as f64 / n as f64;
        println!("state: {n} idle sessions, {per_session:.0} heap bytes per session");
        drop(k);
    }
}

criterion_group!(benches, report_state_size, bench_events);
criterion_main!(benches);
