//! Drives the native and the wasm driver side by side and compares every answer byte for byte.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sessionkeeper_parity_guest::Driver;

use crate::guest::{GuestError, GuestModule};

/// A trace: a name, a core config (JSON object) and its step lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// Where it came from (file name, or generator seed).
    pub name: String,
    /// Core config JSON object.
    pub config: String,
    /// One JSON step per line (see the guest crate's step protocol).
    pub steps: Vec<String>,
}

impl Trace {
    /// The trace in the `tests/traces` format: a header line `{"config": ...}`, then the steps.
    pub fn to_jsonl(&self) -> String {
        let mut out = format!("{{\"config\":{},\"name\":{}}}\n", self.config, serde_json::json!(self.name));
        for line in &self.steps {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// What a replay compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Traces replayed.
    pub traces: u64,
    /// Steps compared (config answers excluded).
    pub steps: u64,
    /// Answer bytes compared (both sides together).
    pub bytes: u64,
    /// Steps that were refused as steps or inputs (same answer on both sides, still compared).
    pub unparsed_steps: u64,
    /// Traces whose config the core refused (the refusals were compared).
    pub refused_configs: u64,
}

impl std::ops::AddAssign for ReplayStats {
    fn add_assign(&mut self, o: Self) {
        self.traces += o.traces;
        self.steps += o.steps;
        self.bytes += o.bytes;
        self.unparsed_steps += o.unparsed_steps;
        self.refused_configs += o.refused_configs;
    }
}

/// The first difference (or a panic, trap or broken invariant), with the trace up to there.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The trace up to and including the failing step.
    pub trace: Trace,
    /// The failing step's index (`None`: the config answer).
    pub step: Option<usize>,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = self.step.map_or("config".to_owned(), |s| format!("step {s}"));
        writeln!(f, "parity failure in trace `{}` at {at}: {}", self.trace.name, self.message)?;
        if let Some(line) = self.step.and_then(|s| self.trace.steps.get(s)) {
            writeln!(f, "  step line: {line}")?;
        }
        write!(f, "  config: {}", self.trace.config)
    }
}

impl Failure {
    /// Writes the trace to `dir/<name>.jsonl` so it can be replayed or kept as a regression.
    pub fn save(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let file: String =
            self.trace.name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let path = dir.join(format!("{file}.jsonl"));
        std::fs::write(&path, self.trace.to_jsonl())?;
        Ok(path)
    }
}

/// Replays one trace whose steps come from `next` (called with the native driver after each
/// step, so a generator can react to the outputs; `None` ends the trace). `check` may add its
/// own verdict on each (line, answer) once both sides agreed. Both sides include the snapshot
/// in every `snapshot_every`-th answer, and a final peek step compares the final snapshot.
pub fn replay(
    guest: &GuestModule,
    name: &str,
    config: &str,
    snapshot_every: u64,
    mut next: impl FnMut(&Driver) -> Option<String>,
    mut check: impl FnMut(&str, &str) -> Result<(), String>,
) -> Result<ReplayStats, Box<Failure>> {
    let mut trace = Trace { name: name.to_owned(), config: config.to_owned(), steps: Vec::new() };
    let fail = |trace: &Trace, step: Option<usize>, message: String| {
        Box::new(Failure { trace: trace.clone(), step, message })
    };
    let mut stats = ReplayStats { traces: 1, ..ReplayStats::default() };
    let mut wasm = guest.instantiate().map_err(|e| fail(&trace, None, e.to_string()))?;
    let (native, native_answer) = catch_unwind(|| Driver::start(config))
        .map_err(|p| fail(&trace, None, format!("native panic: {}", panic_message(&p))))?;
    let wasm_answer = wasm.start(config).map_err(|e| fail(&trace, None, describe_trap(e)))?;
    compare(&native_answer, &wasm_answer).map_err(|m| fail(&trace, None, m))?;
    stats.bytes += (native_answer.len() + wasm_answer.len()) as u64;
    let Some(mut native) = native else {
        stats.refused_configs += 1;
        return Ok(stats);
    };
    native.set_snapshot_every(snapshot_every);
    wasm.set_snapshot_every(snapshot_every).map_err(|e| fail(&trace, None, describe_trap(e)))?;
    let mut finished = false;
    loop {
        let line = match next(&native) {
            Some(line) => line,
            None if finished => break,
            None => {
                finished = true;
                format!("{{\"now\":{},\"peek\":true}}", native.keeper().now())
            }
        };
        let index = trace.steps.len();
        trace.steps.push(line);
        let line = &trace.steps[index];
        let native_answer = catch_unwind(AssertUnwindSafe(|| native.step(line)))
            .map_err(|p| fail(&trace, Some(index), format!("native panic: {}", panic_message(&p))))?;
        let wasm_answer = wasm.step(line).map_err(|e| fail(&trace, Some(index), describe_trap(e)))?;
        compare(&native_answer, &wasm_answer).map_err(|m| fail(&trace, Some(index), m))?;
        check_invariants(&native).map_err(|m| fail(&trace, Some(index), m))?;
        check(line, &wasm_answer).map_err(|m| fail(&trace, Some(index), m))?;
        stats.steps += 1;
        stats.bytes += (native_answer.len() + wasm_answer.len()) as u64;
        if native_answer.contains("\"rejected\":") || native_answer.contains("\"kind\":\"input\"") {
            stats.unparsed_steps += 1;
        }
    }
    Ok(stats)
}

/// Replays a recorded trace. With `check_expectations`, a step line's `expect` (`result`,
/// `outputs`, `pollTimeout`, as the core's own trace test records them) must also match what the
/// wasm side answered (off by default: `core/tests/traces.rs` already holds native to the
/// recording, and parity then implies wasm does too).
pub fn replay_trace(
    guest: &GuestModule,
    trace: &Trace,
    check_expectations: bool,
) -> Result<ReplayStats, Box<Failure>> {
    let mut lines = trace.steps.iter();
    let check =
        |line: &str, answer: &str| if check_expectations { check_expect(line, answer) } else { Ok(()) };
    replay(guest, &trace.name, &trace.config, 1, |_| lines.next().cloned(), check)
}

/// Compares a recorded step's `expect` with an answer (keys absent from `expect` are not checked).
pub fn check_expect(line: &str, answer: &str) -> Result<(), String> {
    let Ok(line) = serde_json::from_str::<Value>(line) else { return Ok(()) };
    let Some(expect) = line.get("expect").and_then(Value::as_object) else { return Ok(()) };
    let answer: Value = serde_json::from_str(answer).map_err(|e| format!("answer is not JSON: {e}"))?;
    let result = &answer["result"];
    let got_result = match (result.get("ack"), result.get("error")) {
        (Some(ack), _) => ack.clone(),
        (None, Some(error)) => json!({ "error": error }),
        (None, None) => Value::Null,
    };
    for (key, expected) in expect {
        let got = match key.as_str() {
            "result" => &got_result,
            "outputs" => &answer["outputs"],
            "pollTimeout" => &answer["pollTimeout"],
            _ => continue,
        };
        if got != expected {
            return Err(format!(
                "`expect.{key}` differs from the recording\n  expected: {expected}\n  got:      {got}"
            ));
        }
    }
    Ok(())
}

/// Properties the native side must keep after every step (the wasm side then keeps them too).
fn check_invariants(driver: &Driver) -> Result<(), String> {
    let k = driver.keeper();
    if let Some(deadline) = k.poll_timeout() {
        // At `now == u64::MAX` there is no later instant: deadlines saturate to `now`.
        if deadline <= k.now() && k.now() != u64::MAX {
            return Err(format!("poll_timeout {deadline} is not after the last now {}", k.now()));
        }
    }
    let queue = k.health(k.now()).queue;
    if !queue.conservation_ok {
        return Err(format!("queue counters do not balance: {queue:?}"));
    }
    Ok(())
}

fn compare(native: &str, wasm: &str) -> Result<(), String> {
    if native == wasm {
        return Ok(());
    }
    let at =
        native.bytes().zip(wasm.bytes()).position(|(a, b)| a != b).unwrap_or(native.len().min(wasm.len()));
    let window = |s: &str| {
        let lo = floor_char(s, at.saturating_sub(120));
        let hi = floor_char(s, (at + 120).min(s.len()));
        s[lo..hi].to_owned()
    };
    Err(format!(
        "answers differ at byte {at} (native {} bytes, wasm {} bytes)\n  native: …{}…\n  wasm:   …{}…",
        native.len(),
        wasm.len(),
        window(native),
        window(wasm)
    ))
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn describe_trap(e: GuestError) -> String {
    format!("the wasm side failed (a panic inside the guest is a trap): {e}")
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(non-string panic)".into())
}
