//! The keeper's metric families in the Prometheus text format, rendered from the health view,
//! so the host and the npm package serve the same names, types and help texts. Each edge
//! appends the counters of its own process (requests, journal, latency) after these.

use std::fmt::Write as _;

use crate::breaker::{BreakerState, OutcomeClass};
use crate::input::DeliveryOutcome;
use crate::views::HealthView;

/// Breaker states in the order edges count their transitions (`[from][to]`).
pub const BREAKER_STATES: [BreakerState; 3] =
    [BreakerState::Closed, BreakerState::Open, BreakerState::HalfOpen];

/// The families each edge counts in its own process, from its counts: breaker transitions
/// (`[from][to]` in [`BREAKER_STATES`] order) and deliveries by outcome (in
/// [`DELIVERY_OUTCOME_LABELS`] order).
pub fn process_families(out: &mut String, transitions: &[[u64; 3]; 3], outcomes: &[u64; 6]) {
    family_header(
        out,
        "sessionkeeper_circuit_breaker_transitions_total",
        "counter",
        "Breaker state changes seen by this process.",
    );
    for (i, from) in BREAKER_STATES.iter().enumerate() {
        for (j, to) in BREAKER_STATES.iter().enumerate() {
            if i != j {
                let (from, to) = (from.as_str().to_ascii_lowercase(), to.as_str().to_ascii_lowercase());
                let v = transitions[i][j];
                let _ = writeln!(
                    out,
                    "sessionkeeper_circuit_breaker_transitions_total{{from=\"{from}\",to=\"{to}\"}} {v}"
                );
            }
        }
    }
    family_header(out, "sessionkeeper_deliveries_total", "counter", "Backend deliveries by outcome.");
    for (name, v) in DELIVERY_OUTCOME_LABELS.iter().zip(outcomes) {
        let _ = writeln!(out, "sessionkeeper_deliveries_total{{outcome=\"{name}\"}} {v}");
    }
}

/// `# HELP` and `# TYPE` lines of a family.
pub fn family_header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Delivery outcome labels, in the order edges list `sessionkeeper_deliveries_total`.
pub const DELIVERY_OUTCOME_LABELS: [&str; 6] =
    ["success", "throttled", "rejected", "server_error", "timeout", "network_error"];

impl DeliveryOutcome {
    /// The `outcome` label of `sessionkeeper_deliveries_total`: the outcome's class, with
    /// failures split by how they failed.
    pub fn metric_label(&self) -> &'static str {
        match (self.class(), self) {
            (OutcomeClass::Success, _) => "success",
            (OutcomeClass::Throttled, _) => "throttled",
            (OutcomeClass::Rejected, _) => "rejected",
            (OutcomeClass::Failure, Self::Response { .. }) => "server_error",
            (OutcomeClass::Failure, Self::Timeout) => "timeout",
            (OutcomeClass::Failure, Self::NetworkError { .. }) => "network_error",
        }
    }
}

impl HealthView {
    /// The keeper's families (sessions, queue, items, breaker) as Prometheus text.
    pub fn prometheus(&self) -> String {
        let mut out = String::with_capacity(4 * 1024);
        let q = &self.queue;
        family_header(&mut out, "sessionkeeper_sessions", "gauge", "Sessions held, by state.");
        for (state, n) in self.sessions_by_state.iter() {
            let _ = writeln!(out, "sessionkeeper_sessions{{state=\"{}\"}} {n}", state.as_str());
        }
        let gauges: [(&str, &str, f64); 5] = [
            ("sessionkeeper_queue_depth", "Items waiting in the sync queue.", q.depth as f64),
            ("sessionkeeper_queue_in_flight", "Backend requests in flight.", q.in_flight as f64),
            ("sessionkeeper_queue_capacity", "Capacity of the sync queue.", f64::from(q.capacity)),
            (
                "sessionkeeper_queue_spacing_seconds",
                "Current spacing between dispatches.",
                q.spacing_ms as f64 / 1e3,
            ),
            (
                "sessionkeeper_dead_letters",
                "Dead letters kept, which an operator can retry or discard.",
                q.dead_letters_kept as f64,
            ),
        ];
        for (name, help, v) in gauges {
            family_header(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {v}");
        }
        let counters: [(&str, &str, u64); 11] = [
            ("sessionkeeper_items_accepted_total", "Items accepted by the sync queue.", q.accepted),
            ("sessionkeeper_items_delivered_total", "Items the backend took (2xx).", q.delivered),
            (
                "sessionkeeper_items_superseded_total",
                "Items replaced by a newer one (coalesced).",
                q.superseded,
            ),
            ("sessionkeeper_items_dead_lettered_total", "Items given up on.", q.dead_lettered),
            ("sessionkeeper_items_purged_total", "Items dropped on purpose (stale QRs).", q.purged),
            (
                "sessionkeeper_dead_letters_retried_total",
                "Dead letters an operator sent again.",
                q.dead_letters_retried,
            ),
            (
                "sessionkeeper_dead_letters_discarded_total",
                "Dead letters an operator discarded.",
                q.dead_letters_discarded,
            ),
            ("sessionkeeper_delivery_retries_total", "Failed attempts that were retried.", q.retries),
            (
                "sessionkeeper_delivery_throttled_total",
                "Throttled answers (429, 503 with Retry-After).",
                q.throttled,
            ),
            ("sessionkeeper_sessions_expired_total", "Pending episodes that expired.", self.counters.expired),
            (
                "sessionkeeper_reconnects_issued_total",
                "Reconnect commands issued.",
                self.counters.reconnects_issued,
            ),
        ];
        for (name, help, v) in counters {
            family_header(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {v}");
        }
        let b = &self.circuit_breaker;
        family_header(
            &mut out,
            "sessionkeeper_circuit_breaker_state",
            "gauge",
            "1 for the breaker's current state.",
        );
        for state in BREAKER_STATES {
            let v = u8::from(state == b.state);
            let label = state.as_str().to_ascii_lowercase();
            let _ = writeln!(out, "sessionkeeper_circuit_breaker_state{{state=\"{label}\"}} {v}");
        }
        family_header(
            &mut out,
            "sessionkeeper_circuit_breaker_trips_total",
            "counter",
            "Times the breaker opened.",
        );
        let _ = writeln!(out, "sessionkeeper_circuit_breaker_trips_total {}", b.trips);
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::{Config, DeliveryOutcome, Keeper};

    #[test]
    fn renders_the_keeper_families() {
        let k = Keeper::new(Config::default()).unwrap();
        let text = k.health(0).prometheus();
        assert!(text.contains("sessionkeeper_sessions{state=\"pending\"} 0"), "{text}");
        assert!(text.contains("sessionkeeper_circuit_breaker_state{state=\"closed\"} 1"));
        assert!(text.contains("sessionkeeper_queue_spacing_seconds 0.4"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
        }
    }

    #[test]
    fn outcome_labels_follow_the_class() {
        let r = |status, retry: Option<&str>| DeliveryOutcome::Response {
            status,
            retry_after: retry.map(Into::into),
        };
        assert_eq!(r(200, None).metric_label(), "success");
        assert_eq!(r(503, None).metric_label(), "server_error", "503 without Retry-After is a failure");
        assert_eq!(r(503, Some("5")).metric_label(), "throttled");
        assert_eq!(r(302, None).metric_label(), "rejected", "redirects are not followed");
        assert_eq!(r(422, None).metric_label(), "rejected");
        assert_eq!(DeliveryOutcome::Timeout.metric_label(), "timeout");
    }
}
