//! What the benchmarks share: starting the release binary, reading its memory, percentiles.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts `sessionkeeper serve` on port 0 with these `--set key=value` settings, logging at
/// `log` (`RUST_LOG`); returns the process and its address (from its first stdout line).
pub fn spawn_host(
    data_dir: &std::path::Path,
    backend: &str,
    settings: &[String],
    log: &str,
) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sessionkeeper"))
        .args(["serve", "--port", "0", "--laravel-api-url", backend, "--data-dir"])
        .arg(data_dir)
        .args(settings.iter().flat_map(|kv| ["--set", kv.as_str()]))
        .env("RUST_LOG", log)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the host");
    let addr = announced_address(&mut child);
    (child, addr)
}

/// The `host:port` a started service prints on its first stdout line (`... http://ADDR`).
pub fn announced_address(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    line.split("http://").nth(1).and_then(|s| s.split_whitespace().next()).expect(&line).to_owned()
}

/// Resident and peak resident memory of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The `p` quantile of sorted latencies in µs, in ms.
pub fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)] as f64 / 1000.0
}
