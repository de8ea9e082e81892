//! The driver: parses a step, applies it to a keeper and renders everything observable.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;
use sessionkeeper_core::{Config, Input, Keeper, KeeperError, Output};

/// One step of a trace, as written in a trace line.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Step {
    /// The caller's `now` (unix ms); may go backwards.
    pub now: u64,
    /// An input for `handle`.
    #[serde(default)]
    pub input: Option<serde_json::Value>,
    /// `handle_timeout(now)`.
    #[serde(default)]
    pub timeout: bool,
    /// Snapshot, restore, then `handle(now, Restarted)`.
    #[serde(default)]
    pub restart: bool,
    /// Views only.
    #[serde(default)]
    pub peek: bool,
}

/// What a [`Step`] asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// `handle(now, input)` with the raw input JSON.
    Input(serde_json::Value),
    /// `handle_timeout(now)`.
    Timeout,
    /// Snapshot, restore, `handle(now, Restarted)`.
    Restart,
    /// Views only.
    Peek,
}

impl Step {
    /// What the step asks for; `input` wins over the flags.
    pub fn kind(&self) -> StepKind {
        match &self.input {
            Some(input) => StepKind::Input(input.clone()),
            None if self.restart => StepKind::Restart,
            None if self.timeout => StepKind::Timeout,
            None => StepKind::Peek,
        }
    }
}

/// A keeper plus the outputs of its last step.
#[derive(Debug)]
pub struct Driver {
    keeper: Keeper,
    last_outputs: Vec<Output>,
    last_result: String,
    steps: u64,
    snapshot_every: u64,
}

impl Driver {
    /// Builds a keeper from a config JSON object. Returns the driver (if the config was accepted)
    /// and the answer to compare: `{"config": <the parsed config>}` or `{"error": ...}`.
    pub fn start(config_json: &str) -> (Option<Self>, String) {
        let config = match Config::from_json(config_json) {
            Ok(config) => config,
            Err(e) => return (None, error_json("config", &e.to_string())),
        };
        match Keeper::new(config) {
            Ok(keeper) => {
                let answer = format!("{{\"config\":{}}}", to_json(keeper.config()));
                let driver = Self {
                    keeper,
                    last_outputs: Vec::new(),
                    last_result: String::new(),
                    steps: 0,
                    snapshot_every: 1,
                };
                (Some(driver), answer)
            }
            Err(e) => (None, keeper_error_json(&e)),
        }
    }

    /// Includes the snapshot only in every `n`-th answer (and in every peek and restart answer);
    /// 1 (the default) includes it always. The snapshot is the costliest part of an answer.
    pub fn set_snapshot_every(&mut self, n: u64) {
        self.snapshot_every = n.max(1);
    }

    /// Applies one trace line and answers everything observable after it, as one JSON object:
    /// `{"step", "now", "effectiveNow", "result", "outputs", "pollTimeout", "qrs", "sessions",
    /// "health", "snapshot"}` (`snapshot` is `null` in steps skipped by
    /// [`Self::set_snapshot_every`]). A line that is not a step answers `{"step", "rejected"}`.
    pub fn step(&mut self, line: &str) -> String {
        let index = self.steps;
        self.steps += 1;
        self.last_outputs.clear();
        let step: Step = match serde_json::from_str(line) {
            Ok(step) => step,
            Err(e) => return format!("{{\"step\":{index},\"rejected\":{}}}", to_json(&e.to_string())),
        };
        let now = step.now;
        let kind = step.kind();
        let with_snapshot =
            index.is_multiple_of(self.snapshot_every) || matches!(kind, StepKind::Peek | StepKind::Restart);
        let result = match kind {
            StepKind::Input(raw) => match serde_json::from_value::<Input>(raw) {
                Ok(input) => self.handle(now, input),
                Err(e) => error_json("input", &e.to_string()),
            },
            StepKind::Timeout => {
                self.keeper.handle_timeout(now);
                "{\"timeout\":true}".to_owned()
            }
            StepKind::Restart => match Keeper::restore(&self.keeper.snapshot()) {
                Ok(restored) => {
                    self.keeper = restored;
                    self.handle(now, Input::Restarted)
                }
                Err(e) => keeper_error_json(&e),
            },
            StepKind::Peek => "{\"peek\":true}".to_owned(),
        };
        while let Some(output) = self.keeper.poll_output() {
            self.last_outputs.push(output);
        }
        let answer = self.render(index, now, &result, with_snapshot);
        self.last_result = result;
        answer
    }

    /// The outputs drained by the last step (for trace generators).
    pub fn last_outputs(&self) -> &[Output] {
        &self.last_outputs
    }

    /// The `result` part of the last step's answer (`{"ack": ...}`, `{"error": ..., "kind": ...}`,
    /// `{"timeout": true}` or `{"peek": true}`).
    pub fn last_result(&self) -> &str {
        &self.last_result
    }

    /// The keeper (for trace generators and invariant checks).
    pub fn keeper(&self) -> &Keeper {
        &self.keeper
    }

    fn handle(&mut self, now: u64, input: Input) -> String {
        match self.keeper.handle(now, input) {
            Ok(ack) => format!("{{\"ack\":{}}}", to_json(&ack)),
            Err(e) => keeper_error_json(&e),
        }
    }

    fn render(&self, index: u64, now: u64, result: &str, with_snapshot: bool) -> String {
        let k = &self.keeper;
        let qrs: BTreeMap<&str, Option<&str>> = k.session_ids().map(|id| (id, k.qr(id))).collect();
        let mut out = String::with_capacity(4_096);
        let _ = write!(
            out,
            "{{\"step\":{index},\"now\":{now},\"effectiveNow\":{},\"result\":{result},\"outputs\":{},\
             \"pollTimeout\":{},\"qrs\":{},\"sessions\":{},\"health\":{},\"snapshot\":{}}}",
            k.now(),
            to_json(&self.last_outputs),
            to_json(&k.poll_timeout()),
            to_json(&qrs),
            to_json(&k.sessions(now)),
            to_json(&k.health(now)),
            if with_snapshot { k.snapshot() } else { "null".to_owned() },
        );
        out
    }
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("\"unserializable: {e}\""))
}

fn error_json(kind: &str, message: &str) -> String {
    format!("{{\"error\":{},\"kind\":{}}}", to_json(message), to_json(kind))
}

fn keeper_error_json(e: &KeeperError) -> String {
    error_json(&format!("{e:?}"), &e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_renders_everything() {
        let (driver, answer) = Driver::start("{}");
        assert!(answer.starts_with("{\"config\":{"), "{answer}");
        let mut d = driver.unwrap();
        let a = d.step(r#"{"now":1000,"input":{"type":"addSession","sessionId":"a"}}"#);
        let v: serde_json::Value = serde_json::from_str(&a).unwrap();
        assert_eq!(v["result"]["ack"]["type"], "accepted");
        assert_eq!(v["outputs"].as_array().unwrap().len(), d.last_outputs().len());
        assert!(v["snapshot"]["sessions"].is_object(), "{a}");
        let b = d.step(r#"{"now":500,"input":{"type":"removeSession","sessionId":"zz"}}"#);
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["effectiveNow"], 1000);
        assert!(v["result"]["kind"].as_str().unwrap().starts_with("UnknownSession"), "{b}");
    }

    #[test]
    fn bad_lines_and_configs_are_answers_not_panics() {
        let (none, answer) = Driver::start(r#"{"noSuchKey":1}"#);
        assert!(none.is_none());
        assert!(answer.contains("noSuchKey"), "{answer}");
        let mut d = Driver::start("{}").0.unwrap();
        assert!(d.step("not json").contains("rejected"));
        assert!(d.step(r#"{"now":1,"input":{"type":"nope"}}"#).contains("\"kind\":\"input\""));
        assert!(d.step(r#"{"now":2,"restart":true}"#).contains("\"ack\""));
        assert!(d.step(r#"{"now":3,"timeout":true}"#).contains("\"timeout\":true"));
        assert!(d.step(r#"{"now":4}"#).contains("\"peek\":true"));
    }

    #[test]
    fn snapshots_can_be_thinned_out() {
        let mut d = Driver::start("{}").0.unwrap();
        d.set_snapshot_every(2);
        let add = r#"{"now":1,"input":{"type":"addSession","sessionId":"a"}}"#;
        assert!(!d.step(add).ends_with("\"snapshot\":null}"));
        assert!(d.step(r#"{"now":2,"timeout":true}"#).ends_with("\"snapshot\":null}"));
        assert!(!d.step(r#"{"now":3,"timeout":true}"#).ends_with("\"snapshot\":null}"));
        assert!(!d.step(r#"{"now":4,"peek":true}"#).ends_with("\"snapshot\":null}"));
    }
}
