//! Writes the parts of the npm package generated from the core's lists: the `KeeperConfig`
//! interface in `wasm-pkg/src/types.d.ts` and the table of core options in `js-shim/README.md`
//! (from `Config::KEYS`), and the string-literal unions of reasons, states, commands and error
//! codes (from the core's enums), each between its markers. `--check` writes nothing and
//! fails when either is stale (the test command runs it).
//!
//! `cargo run -p sessionkeeper-tests --example config_docs [-- --check]`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sessionkeeper_core::{CommandKind, Config, KeeperError, Reason, SessionState, BREAKER_STATES};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `text` with what lies between the `start` and `end` marker lines replaced by `body`.
fn splice(text: &str, start: &str, end: &str, body: &str) -> Result<String, String> {
    let a = text.find(start).ok_or_else(|| format!("marker `{start}` missing"))?;
    let a = a + text[a..].find('\n').ok_or("marker line without newline")? + 1;
    let b = text[a..].find(end).ok_or_else(|| format!("marker `{end}` missing"))? + a;
    let b = text[..b].rfind('\n').map_or(b, |i| i + 1);
    Ok(format!("{}{body}{}", &text[..a], &text[b..]))
}

fn default_of(key: &str) -> String {
    let defaults = serde_json::to_value(Config::default()).expect("config serialises");
    match &defaults[key] {
        serde_json::Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

fn types() -> String {
    Config::KEYS
        .iter()
        .map(|k| {
            format!("  /** {} Default {}. */\n  {}?: {};\n", k.meaning, default_of(k.name), k.name, k.ts_type)
        })
        .collect()
}

/// A union of string literals, one per line, from the wire names of `values`.
fn union<T: serde::Serialize>(
    name: &str,
    doc: &str,
    values: impl IntoIterator<Item = T>,
    extra: &[&str],
) -> String {
    let mut out = format!("/** {doc} */\nexport type {name} =\n");
    for v in values {
        let wire = serde_json::to_value(v).expect("an enum serialises");
        out.push_str(&format!("  | {wire}\n"));
    }
    for e in extra {
        out.push_str(&format!("  | {e}\n"));
    }
    out.pop();
    out.push_str(";\n");
    out
}

fn enums() -> String {
    [
        union(
            "KnownReason",
            "Every reason the core gives by itself (`closed (<code>)` carries the Baileys code).",
            Reason::FIXED,
            &["`closed (${number})`"],
        ),
        "/** Why a session was closed, removed or reconnected: a `KnownReason`, or an operator's own words\n * (`removeSession(id, reason)`). */\nexport type Reason = KnownReason | (string & {});\n".to_owned(),
        union("SessionState", "A session's lifecycle state.", SessionState::ALL, &[]),
        union("BreakerState", "The circuit breaker's state.", BREAKER_STATES, &[]),
        union("CommandType", "What a `command` asks the gateway to do with a socket.", CommandKind::ALL, &[]),
        union("CoreErrorCode", "The `code` of an error the core refused an input with.", KeeperError::CODES, &[]),
    ]
    .join("")
}

fn table() -> String {
    let mut out = String::from("| option | default | meaning |\n| --- | --- | --- |\n");
    for k in Config::KEYS {
        out.push_str(&format!("| `{}` | {} | {} |\n", k.name, default_of(k.name), k.meaning));
    }
    out
}

fn main() -> ExitCode {
    let check = std::env::args().any(|a| a == "--check");
    let targets = [
        ("wasm-pkg/src/types.d.ts", "// config-keys:start", "// config-keys:end", types()),
        ("wasm-pkg/src/types.d.ts", "// enums:start", "// enums:end", enums()),
        ("js-shim/README.md", "<!-- config-keys:start -->", "<!-- config-keys:end -->", table()),
    ];
    let mut stale = Vec::new();
    for (file, start, end, body) in targets {
        let path = repo().join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let fresh = splice(&text, start, end, &body).unwrap_or_else(|e| panic!("{file}: {e}"));
        if fresh != text {
            if check {
                stale.push(file);
            } else {
                std::fs::write(&path, fresh).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                eprintln!("config_docs: wrote {file}");
            }
        }
    }
    if stale.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "config_docs: stale {stale:?}; run `cargo run -p sessionkeeper-tests --example config_docs`"
        );
        ExitCode::FAILURE
    }
}
