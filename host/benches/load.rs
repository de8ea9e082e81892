//! Load benchmark (not a test): N simulated sessions post Baileys `connection.update` events to
//! a running `sessionkeeper` (the release binary, its own process) over loopback while a fake
//! backend in this process answers 200. Reports sustained events/s, API p50/p99 latency,
//! backend deliveries/s and the host's resident memory, then runs the same steady load against
//! a bare axum service that only parses the JSON ([`reference`], its own process too) and
//! prints both side by side: p50/p99/p99.9 and requests/s, and the host's share of the
//! reference's requests/s.
//!
//! ```sh
//! cargo bench -p sessionkeeper-host --bench load -- --sessions 1000,10000 --seconds 10 --connections 32
//! ```
//!
//! Traffic stays on 127.0.0.1; every loop is bounded in time and the host is stopped at the end.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;

mod reference;
#[path = "shared/mod.rs"]
mod shared;
use shared::{announced_address, pct, rss_kib, spawn_host};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;

struct Options {
    sessions: Vec<usize>,
    seconds: u64,
    connections: usize,
    /// Extra `--set key=value` settings for the host, after the benchmark's own.
    host_set: Vec<String>,
}

fn options() -> Options {
    let mut o = Options { sessions: vec![1_000, 10_000], seconds: 10, connections: 32, host_set: Vec::new() };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--sessions" => {
                o.sessions = value.split(',').map(|s| s.trim().parse().expect("--sessions")).collect()
            }
            "--seconds" => o.seconds = value.parse().expect("--seconds"),
            "--connections" => o.connections = value.parse().expect("--connections"),
            "--host-set" => o.host_set.push(value),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

/// The events of one session, in order: a QR episode, a scan, the 515 restart, then a
/// steady loop of transient drops (428) and reconnects.
fn event(step: u64, id: &str) -> String {
    const LOOP_START: u64 = 8;
    let step = if step < LOOP_START { step } else { LOOP_START + (step - LOOP_START) % 3 };
    match step {
        0 => r#"{"connection":"connecting"}"#.to_owned(),
        1..=3 => format!(r#"{{"qr":"2@{id}-{step}-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=,CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC=,DDDDDDDDDDDDDDDDDDDD="}}"#),
        4 => r#"{"isNewLogin":true}"#.to_owned(),
        5 => r#"{"connection":"close","lastDisconnect":{"error":{"message":"restart required","output":{"statusCode":515}}}}"#.to_owned(),
        6 => r#"{"connection":"connecting"}"#.to_owned(),
        7 => r#"{"connection":"open"}"#.to_owned(),
        8 => r#"{"connection":"close","lastDisconnect":{"error":{"message":"Connection Closed","output":{"statusCode":428}}}}"#.to_owned(),
        9 => r#"{"connection":"connecting"}"#.to_owned(),
        _ => r#"{"connection":"open"}"#.to_owned(),
    }
}

/// A minimal HTTP/1.1 keep-alive client (the generator must cost little next to the host).
struct Conn {
    stream: BufStream<TcpStream>,
    line: String,
    body: Vec<u8>,
}

impl Conn {
    async fn open(addr: &str) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect to the host");
        stream.set_nodelay(true).unwrap();
        Self { stream: BufStream::new(stream), line: String::new(), body: Vec::new() }
    }

    async fn post(&mut self, path: &str, body: &str) -> u16 {
        self.request("POST", path, body).await
    }

    async fn request(&mut self, method: &str, path: &str, body: &str) -> u16 {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.stream.write_all(head.as_bytes()).await.unwrap();
        self.stream.write_all(body.as_bytes()).await.unwrap();
        self.stream.flush().await.unwrap();
        self.line.clear();
        self.stream.read_line(&mut self.line).await.unwrap();
        let status: u16 =
            self.line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status line");
        let mut length = 0usize;
        loop {
            self.line.clear();
            self.stream.read_line(&mut self.line).await.unwrap();
            let l = self.line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap();
                }
            }
        }
        self.body.resize(length, 0);
        self.stream.read_exact(&mut self.body).await.unwrap();
        status
    }
}

#[derive(Clone, Copy)]
enum Phase {
    Login,
    Steady(Instant),
}

struct Outcome {
    latencies: Vec<u32>,
    errors: u64,
    elapsed: f64,
    deliveries: u64,
}

/// Each connection walks its sessions round-robin through their events.
async fn drive(addr: &str, sessions: usize, conns: usize, phase: Phase, delivered: &AtomicU64) -> Outcome {
    let delivered_before = delivered.load(Relaxed);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..conns {
        let addr = addr.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&addr).await;
            let mine: Vec<String> = (c..sessions).step_by(conns).map(|i| format!("user-{i}")).collect();
            let paths: Vec<String> = mine.iter().map(|id| format!("/sessions/{id}/events")).collect();
            let mut latencies = Vec::with_capacity(1 << 16);
            let mut errors = 0u64;
            let mut one = |latency: Duration, status: u16| {
                latencies.push(latency.as_micros() as u32);
                if status != 200 {
                    errors += 1;
                }
            };
            match phase {
                Phase::Login => {
                    for step in 0..8 {
                        for k in 0..mine.len() {
                            let t = Instant::now();
                            let status = conn.post(&paths[k], &event(step, &mine[k])).await;
                            one(t.elapsed(), status);
                        }
                    }
                }
                Phase::Steady(deadline) => {
                    let mut step = 8;
                    let mut k = 0;
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        let status = conn.post(&paths[k], &event(step, &mine[k])).await;
                        one(t.elapsed(), status);
                        k += 1;
                        if k == mine.len() {
                            k = 0;
                            step += 1;
                        }
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    latencies.sort_unstable();
    let elapsed = started.elapsed().as_secs_f64();
    Outcome { latencies, errors, elapsed, deliveries: delivered.load(Relaxed) - delivered_before }
}

fn report(phase: &str, sessions: usize, conns: usize, o: &Outcome, pid: u32) {
    let l = &o.latencies;
    let pct = |p: f64| pct(l, p);
    let (rss, hwm) = rss_kib(pid);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?").to_owned();
    println!(
        "{phase} sessions={sessions:>6} conns={conns} | {} events in {:.1}s = {:>6.0} events/s | API p50={:.2}ms \
         p99={:.2}ms p99.9={:.2}ms max={:.1}ms | non-2xx={} | backend deliveries {:.0}/s | host RSS {:.1} MB (peak {:.1} MB) | machine load {load}",
        l.len(),
        o.elapsed,
        l.len() as f64 / o.elapsed,
        pct(0.50),
        pct(0.99),
        pct(0.999),
        *l.last().unwrap() as f64 / 1000.0,
        o.errors,
        o.deliveries as f64 / o.elapsed,
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
    );
}

/// Polls `/health` until the queue is empty (at most 120 s).
async fn wait_drained(addr: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut conn = Conn::open(addr).await;
    while Instant::now() < deadline {
        conn.request("GET", "/health", "").await;
        let health: serde_json::Value = serde_json::from_slice(&conn.body).unwrap();
        if health["queue"]["depth"] == 0 && health["queue"]["inFlight"] == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn run(sessions: usize, o: &Options, backend_url: &str, delivered: &AtomicU64) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings: Vec<String> = [
        "syncSpacing=0",
        "maxConcurrentMessages=64",
        "maxQueueSize=100000",
        "maxConcurrentReconnects=100000",
    ]
    .map(String::from)
    .to_vec();
    settings.extend(o.host_set.iter().cloned());
    let (mut child, addr) = spawn_host(dir.path(), backend_url, &settings, "warn");
    let pid = child.id();
    let conns = o.connections.min(sessions);

    // Set-up: add every session.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..conns {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&addr).await;
            for i in (c..sessions).step_by(conns) {
                let status = conn.post("/sessions", &format!(r#"{{"sessionId":"user-{i}"}}"#)).await;
                assert_eq!(status, 201);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!("        added {sessions} sessions in {:.2}s", started.elapsed().as_secs_f64());

    // Phase 1 (login): every session connects, shows 3 QRs, is scanned, restarts (515) and
    // opens: 8 events each, QR images rendered for the backend.
    let login = drive(&addr, sessions, conns, Phase::Login, delivered).await;
    report("login ", sessions, conns, &login, pid);
    let drain_started = Instant::now();
    let drained = wait_drained(&addr).await;
    println!(
        "        queue drained {} in {:.2}s after the login phase",
        if drained { "completely" } else { "NOT" },
        drain_started.elapsed().as_secs_f64()
    );
    // Phase 2 (steady): for `seconds`, sessions drop (428), reconnect and open again.
    let steady = drive(
        &addr,
        sessions,
        conns,
        Phase::Steady(Instant::now() + Duration::from_secs(o.seconds)),
        delivered,
    )
    .await;
    report("steady", sessions, conns, &steady, pid);
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let _ = child.wait();

    // The same steady load against the reference service.
    let (mut reference, raddr) = spawn_reference();
    let ignored = AtomicU64::new(0);
    let base = drive(
        &raddr,
        sessions,
        conns,
        Phase::Steady(Instant::now() + Duration::from_secs(o.seconds)),
        &ignored,
    )
    .await;
    let _ = reference.kill();
    let _ = reference.wait();
    let rate = |o: &Outcome| o.latencies.len() as f64 / o.elapsed;
    let line = |name: &str, o: &Outcome| {
        println!(
            "        {name:<9} {:>7.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  p99.9 {:>6.2} ms",
            rate(o),
            pct(&o.latencies, 0.50),
            pct(&o.latencies, 0.99),
            pct(&o.latencies, 0.999)
        )
    };
    println!("        side by side, steady phase, {sessions} sessions, {conns} connections:");
    line("host", &steady);
    line("reference", &base);
    println!(
        "        host/reference requests/s = {:.2} (target >= 0.5); host p99 {:.2} ms (target < 10 ms)",
        rate(&steady) / rate(&base),
        pct(&steady.latencies, 0.99)
    );
}

/// This benchmark's own executable, started again as the reference service.
fn spawn_reference() -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--serve-reference")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the reference service");
    let addr = announced_address(&mut child);
    (child, addr)
}

fn main() {
    if std::env::args().any(|a| a == "--serve-reference") {
        return reference::serve();
    }
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let delivered = Arc::new(AtomicU64::new(0));
        let counter = delivered.clone();
        let backend = Router::new().fallback(move || {
            counter.fetch_add(1, Relaxed);
            async { "{}" }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let backend_url = format!("http://{}/api", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, backend).await });
        println!(
            "load: {} s per run, {} connections, {} cores, host = release binary in its own process",
            o.seconds,
            o.connections,
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        );
        for &n in &o.sessions {
            run(n, &o, &backend_url, &delivered).await;
        }
    });
}
