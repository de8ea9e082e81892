//! Recorded traces: JSON lines, an optional header object first, then one step per line.
//!
//! Header: any object without `now`; its `config` (if any) is the core config, with keys the
//! core does not know (host-only ones such as `port`, `laravelApiUrl`, `apiKey`) removed.
//! Steps: `{"now": u64, "input": <Input JSON>}` (other step kinds: see the guest crate). Lines
//! are passed to both sides unchanged; blank lines are skipped.

use std::path::{Path, PathBuf};

use sessionkeeper_core::Config;

use crate::replay::Trace;

/// Why a trace file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The header is not a JSON object.
    #[error("{path}: bad header: {message}")]
    Header {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The folder the lead's recorded traces live in.
pub fn recorded_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("traces")
}

/// Every `*.jsonl` / `*.ndjson` file under `dir` (recursively, sorted by path; authoring sources
/// such as `src/*.json` are not traces); an absent folder gives no traces.
pub fn load_dir(dir: &Path) -> Result<Vec<Trace>, TraceError> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    files.iter().map(|f| load_file(f)).collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), TraceError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(TraceError::Io { path: dir.to_owned(), source }),
    };
    for entry in entries {
        let path = entry.map_err(|source| TraceError::Io { path: dir.to_owned(), source })?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("jsonl" | "ndjson")) {
            files.push(path);
        }
    }
    Ok(())
}

/// Reads one trace file.
pub fn load_file(path: &Path) -> Result<Trace, TraceError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| TraceError::Io { path: path.to_owned(), source })?;
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into());
    parse(&name, &text).map_err(|message| TraceError::Header { path: path.to_owned(), message })
}

/// Parses a trace's text.
pub fn parse(name: &str, text: &str) -> Result<Trace, String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty()).peekable();
    let mut config = "{}".to_owned();
    if let Some(first) = lines.peek() {
        let value: serde_json::Value = serde_json::from_str(first).map_err(|e| e.to_string())?;
        if value.get("now").is_none() {
            let header = value.as_object().ok_or("the first line is neither a header object nor a step")?;
            if let Some(c) = header.get("config") {
                config = core_config(c)?;
            }
            lines.next();
        }
    }
    Ok(Trace { name: name.to_owned(), config, steps: lines.map(str::to_owned).collect() })
}

/// A header's config reduced to the keys the core knows.
pub fn core_config(value: &serde_json::Value) -> Result<String, String> {
    let map = value.as_object().ok_or("`config` must be an object")?;
    let kept: serde_json::Map<String, serde_json::Value> = map
        .iter()
        .filter(|(k, _)| Config::key_names().any(|name| name == k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(serde_json::Value::Object(kept).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_optional_and_host_keys_are_dropped() {
        let t = parse(
            "x",
            "{\"config\":{\"port\":4000,\"syncSpacing\":100,\"apiKey\":\"k\"}}\n\n{\"now\":1,\"input\":{\"type\":\"restarted\"}}\n",
        )
        .unwrap();
        assert_eq!(t.config, r#"{"syncSpacing":100}"#);
        assert_eq!(t.steps.len(), 1);
        let t = parse("y", "{\"now\":1,\"timeout\":true}\n{\"now\":2,\"timeout\":true}").unwrap();
        assert_eq!((t.config.as_str(), t.steps.len()), ("{}", 2));
        assert!(parse("z", "[1]").is_err());
    }

    #[test]
    fn missing_folder_has_no_traces() {
        assert!(load_dir(Path::new("/nonexistent/parity/traces")).unwrap().is_empty());
    }
}
