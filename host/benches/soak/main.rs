//! Soak benchmark (not a test): the release binary, its own process, under a steady stream of
//! Baileys `connection.update` events while its backend flaps on a seeded schedule (outages
//! that refuse and cut connections, 503 and hanging windows, 429 bursts, slow windows, one
//! 1 GB answer) and idle and slowloris connections sit on its port. Prints, per minute, the
//! events/s, API p99, host RSS, breaker state and queue depth; at the end the backend
//! recovers, the queue drains and the run checks that nothing acknowledged was lost. Exits 1
//! when a check fails, so a short run can guard the test command.
//!
//! ```sh
//! cargo bench -p sessionkeeper-host --bench soak -- --minutes 30 --rate 300 --seed 1
//! ```

mod backend;
mod incidents;
#[path = "../shared/mod.rs"]
mod shared;
mod squatters;

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backend::Backend;
use serde_json::Value;
use shared::{pct, rss_kib, spawn_host};

struct Options {
    minutes: f64,
    sessions: usize,
    rate: u64,
    seed: u64,
    idle: usize,
    slowloris: usize,
}

fn options() -> Options {
    let mut o = Options { minutes: 30.0, sessions: 300, rate: 300, seed: 1, idle: 100, slowloris: 20 };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--minutes" => o.minutes = v.parse().expect("--minutes"),
            "--sessions" => o.sessions = v.parse().expect("--sessions"),
            "--rate" => o.rate = v.parse().expect("--rate"),
            "--seed" => o.seed = v.parse().expect("--seed"),
            "--idle" => o.idle = v.parse().expect("--idle"),
            "--slowloris" => o.slowloris = v.parse().expect("--slowloris"),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

/// The events of one session: connecting, three QRs, open, then drops (428) and reconnects.
fn event(step: u64, id: &str) -> (Value, Expect) {
    const LOOP: u64 = 5;
    let step = if step < LOOP { step } else { LOOP + (step - LOOP) % 3 };
    match step {
        0 => (serde_json::json!({"connection": "connecting"}), Expect::Nothing),
        1..=3 => (
            serde_json::json!({"qr": format!("2@{id}-{step}-AAAAAAAAAAAAAAAAAAAAAAAAAAAA,BBBB=,CCCC=,DDDD=")}),
            Expect::Pending,
        ),
        4 | 7 => (serde_json::json!({"connection": "open"}), Expect::Connected),
        5 => (
            serde_json::json!({"connection": "close", "lastDisconnect": {"error": {"message": "Connection Closed", "output": {"statusCode": 428}}}}),
            Expect::Disconnected,
        ),
        _ => (serde_json::json!({"connection": "connecting"}), Expect::Disconnected),
    }
}

/// The backend status a session's last acknowledged event leads to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Nothing,
    Pending,
    Connected,
    Disconnected,
}

impl Expect {
    fn status(self) -> Option<&'static str> {
        match self {
            Self::Nothing => None,
            Self::Pending => Some("pending"),
            Self::Connected => Some("connected"),
            Self::Disconnected => Some("disconnected"),
        }
    }
}

#[derive(Default)]
struct Tally {
    acked: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    /// API latencies (µs) of the current minute.
    minute: Mutex<Vec<u32>>,
    /// Every latency (µs).
    all: Mutex<Vec<u32>>,
    /// Per session: the last acknowledged event's expectation.
    last: Mutex<HashMap<String, Expect>>,
}

fn rss_mb(pid: u32) -> f64 {
    rss_kib(pid).0 as f64 / 1024.0
}

async fn health(client: &reqwest::Client, base: &str) -> Value {
    match client.get(format!("{base}/health")).send().await {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => Value::Null,
    }
}

/// Each worker walks its sessions round-robin, one event per tick.
async fn generate(base: String, ids: Vec<String>, per_second: f64, until: Instant, tally: Arc<Tally>) {
    let client = reqwest::Client::new();
    let mut steps = vec![0u64; ids.len()];
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut k = 0;
    while Instant::now() < until {
        tick.tick().await;
        let (update, expect) = event(steps[k], &ids[k]);
        let t = Instant::now();
        let sent = client.post(format!("{base}/sessions/{}/events", ids[k])).json(&update).send().await;
        let micros = t.elapsed().as_micros() as u32;
        match sent.map(|r| r.status().as_u16()) {
            Ok(200) => {
                tally.acked.fetch_add(1, Relaxed);
                if expect != Expect::Nothing {
                    tally.last.lock().unwrap().insert(ids[k].clone(), expect);
                }
                steps[k] += 1;
            }
            Ok(s) if s < 500 => {
                tally.refused.fetch_add(1, Relaxed);
                steps[k] += 1;
            }
            _ => {
                tally.failed.fetch_add(1, Relaxed);
            }
        }
        tally.minute.lock().unwrap().push(micros);
        tally.all.lock().unwrap().push(micros);
        k = (k + 1) % ids.len();
    }
}

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let ok = runtime.block_on(run(o));
    std::process::exit(if ok { 0 } else { 1 });
}

async fn run(o: Options) -> bool {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    // The breaker waits `circuitBreakerResetTimeout` before probing a backend that came back:
    // 10 s rather than the default 180 s, so that each recovery takes seconds, not minutes.
    let settings = [
        "syncSpacing=5",
        "maxConcurrentMessages=16",
        "requestTimeout=2000",
        "circuitBreakerResetTimeout=10000",
    ]
    .map(String::from);
    let (mut child, addr) = spawn_host(dir.path(), &backend.url, &settings, "error");
    let pid = child.id();
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let run_for = Duration::from_secs_f64(o.minutes * 60.0);
    println!(
        "soak: {:.1} min, {} sessions, {} events/s, seed {}, {} idle + {} slowloris connections, host pid {pid}",
        o.minutes, o.sessions, o.rate, o.seed, o.idle, o.slowloris
    );
    let ids: Vec<String> = (0..o.sessions).map(|i| format!("soak-{i}")).collect();
    for id in &ids {
        let r =
            client.post(format!("{base}/sessions")).json(&serde_json::json!({"sessionId": id})).send().await;
        assert_eq!(r.map(|r| r.status().as_u16()).ok(), Some(201), "add {id}");
    }

    let started = Instant::now();
    let until = started + run_for;
    let tally = Arc::new(Tally::default());
    let workers = 16.min(o.sessions);
    let mut tasks = Vec::new();
    for w in 0..workers {
        let mine: Vec<String> = ids.iter().skip(w).step_by(workers).cloned().collect();
        tasks.push(tokio::spawn(generate(
            base.clone(),
            mine,
            o.rate as f64 / workers as f64,
            until,
            tally.clone(),
        )));
    }
    let schedule = tokio::spawn(incidents::run(backend.clone(), o.seed, run_for));
    let squat = squatters::Squatters::start(&addr, o.idle, o.slowloris);

    // One line per minute (or per 10 s on runs under 5 minutes).
    let every = if o.minutes < 5.0 { Duration::from_secs(10) } else { Duration::from_secs(60) };
    let mut rss = Vec::new();
    let mut next = started + every;
    let mut health_p = Vec::new();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let t = Instant::now();
        let h = health(&client, &base).await;
        health_p.push(t.elapsed().as_micros() as u32);
        rss.push(rss_mb(pid));
        if Instant::now() >= next || Instant::now() >= until {
            next += every;
            let mut minute = std::mem::take(&mut *tally.minute.lock().unwrap());
            minute.sort_unstable();
            println!(
                "  t={:>5.0}s {:>6.0} events/s p99 {:>7.2} ms | RSS {:>6.1} MB | breaker {:<9} trips {:>3} | queue {:>5} in flight {:>2} | backend {:?}",
                started.elapsed().as_secs_f64(),
                minute.len() as f64 / every.as_secs_f64(),
                pct(&minute, 0.99),
                rss_mb(pid),
                h["circuitBreaker"]["state"].as_str().unwrap_or("?"),
                h["circuitBreaker"]["trips"],
                h["queue"]["depth"],
                h["queue"]["inFlight"],
                incidents::now(),
            );
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    let schedule = schedule.await.unwrap();
    let evicted = squat.stop();

    // The backend is back for good: everything accepted must arrive.
    backend.set(backend::Mode::Ok);
    let drain_started = Instant::now();
    let mut h = Value::Null;
    while drain_started.elapsed() < Duration::from_secs(600) {
        h = health(&client, &base).await;
        if h["queue"]["depth"] == 0 && h["queue"]["inFlight"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drained_in = drain_started.elapsed().as_secs_f64();
    let metrics = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    let truncated = metrics
        .lines()
        .find(|l| l.starts_with("sessionkeeper_backend_answers_truncated_total"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or("?")
        .to_owned();
    let peak_rss = rss.iter().cloned().fold(0.0, f64::max);
    let final_rss = rss_mb(pid);
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let exit = child.wait().expect("the host's exit status");

    let mut all = std::mem::take(&mut *tally.all.lock().unwrap());
    all.sort_unstable();
    health_p.sort_unstable();
    let q = &h["queue"];
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let acked_items = backend.acked();
    let statuses = backend.statuses();
    println!("soak summary:");
    println!(
        "  events acknowledged {} refused {} failed {} | API p50 {:.2} ms p99 {:.2} ms p99.9 {:.2} ms max {:.1} ms | /health p99 {:.2} ms",
        tally.acked.load(Relaxed),
        tally.refused.load(Relaxed),
        tally.failed.load(Relaxed),
        pct(&all, 0.5),
        pct(&all, 0.99),
        pct(&all, 0.999),
        all.last().copied().unwrap_or(0) as f64 / 1000.0,
        pct(&health_p, 0.99),
    );
    println!(
        "  host RSS first {:.1} MB peak {:.1} MB last {:.1} MB | breaker trips {} | incidents {} | answers truncated {truncated} | squatter connections closed by the host {evicted}",
        rss.first().copied().unwrap_or(0.0),
        peak_rss,
        final_rss,
        h["circuitBreaker"]["trips"],
        schedule,
    );
    println!(
        "  queue accepted {} delivered {} superseded {} dead-lettered {} purged {} | backend acknowledged {} distinct items ({} requests) | drained {:.1} s after the load",
        n(&q["accepted"]),
        n(&q["delivered"]),
        n(&q["superseded"]),
        n(&q["deadLettered"]),
        n(&q["purged"]),
        acked_items.len(),
        backend.requests(),
        drained_in,
    );

    let mut failures = Vec::new();
    if h["queue"]["depth"] != 0 || h["queue"]["inFlight"] != 0 {
        failures.push(format!("queue not drained: {}", h["queue"]));
    }
    if q["conservationOk"] != true {
        failures.push("the queue's accounting does not balance".into());
    }
    if n(&q["deadLettered"]) != 0 {
        failures.push(format!(
            "{} items dead-lettered (no answer in this run says an item is bad)",
            n(&q["deadLettered"])
        ));
    }
    // An item answered 200 after the host gave up on it (a slow answer past the timeout) may
    // have been superseded since: the backend then holds it, the host counts it superseded.
    let (delivered, superseded) = (n(&q["delivered"]) as usize, n(&q["superseded"]) as usize);
    let purged = n(&q["purged"]) as usize;
    if acked_items.len() < delivered || acked_items.len() > delivered + superseded + purged {
        failures.push(format!(
            "the backend acknowledged {} items; the host counts {delivered} delivered, {superseded} superseded, {purged} purged",
            acked_items.len()
        ));
    }
    let mut wrong = Vec::new();
    for (session, expect) in tally.last.lock().unwrap().iter() {
        let got = statuses.get(session).and_then(|s| s.last()).map(|(_, s)| s.as_str());
        if got != expect.status() {
            wrong.push(format!(
                "{session}: last acknowledged event means {expect:?}, backend's last status {got:?}"
            ));
        }
    }
    for (session, seen) in &statuses {
        if seen.windows(2).any(|w| w[1].0 < w[0].0) {
            wrong.push(format!("{session}: statuses reached the backend out of order"));
        }
    }
    if !wrong.is_empty() {
        failures.push(format!("{} sessions wrong at the backend, e.g. {}", wrong.len(), wrong[0]));
    }
    if tally.acked.load(Relaxed) == 0 {
        failures.push("no event was acknowledged".into());
    }
    if tally.refused.load(Relaxed) != 0 {
        failures.push(format!("{} valid events refused (4xx)", tally.refused.load(Relaxed)));
    }
    if !exit.success() {
        failures.push(format!("the host stopped with {exit} after SIGTERM (its final snapshot failed?)"));
    }
    if tally.failed.load(Relaxed) != 0 {
        failures.push(format!("{} events got a 5xx or no answer from the host", tally.failed.load(Relaxed)));
    }
    if failures.is_empty() {
        println!("soak: ok (nothing acknowledged was lost)");
        true
    } else {
        for f in &failures {
            println!("soak: FAILED: {f}");
        }
        false
    }
}
