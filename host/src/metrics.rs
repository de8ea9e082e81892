//! Prometheus metrics: the keeper's families (rendered by the core from the health view, the
//! same text the npm package serves) followed by the host process's own counters (lock-free
//! atomics): inputs, journal, commands, breaker transitions seen, delivery outcomes and latency.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use crate::connections::ConnectionStats;
use sessionkeeper_core::{
    family_header, process_families, BreakerState, DeliveryOutcome, HealthView, KeeperError, BREAKER_STATES,
    DELIVERY_OUTCOME_LABELS,
};

/// Upper bounds (seconds) of the delivery latency histogram.
const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// The host's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Inputs accepted through the API.
    pub inputs_accepted: AtomicU64,
    refused: Mutex<BTreeMap<&'static str, u64>>,
    /// Journal entries committed.
    pub journal_entries: AtomicU64,
    /// Snapshots written.
    pub snapshots: AtomicU64,
    /// Commands published on `/commands`.
    pub commands_published: AtomicU64,
    /// Deliveries started.
    pub deliveries_started: AtomicU64,
    /// Deliveries in flight right now (host view).
    pub deliveries_in_flight: AtomicU64,
    /// Backend answers whose body was longer than the cap (left unread).
    pub answers_truncated: AtomicU64,
    /// The HTTP server's connections.
    pub connections: ConnectionStats,
    outcomes: [AtomicU64; DELIVERY_OUTCOME_LABELS.len()],
    transitions: [[AtomicU64; 3]; 3],
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
}

fn breaker_index(state: BreakerState) -> usize {
    BREAKER_STATES.iter().position(|s| *s == state).unwrap_or(0)
}

impl Metrics {
    /// Records a finished delivery.
    pub fn record_delivery(&self, outcome: &DeliveryOutcome, elapsed: Duration) {
        let label = outcome.metric_label();
        let idx = DELIVERY_OUTCOME_LABELS.iter().position(|l| *l == label).unwrap_or(0);
        self.outcomes[idx].fetch_add(1, Relaxed);
        let secs = elapsed.as_secs_f64();
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.latency_buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_sum_us.fetch_add(elapsed.as_micros() as u64, Relaxed);
    }

    /// Records an input the keeper refused (it changed nothing, so only this process counts it).
    pub fn record_refusal(&self, err: &KeeperError) {
        *self.refused.lock().expect("metrics lock").entry(err.code()).or_default() += 1;
    }

    /// Inputs refused with `code` so far.
    pub fn refused_count(&self, code: &str) -> u64 {
        self.refused.lock().expect("metrics lock").get(code).copied().unwrap_or(0)
    }

    /// Records a breaker transition.
    pub fn record_transition(&self, from: BreakerState, to: BreakerState) {
        self.transitions[breaker_index(from)][breaker_index(to)].fetch_add(1, Relaxed);
    }

    /// Deliveries whose outcome had this `metric_label` so far.
    pub fn outcome_count(&self, label: &str) -> u64 {
        DELIVERY_OUTCOME_LABELS.iter().position(|l| *l == label).map_or(0, |i| self.outcomes[i].load(Relaxed))
    }

    /// The Prometheus text: the keeper's families from `health`, then the host's counters.
    pub fn render(&self, health: &HealthView) -> String {
        let mut out = health.prometheus();
        let counters: [(&str, &str, u64); 7] = [
            (
                "sessionkeeper_inputs_accepted_total",
                "Inputs accepted through the API.",
                self.inputs_accepted.load(Relaxed),
            ),
            (
                "sessionkeeper_journal_entries_total",
                "Journal entries committed.",
                self.journal_entries.load(Relaxed),
            ),
            ("sessionkeeper_snapshots_total", "State snapshots written.", self.snapshots.load(Relaxed)),
            (
                "sessionkeeper_commands_published_total",
                "Commands published on /commands.",
                self.commands_published.load(Relaxed),
            ),
            (
                "sessionkeeper_connections_evicted_total",
                "Idle client connections closed to make room at maxConnections.",
                self.connections.evicted.load(Relaxed),
            ),
            (
                "sessionkeeper_connections_refused_total",
                "Client connections closed at once: maxConnections reached and every connection busy.",
                self.connections.refused.load(Relaxed),
            ),
            (
                "sessionkeeper_backend_answers_truncated_total",
                "Backend answers whose body exceeded the read cap (the rest was not read).",
                self.answers_truncated.load(Relaxed),
            ),
        ];
        for (name, help, v) in counters {
            family_header(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {v}");
        }
        family_header(&mut out, "sessionkeeper_connections_open", "gauge", "Client connections open now.");
        let _ = writeln!(out, "sessionkeeper_connections_open {}", self.connections.open.load(Relaxed));
        family_header(
            &mut out,
            "sessionkeeper_inputs_refused_total",
            "counter",
            "Inputs the keeper refused, by error code.",
        );
        for (code, n) in self.refused.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "sessionkeeper_inputs_refused_total{{code=\"{code}\"}} {n}");
        }
        let transitions = self.transitions.each_ref().map(|row| row.each_ref().map(|c| c.load(Relaxed)));
        let outcomes = self.outcomes.each_ref().map(|c| c.load(Relaxed));
        process_families(&mut out, &transitions, &outcomes);
        family_header(
            &mut out,
            "sessionkeeper_delivery_duration_seconds",
            "histogram",
            "Backend request latency.",
        );
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            let v = self.latency_buckets[i].load(Relaxed);
            let _ = writeln!(out, "sessionkeeper_delivery_duration_seconds_bucket{{le=\"{bound}\"}} {v}");
        }
        let count = self.latency_count.load(Relaxed);
        let _ = writeln!(out, "sessionkeeper_delivery_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.latency_sum_us.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "sessionkeeper_delivery_duration_seconds_sum {sum}");
        let _ = writeln!(out, "sessionkeeper_delivery_duration_seconds_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessionkeeper_core::{Config, Keeper};

    #[test]
    fn renders_every_family_with_labels() {
        let keeper = Keeper::new(Config::default()).unwrap();
        let m = Metrics::default();
        m.record_delivery(
            &DeliveryOutcome::Response { status: 200, retry_after: None },
            Duration::from_millis(3),
        );
        m.record_delivery(
            &DeliveryOutcome::Response { status: 503, retry_after: None },
            Duration::from_millis(3),
        );
        m.record_transition(BreakerState::Closed, BreakerState::Open);
        m.record_refusal(&KeeperError::UnknownSession("x".into()));
        let text = m.render(&keeper.health(0));
        assert!(text.contains("sessionkeeper_sessions{state=\"pending\"} 0"), "{text}");
        assert!(text.contains("sessionkeeper_circuit_breaker_state{state=\"closed\"} 1"));
        assert!(
            text.contains("sessionkeeper_circuit_breaker_transitions_total{from=\"closed\",to=\"open\"} 1")
        );
        assert!(
            text.contains("sessionkeeper_deliveries_total{outcome=\"server_error\"} 1"),
            "503 without Retry-After"
        );
        assert!(text.contains("sessionkeeper_deliveries_total{outcome=\"throttled\"} 0"));
        assert!(text.contains("sessionkeeper_inputs_refused_total{code=\"UnknownSession\"} 1"));
        assert!(text.contains("sessionkeeper_delivery_duration_seconds_bucket{le=\"0.005\"} 2"));
        assert!(text.contains("sessionkeeper_delivery_duration_seconds_bucket{le=\"0.0025\"} 0"));
        assert!(text.contains("sessionkeeper_delivery_duration_seconds_count 2"));
        // Every sample line belongs to a declared family.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = name.trim_end_matches("_bucket").trim_end_matches("_sum").trim_end_matches("_count");
            assert!(text.contains(&format!("# TYPE {family} ")), "{name}");
        }
    }
}
