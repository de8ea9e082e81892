//! Prometheus metrics: the host's own counters (lock-free atomics) plus gauges read from the
//! keeper's health view at scrape time, rendered in the text exposition format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use sessionkeeper_core::{BreakerState, HealthView, SessionState};

/// Upper bounds (seconds) of the delivery latency histogram.
const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// Every session state, in the order metrics list them.
pub const SESSION_STATES: [SessionState; 6] = [
    SessionState::New,
    SessionState::Connecting,
    SessionState::Pending,
    SessionState::Scanned,
    SessionState::Connected,
    SessionState::Reconnecting,
];

const BREAKER_STATES: [BreakerState; 3] = [BreakerState::Closed, BreakerState::Open, BreakerState::HalfOpen];

/// Classes of delivery outcomes as counted by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeLabel {
    /// 2xx.
    Success,
    /// 429 or 503.
    Throttled,
    /// Other 4xx (and 1xx/3xx).
    Rejected,
    /// Other 5xx.
    ServerError,
    /// No answer in time.
    Timeout,
    /// Connection refused/reset, DNS, TLS.
    NetworkError,
}

const OUTCOME_LABELS: [(OutcomeLabel, &str); 6] = [
    (OutcomeLabel::Success, "success"),
    (OutcomeLabel::Throttled, "throttled"),
    (OutcomeLabel::Rejected, "rejected"),
    (OutcomeLabel::ServerError, "server_error"),
    (OutcomeLabel::Timeout, "timeout"),
    (OutcomeLabel::NetworkError, "network_error"),
];

/// The host's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Inputs accepted through the API.
    pub inputs_accepted: AtomicU64,
    /// Inputs the keeper refused (unknown session, queue full, ...).
    pub inputs_refused: AtomicU64,
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
    outcomes: [AtomicU64; 6],
    transitions: [[AtomicU64; 3]; 3],
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
}

fn breaker_index(state: BreakerState) -> usize {
    BREAKER_STATES.iter().position(|s| *s == state).unwrap_or(0)
}

fn label<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_ascii_lowercase)).unwrap_or_default()
}

impl Metrics {
    /// Records a finished delivery.
    pub fn record_delivery(&self, outcome: OutcomeLabel, elapsed: Duration) {
        let idx = OUTCOME_LABELS.iter().position(|(o, _)| *o == outcome).unwrap_or(0);
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

    /// Records a breaker transition.
    pub fn record_transition(&self, from: BreakerState, to: BreakerState) {
        self.transitions[breaker_index(from)][breaker_index(to)].fetch_add(1, Relaxed);
    }

    /// Deliveries that finished with `outcome` so far.
    pub fn outcome_count(&self, outcome: OutcomeLabel) -> u64 {
        let idx = OUTCOME_LABELS.iter().position(|(o, _)| *o == outcome).unwrap_or(0);
        self.outcomes[idx].load(Relaxed)
    }

    /// The Prometheus text: host counters plus gauges from `health` and `by_state` (session
    /// counts in [`SESSION_STATES`] order).
    pub fn render(&self, health: &HealthView, by_state: &[u64; SESSION_STATES.len()]) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let q = &health.queue;
        let b = &health.circuit_breaker;

        header(&mut out, "sessionkeeper_sessions", "gauge", "Sessions held, by state.");
        for (state, n) in SESSION_STATES.iter().zip(by_state) {
            let _ = writeln!(out, "sessionkeeper_sessions{{state=\"{}\"}} {n}", label(state));
        }
        let gauges: [(&str, &str, u64); 4] = [
            ("sessionkeeper_queue_depth", "Items waiting in the sync queue.", q.depth),
            ("sessionkeeper_queue_in_flight", "Backend requests in flight.", q.in_flight),
            ("sessionkeeper_queue_capacity", "Capacity of the sync queue.", q.capacity.into()),
            ("sessionkeeper_queue_spacing_milliseconds", "Current spacing between dispatches.", q.spacing_ms),
        ];
        for (name, help, v) in gauges {
            header(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {v}");
        }
        let counters: [(&str, &str, u64); 16] = [
            ("sessionkeeper_items_accepted_total", "Items accepted by the sync queue.", q.accepted),
            ("sessionkeeper_items_delivered_total", "Items the backend took (2xx).", q.delivered),
            (
                "sessionkeeper_items_superseded_total",
                "Items replaced by a newer one (coalesced).",
                q.superseded,
            ),
            ("sessionkeeper_items_dead_lettered_total", "Items given up on.", q.dead_lettered),
            ("sessionkeeper_items_purged_total", "Items dropped on purpose (stale QRs).", q.purged),
            ("sessionkeeper_delivery_retries_total", "Failed attempts that were retried.", q.retries),
            ("sessionkeeper_delivery_throttled_total", "429/503 answers.", q.throttled),
            ("sessionkeeper_queue_rejected_full_total", "Items refused: queue full.", q.rejected_full),
            (
                "sessionkeeper_qr_dropped_unknown_session_total",
                "QRs for unknown sessions, dropped.",
                health.counters.qr_dropped_unknown_session,
            ),
            (
                "sessionkeeper_sessions_expired_total",
                "Pending episodes that expired.",
                health.counters.expired,
            ),
            (
                "sessionkeeper_reconnects_issued_total",
                "Reconnect commands issued.",
                health.counters.reconnects_issued,
            ),
            (
                "sessionkeeper_inputs_accepted_total",
                "Inputs accepted through the API.",
                self.inputs_accepted.load(Relaxed),
            ),
            (
                "sessionkeeper_inputs_refused_total",
                "Inputs refused by the keeper.",
                self.inputs_refused.load(Relaxed),
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
        ];
        for (name, help, v) in counters {
            header(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {v}");
        }

        header(
            &mut out,
            "sessionkeeper_circuit_breaker_state",
            "gauge",
            "1 for the breaker's current state.",
        );
        for state in BREAKER_STATES {
            let v = u8::from(state == b.state);
            let _ = writeln!(out, "sessionkeeper_circuit_breaker_state{{state=\"{}\"}} {v}", label(&state));
        }
        header(&mut out, "sessionkeeper_circuit_breaker_trips_total", "counter", "Times the breaker opened.");
        let _ = writeln!(out, "sessionkeeper_circuit_breaker_trips_total {}", b.trips);
        header(
            &mut out,
            "sessionkeeper_circuit_breaker_transitions_total",
            "counter",
            "Breaker state changes seen by this process.",
        );
        for from in BREAKER_STATES {
            for to in BREAKER_STATES {
                let v = self.transitions[breaker_index(from)][breaker_index(to)].load(Relaxed);
                if from != to {
                    let _ = writeln!(
                        out,
                        "sessionkeeper_circuit_breaker_transitions_total{{from=\"{}\",to=\"{}\"}} {v}",
                        label(&from),
                        label(&to)
                    );
                }
            }
        }

        header(&mut out, "sessionkeeper_deliveries_total", "counter", "Backend deliveries by outcome.");
        for (i, (_, name)) in OUTCOME_LABELS.iter().enumerate() {
            let v = self.outcomes[i].load(Relaxed);
            let _ = writeln!(out, "sessionkeeper_deliveries_total{{outcome=\"{name}\"}} {v}");
        }
        header(&mut out, "sessionkeeper_delivery_duration_seconds", "histogram", "Backend request latency.");
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

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessionkeeper_core::{Config, Keeper};

    #[test]
    fn renders_every_family_with_labels() {
        let keeper = Keeper::new(Config::default()).unwrap();
        let m = Metrics::default();
        m.record_delivery(OutcomeLabel::Success, Duration::from_millis(3));
        m.record_transition(BreakerState::Closed, BreakerState::Open);
        let text = m.render(&keeper.health(0), &[0, 0, 2, 0, 1, 0]);
        assert!(text.contains("sessionkeeper_sessions{state=\"pending\"} 2"), "{text}");
        assert!(text.contains("sessionkeeper_circuit_breaker_state{state=\"closed\"} 1"));
        assert!(
            text.contains("sessionkeeper_circuit_breaker_transitions_total{from=\"closed\",to=\"open\"} 1")
        );
        assert!(text.contains("sessionkeeper_delivery_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("sessionkeeper_delivery_duration_seconds_bucket{le=\"0.0025\"} 0"));
        assert!(text.contains("sessionkeeper_delivery_duration_seconds_count 1"));
        // Every sample line belongs to a declared family.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = name.trim_end_matches("_bucket").trim_end_matches("_sum").trim_end_matches("_count");
            assert!(text.contains(&format!("# TYPE {family} ")), "{name}");
        }
    }
}
