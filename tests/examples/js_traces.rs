//! Writes generated traces with the native core's answers as recorded-trace JSON lines, for
//! `tests/js-parity/replay.mjs` to replay through the shipped npm package (js-shim + its wasm).
//!
//! `cargo run -p sessionkeeper-tests --example js_traces -- <dir> [count] [seed]`

use std::io::Write as _;
use std::path::PathBuf;

use serde_json::{json, Value};
use sessionkeeper_parity_guest::Driver;
use sessionkeeper_tests::{SplitMix64, TraceGen};

const DEFAULT_SEED: u64 = 0x5e55_10e5_0000_2026;

/// The recorded-trace `result` of a driver answer: the ack, `{"error"}` for a refusal, `null`
/// for timeouts and peeks; `None` for a line the native side could not parse (its text is the
/// parser's and is not compared).
fn recorded_result(driver_result: &str) -> Option<Value> {
    let v: Value = serde_json::from_str(driver_result).expect("driver answers are JSON");
    if let Some(ack) = v.get("ack") {
        return Some(ack.clone());
    }
    if v.get("timeout").is_some() || v.get("peek").is_some() {
        return Some(Value::Null);
    }
    match v.get("kind").and_then(Value::as_str) {
        Some("input") | None => None,
        Some(_) => Some(json!({ "error": v["error"] })),
    }
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("usage: js_traces <dir> [count] [seed]"));
    let count: u64 = args.next().map_or(500, |c| c.parse().expect("count"));
    let seed: u64 = args.next().map_or(DEFAULT_SEED, |s| s.parse().expect("seed"));
    std::fs::create_dir_all(&dir)?;
    let mut written = 0;
    for index in 0..count {
        let trace_seed = SplitMix64::derive(seed, index);
        let (mut gen, config) = TraceGen::new(trace_seed, 20 + (trace_seed % 81) as usize);
        let (Some(mut driver), _) = Driver::start(&config) else { continue };
        let mut out = format!("{{\"config\":{config}}}\n");
        while let Some(line) = gen.next(&driver) {
            driver.step(&line);
            let mut step: Value = match serde_json::from_str(&line) {
                Ok(v @ Value::Object(_)) => v,
                _ => continue,
            };
            let mut expect = json!({
                "outputs": driver.last_outputs(),
                "pollTimeout": driver.keeper().poll_timeout(),
            });
            if let Some(result) = recorded_result(driver.last_result()) {
                expect["result"] = result;
            }
            step["expect"] = expect;
            out.push_str(&step.to_string());
            out.push('\n');
        }
        std::fs::File::create(dir.join(format!("generated-{index:05}.jsonl")))?.write_all(out.as_bytes())?;
        written += 1;
    }
    eprintln!("js_traces: {written} traces (seed {seed:#x}) in {}", dir.display());
    Ok(())
}
