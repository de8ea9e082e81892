//! Replays the recorded traces under `tests/traces/*.jsonl` and checks every expected output.
//!
//! A trace is JSON lines: a header `{"config": {...}}`, then steps `{"now", "input"}` or
//! `{"now", "timeout": true}`, each with `"expect": {"result", "outputs", "pollTimeout"}`.
//! The authoring sources are `tests/traces/src/*.json`, where a step may say
//! `"answer": <DeliveryOutcome>` to answer the oldest unanswered delivery.
//! `SK_RECORD_TRACES=1 cargo test -p sessionkeeper-core --test traces` re-records the `.jsonl`.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sessionkeeper_core::{Config, Input, Keeper, Output};

fn traces_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/traces")
}

/// Runs one step and returns its expectation object.
fn step(keeper: &mut Keeper, now: u64, input: Option<Input>) -> Value {
    let result = match input {
        Some(input) => match keeper.handle(now, input) {
            Ok(ack) => serde_json::to_value(ack).unwrap(),
            Err(e) => json!({ "error": e.to_string() }),
        },
        None => {
            keeper.handle_timeout(now);
            Value::Null
        }
    };
    let mut outputs = Vec::new();
    while let Some(o) = keeper.poll_output() {
        outputs.push(serde_json::to_value(o).unwrap());
    }
    json!({ "result": result, "outputs": outputs, "pollTimeout": keeper.poll_timeout() })
}

/// Turns an authoring source into recorded trace lines.
fn record(source: &Value) -> Vec<Value> {
    let config = source["config"].clone();
    let mut keeper = Keeper::new(Config::from_value(config.clone()).unwrap()).unwrap();
    let mut unanswered: Vec<u64> = Vec::new();
    let mut lines = vec![json!({ "config": config })];
    for s in source["steps"].as_array().unwrap() {
        let now = s["now"].as_u64().unwrap();
        let input: Option<Value> = if let Some(outcome) = s.get("answer") {
            assert!(!unanswered.is_empty(), "answer with nothing in flight at {now}");
            Some(json!({ "type": "deliveryResult", "deliveryId": unanswered.remove(0), "outcome": outcome }))
        } else {
            s.get("input").cloned()
        };
        let parsed = input.clone().map(|i| serde_json::from_value::<Input>(i).unwrap());
        let expect = step(&mut keeper, now, parsed);
        for o in expect["outputs"].as_array().unwrap() {
            if o["type"] == "deliver" {
                unanswered.push(o["deliveryId"].as_u64().unwrap());
            }
        }
        let mut line = json!({ "now": now, "expect": expect });
        match input {
            Some(i) => line["input"] = i,
            None => line["timeout"] = json!(true),
        }
        lines.push(line);
    }
    lines
}

fn replay(lines: &[Value], name: &str) -> usize {
    let header = &lines[0];
    let mut keeper = Keeper::new(Config::from_value(header["config"].clone()).unwrap()).unwrap();
    let mut checked = 0;
    for (n, line) in lines[1..].iter().enumerate() {
        let now = line["now"].as_u64().unwrap();
        let input = line.get("input").map(|i| serde_json::from_value::<Input>(i.clone()).unwrap());
        let got = step(&mut keeper, now, input);
        assert_eq!(got, line["expect"], "{name}: step {} (line {}) differs", n + 1, n + 2);
        checked += 1;
    }
    // The replayed state also survives a snapshot round trip.
    let restored = Keeper::restore(&keeper.snapshot()).unwrap();
    assert_eq!(restored.snapshot(), keeper.snapshot());
    checked
}

fn sources() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(traces_dir().join("src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap())
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn recorded_traces_replay_identically() {
    let record_mode = std::env::var("SK_RECORD_TRACES").is_ok_and(|v| v == "1");
    let mut total = 0;
    for (name, source) in sources() {
        let path = traces_dir().join(format!("{name}.jsonl"));
        if record_mode {
            let text: String = record(&source).iter().map(|l| format!("{l}\n")).collect();
            std::fs::write(&path, text).unwrap();
        }
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (record with SK_RECORD_TRACES=1)", path.display()));
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        // The recording still matches its source.
        assert_eq!(lines, record(&source), "{name}: the .jsonl is out of date with src/{name}.json");
        total += replay(&lines, &name);
    }
    assert!(total >= 50, "only {total} steps replayed");
}

#[test]
fn traces_cover_the_important_outputs() {
    let mut kinds = std::collections::BTreeSet::new();
    for (_, source) in sources() {
        for line in record(&source) {
            for o in line["expect"]["outputs"].as_array().into_iter().flatten() {
                let kind = o["type"].as_str().unwrap().to_owned();
                let detail = o["command"].as_str().or(o["to"].as_str()).unwrap_or("");
                kinds.insert(format!("{kind}:{detail}"));
                // Every output deserialises back to the same value.
                let back: Output = serde_json::from_value(o.clone()).unwrap();
                assert_eq!(&serde_json::to_value(back).unwrap(), o);
            }
        }
    }
    for kind in [
        "deliver:",
        "command:close",
        "command:reconnect",
        "sessionChanged:",
        "breakerChanged:OPEN",
        "breakerChanged:HALF_OPEN",
        "breakerChanged:CLOSED",
        "deadLettered:",
    ] {
        assert!(kinds.contains(kind), "no {kind} in traces: {kinds:?}");
    }
}
