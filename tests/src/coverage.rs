//! What the generated traces reached: output kinds, session states, breaker transitions, acks,
//! errors and queue/session counters. A generator that silently stopped reaching a feature
//! would make the parity test compare less than it claims; the test asserts [`REQUIRED`].

use std::collections::BTreeMap;

use sessionkeeper_core::Output;
use sessionkeeper_parity_guest::Driver;

/// Features a full generated run (the default few thousand traces) must reach.
pub const REQUIRED: &[&str] = &[
    "output:deliver",
    "output:deadLettered",
    "deliver:retry",
    "command:close",
    "command:reconnect",
    "session:connecting",
    "session:pending",
    "session:scanned",
    "session:connected",
    "session:reconnecting",
    "session:removed",
    "breaker:OPEN",
    "breaker:HALF_OPEN",
    "breaker:CLOSED",
    "ack:accepted",
    "ack:enqueued",
    "ack:removed",
    "ack:removed-some",
    "error:UnknownSession",
    "error:SessionExists",
    "error:InvalidSessionId",
    "error:QueueFull",
    "error:InvalidItem",
    "error:config",
    "error:input",
    "queue:superseded",
    "queue:purged",
    "queue:retries",
    "queue:throttled",
    "queue:unknownResults",
    "queue:heldQrs",
    "sessions:expired",
    "sessions:inactiveRemoved",
    "sessions:replacedLoops",
];

/// Counts of features seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Feature name -> times seen.
    pub seen: BTreeMap<String, u64>,
}

impl Coverage {
    fn hit(&mut self, feature: String) {
        *self.seen.entry(feature).or_default() += 1;
    }

    /// Records what the driver's last step did.
    pub fn observe_step(&mut self, driver: &Driver) {
        for output in driver.last_outputs() {
            let kind = serde_json::to_value(output).ok().and_then(|v| v["type"].as_str().map(str::to_owned));
            self.hit(format!("output:{}", kind.unwrap_or_default()));
            match output {
                Output::Deliver(d) if d.attempt > 1 => self.hit("deliver:retry".into()),
                Output::Command(c) => self.hit(format!("command:{}", json_name(&c.kind))),
                Output::SessionChanged(c) => self.hit(format!("session:{}", json_name(&c.state))),
                Output::BreakerChanged(b) => self.hit(format!("breaker:{}", json_name(&b.to))),
                _ => {}
            }
        }
        let result: serde_json::Value = serde_json::from_str(driver.last_result()).unwrap_or_default();
        if let Some(kind) = result["ack"]["type"].as_str() {
            self.hit(format!("ack:{kind}"));
            if result["ack"]["count"].as_u64().is_some_and(|n| n > 0) {
                self.hit("ack:removed-some".into());
            }
        }
        if let Some(kind) = result["kind"].as_str() {
            let variant = kind.split(['(', ' ', '{']).next().unwrap_or(kind);
            self.hit(format!("error:{variant}"));
        }
    }

    /// Records a refused config.
    pub fn observe_refused_config(&mut self) {
        self.hit("error:config".into());
    }

    /// Records the cumulative counters at the end of a trace.
    pub fn observe_end(&mut self, driver: &Driver) {
        let k = driver.keeper();
        let health = k.health(k.now());
        let groups = [
            ("queue", serde_json::to_value(&health.queue)),
            ("sessions", serde_json::to_value(&health.counters)),
        ];
        for (group, value) in groups {
            let Ok(serde_json::Value::Object(fields)) = value else { continue };
            for (field, v) in fields {
                if v.as_u64().is_some_and(|n| n > 0) {
                    self.hit(format!("{group}:{field}"));
                }
            }
        }
    }

    /// Adds another run's counts.
    pub fn merge(&mut self, other: &Coverage) {
        for (k, n) in &other.seen {
            *self.seen.entry(k.clone()).or_default() += n;
        }
    }

    /// Required features not seen.
    pub fn missing(&self) -> Vec<&'static str> {
        REQUIRED.iter().copied().filter(|f| !self.seen.contains_key(*f)).collect()
    }
}

fn json_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "?".into(),
    }
}
