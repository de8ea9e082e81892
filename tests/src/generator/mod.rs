//! Seeded traces of gateway traffic that react to what the keeper asks for.
//!
//! Sessions are added and removed, sockets go through plausible Baileys lifecycles (connecting,
//! QRs, scan, 515 restart, open, closes with real DisconnectReason codes, `QR refs attempts
//! ended`) with a share of odd events, the backend answers the deliveries the keeper emits
//! (2xx, 5xx, 429/503 with Retry-After, 4xx, timeouts, network errors; late and unknown results
//! too) through outage windows, operators run cleanups and enqueue items, the host restarts, and
//! time moves forward, jumps to deadlines, stands still and goes backwards.

mod backend;
mod baileys;
mod config;

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sessionkeeper_core::{CommandKind, Output, SessionState};
use sessionkeeper_parity_guest::Driver;

pub use baileys::{Belief, Socket};

use crate::rng::SplitMix64;

/// Session ids the generator draws from (a small pool, so ids come back after removal).
const IDS: &[&str] = &["alice", "bob", "s-1", "s_2", "user.3@host", "tenant:4", "5", "six-long-id-abcdef"];
/// Ids the core must refuse.
const BAD_IDS: &[&str] = &["", "has space", "ünï", "a/b", "x\"y"];

/// One generated trace, step by step.
#[derive(Debug, Clone)]
pub struct TraceGen {
    rng: SplitMix64,
    now: u64,
    steps_left: usize,
    beliefs: BTreeMap<String, Belief>,
    outstanding: Vec<u64>,
    reported: Vec<u64>,
    outage: bool,
    serial: u64,
}

/// What a step does (drawn by weight).
#[derive(Debug, Clone, Copy)]
enum Action {
    Add,
    Update,
    Result,
    Timeout,
    Remove,
    Enqueue,
    CleanupInactive,
    CleanupPending,
    Restarted,
    Restart,
    Peek,
    StrayResult,
    UnknownSessionQr,
}

const ACTIONS: [(Action, u64); 13] = [
    (Action::Add, 9),
    (Action::Update, 30),
    (Action::Result, 26),
    (Action::Timeout, 12),
    (Action::Remove, 3),
    (Action::Enqueue, 5),
    (Action::CleanupInactive, 2),
    (Action::CleanupPending, 2),
    (Action::Restarted, 1),
    (Action::Restart, 2),
    (Action::Peek, 3),
    (Action::StrayResult, 1),
    (Action::UnknownSessionQr, 1),
];

impl TraceGen {
    /// A generator for `steps` steps; returns it and the trace's config JSON.
    pub fn new(seed: u64, steps: usize) -> (Self, String) {
        let mut rng = SplitMix64::new(seed);
        let config = config::config(&mut rng);
        let now = match rng.below(100) {
            0 => 0,
            1 => u64::MAX - rng.below(3_600_000),
            _ => 1_764_000_000_000 + rng.below(1 << 36),
        };
        let gen = Self {
            rng,
            now,
            steps_left: steps,
            beliefs: BTreeMap::new(),
            outstanding: Vec::new(),
            reported: Vec::new(),
            outage: false,
            serial: 0,
        };
        (gen, config)
    }

    /// The next step line, given the native driver after the previous step; `None` at the end.
    pub fn next(&mut self, driver: &Driver) -> Option<String> {
        self.observe(driver);
        if self.steps_left == 0 {
            return None;
        }
        self.steps_left -= 1;
        if self.rng.chance(4) {
            self.outage = !self.outage;
        }
        let deadline = driver.keeper().poll_timeout();
        self.advance(deadline);
        let known: Vec<String> = driver.keeper().session_ids().map(str::to_owned).collect();
        let weights: Vec<u64> = ACTIONS
            .iter()
            .map(|(a, w)| match a {
                Action::Result if self.outstanding.is_empty() => 0,
                Action::Update if known.is_empty() => 1,
                _ => *w,
            })
            .collect();
        let action = ACTIONS[self.rng.weighted(&weights)].0;
        let line = match action {
            Action::Add => {
                let id = self.some_id(&known, 10);
                self.input(json!({ "type": "addSession", "sessionId": id }))
            }
            Action::Update => self.update(&known),
            Action::Result => self.result(),
            Action::Timeout => {
                if let Some(at) = deadline.filter(|_| self.rng.chance(75)) {
                    self.now = self.now.max(at);
                }
                json!({ "now": self.now, "timeout": true }).to_string()
            }
            Action::Remove => {
                let id = self.some_id(&known, 5);
                let mut input = json!({ "type": "removeSession", "sessionId": id });
                if self.rng.chance(40) {
                    input["reason"] = json!(*self.rng.pick(&["spam", "user_request", "ünïcode reason"]));
                }
                self.input(input)
            }
            Action::Enqueue => self.enqueue(&known),
            Action::CleanupInactive => {
                let mut input = json!({ "type": "cleanupInactive" });
                if self.rng.chance(60) {
                    input["idleForMs"] = json!(self.rng.range(0, 3_600_000));
                }
                self.input(input)
            }
            Action::CleanupPending => {
                let mut input = json!({ "type": "cleanupPending" });
                if self.rng.chance(60) {
                    input["olderThanMs"] = json!(self.rng.range(0, 300_000));
                }
                self.input(input)
            }
            Action::Restarted => self.input(json!({ "type": "restarted" })),
            Action::Restart => {
                // The host crashed: what was in flight will never report.
                if self.rng.chance(70) {
                    self.outstanding.clear();
                }
                json!({ "now": self.now, "restart": true }).to_string()
            }
            Action::Peek => {
                let at = self.now.saturating_add(self.rng.range(0, 172_800_000));
                json!({ "now": at, "peek": true }).to_string()
            }
            Action::StrayResult => {
                let id = match self.reported.last() {
                    Some(id) if self.rng.chance(60) => *id,
                    _ => self.rng.range(0, 1_000_000),
                };
                let outcome = backend::outcome(&mut self.rng, self.now, self.outage);
                self.input(json!({ "type": "deliveryResult", "deliveryId": id, "outcome": outcome }))
            }
            Action::UnknownSessionQr => {
                let update = json!({ "qr": baileys::qr(&mut self.rng) });
                self.input(
                    json!({ "type": "connectionUpdate", "sessionId": "ghost-session", "update": update }),
                )
            }
        };
        Some(line)
    }

    fn observe(&mut self, driver: &Driver) {
        for output in driver.last_outputs() {
            match output {
                Output::Deliver(d) => self.outstanding.push(d.delivery_id),
                Output::Command(c) => {
                    let belief = self.beliefs.entry(c.session_id.to_string()).or_default();
                    belief.socket = match c.kind {
                        CommandKind::Reconnect => Socket::Idle,
                        CommandKind::Close => Socket::Closed,
                    };
                }
                Output::SessionChanged(c) if c.state == SessionState::Removed => {
                    self.beliefs.remove(&*c.session_id);
                }
                _ => {}
            }
        }
    }

    fn advance(&mut self, deadline: Option<u64>) {
        let r = &mut self.rng;
        self.now = match r.weighted(&[48, 14, 12, 5, 4, 8, 9]) {
            0 => self.now.saturating_add(r.range(1, 1_500)),
            1 => self.now,
            2 => self.now.saturating_add(r.range(1_500, 60_000)),
            3 => self.now.saturating_add(r.range(60_000, 2_400_000)),
            4 => self.now.saturating_sub(r.range(1, 10_000)),
            5 => deadline.map_or(self.now, |d| d.saturating_sub(r.range(0, 1)).max(self.now)),
            _ => deadline.map_or(self.now, |d| d.saturating_add(r.range(0, 2_000)).max(self.now)),
        };
    }

    fn input(&self, input: Value) -> String {
        json!({ "now": self.now, "input": input }).to_string()
    }

    /// A known id most of the time, else one from the pool, else (`bad_percent`) an invalid one.
    fn some_id(&mut self, known: &[String], bad_percent: u64) -> String {
        if self.rng.chance(bad_percent) {
            if self.rng.chance(20) {
                return "x".repeat(129);
            }
            return (*self.rng.pick(BAD_IDS)).to_owned();
        }
        if !known.is_empty() && self.rng.chance(40) {
            return self.rng.pick(known).clone();
        }
        (*self.rng.pick(IDS)).to_owned()
    }

    fn update(&mut self, known: &[String]) -> String {
        let id = if known.is_empty() || self.rng.chance(3) {
            (*self.rng.pick(IDS)).to_owned()
        } else {
            self.rng.pick(known).clone()
        };
        let belief = self.beliefs.get(&id).copied().unwrap_or_default();
        let (update, after) = baileys::next_event(&mut self.rng, belief);
        self.beliefs.insert(id.clone(), after);
        self.input(json!({ "type": "connectionUpdate", "sessionId": id, "update": update }))
    }

    fn result(&mut self) -> String {
        let at = if self.rng.chance(70) { 0 } else { self.rng.below(self.outstanding.len() as u64) as usize };
        let id = self.outstanding.remove(at);
        self.reported.push(id);
        if self.reported.len() > 8 {
            self.reported.remove(0);
        }
        let outcome = backend::outcome(&mut self.rng, self.now, self.outage);
        self.input(json!({ "type": "deliveryResult", "deliveryId": id, "outcome": outcome }))
    }

    fn enqueue(&mut self, known: &[String]) -> String {
        self.serial += 1;
        let path = match self.rng.below(10) {
            0 => "nope".to_owned(),
            1 => "/a/../b".to_owned(),
            2 => format!("/{}", "p".repeat(600)),
            _ => (*self.rng.pick(&["/custom", "/messages/ack", "/webhook/ünï", "/status"])).to_owned(),
        };
        let text = *self.rng.pick(&[
            "hello",
            "héllo wörld",
            "emoji 😀",
            "quote \" backslash \\ newline \n tab \t",
            "nul \u{0000} del \u{007f}",
        ]);
        let payload = json!({
            "n": self.serial,
            "text": text,
            "numbers": [0.1, 2.5, -3, 1e300, 5e-324, u64::MAX, i64::MIN, 123_456_789.123_456_79],
            "nested": { "ok": true, "none": null },
        });
        let mut input = json!({ "type": "enqueue", "path": path, "payload": payload });
        if self.rng.chance(50) {
            input["key"] = json!(format!("k{}", self.rng.below(3)));
        }
        if self.rng.chance(40) {
            input["sessionId"] = json!(self.some_id(known, 10));
        }
        self.input(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_trace() {
        let run = |seed| {
            let (mut gen, config) = TraceGen::new(seed, 80);
            let (driver, _) = Driver::start(&config);
            let Some(mut driver) = driver else { return vec![config] };
            let mut lines = vec![config];
            while let Some(line) = gen.next(&driver) {
                driver.step(&line);
                lines.push(line);
            }
            lines
        };
        for seed in 0..20 {
            assert_eq!(run(seed), run(seed));
        }
    }
}
