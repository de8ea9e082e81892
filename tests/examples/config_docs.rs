//! Writes the parts of the npm package generated from the core's one key list
//! (`Config::KEYS`): the `KeeperConfig` interface in `wasm-pkg/src/types.d.ts` and the table of
//! core options in `js-shim/README.md`, each between its markers. `--check` writes nothing and
//! fails when either is stale (the test command runs it).
//!
//! `cargo run -p sessionkeeper-tests --example config_docs [-- --check]`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sessionkeeper_core::Config;

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
