//! Reports: per policy figures, the JSON object and the text table.

use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;

/// One point of the time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// Time (ms).
    pub t: u64,
    /// Items waiting in the policy's queue.
    pub queue_depth: u64,
    /// 0 closed, 1 half-open, 2 open.
    pub breaker: u8,
    /// Sessions held in memory.
    pub sessions_held: u64,
    /// Requests waiting at the backend.
    pub backend_waiting: u64,
}

/// The figures of one policy on the scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyReport {
    /// `seed-before`, `seed-after`, `sessionkeeper`, `sessionkeeper-adaptive`.
    pub policy: String,
    /// CLOSED -> OPEN transitions per simulated hour.
    pub breaker_opens_per_hour: f64,
    /// CLOSED -> OPEN transitions.
    pub breaker_opens: u64,
    /// HALF_OPEN -> OPEN transitions (failed probes; not new openings).
    pub breaker_reopens: u64,
    /// Openings not during an outage (the backend was merely slow or throttling).
    pub breaker_opens_outside_outages: u64,
    /// QRs the sockets produced.
    pub qr_produced: u64,
    /// QRs that reached the backend at all.
    pub qr_delivered: u64,
    /// QRs that reached the backend while valid.
    pub qr_delivered_valid: u64,
    /// QRs replaced in the policy's queue by a newer one (latest wins).
    pub qr_superseded: u64,
    /// QRs that never reached the backend while valid although the backend was up at some point
    /// of their validity.
    pub qr_lost: u64,
    /// QRs lost whose whole validity lay inside an outage (no policy could deliver them).
    pub qr_lost_in_outage: u64,
    /// (qrLost + qrLostInOutage) / settled QRs, in percent.
    pub qr_lost_percent: f64,
    /// QRs still valid and undelivered when the run ended (neither lost nor delivered).
    pub qr_unsettled: u64,
    /// QRs the policy refused or gave up on.
    pub qr_dropped_by_policy: u64,
    /// Statuses the policy gave up on (dropped while OPEN, retries exhausted, dead-lettered).
    pub status_lost: u64,
    /// Distinct statuses that reached the backend.
    pub status_delivered: u64,
    /// Items (QRs and statuses) still queued or in flight at the end.
    pub items_outstanding: u64,
    /// QR staleness at the backend, median (ms from production to arrival).
    pub qr_staleness_p50_ms: u64,
    /// QR staleness at the backend, 99th percentile.
    pub qr_staleness_p99_ms: u64,
    /// 99th percentile for QRs produced while the backend had spare capacity.
    pub qr_staleness_p99_spare_ms: u64,
    /// Longest pending episode (first QR until scan or removal; still running at the end counts).
    pub max_pending_age_ms: u64,
    /// Pending episodes longer than the 120 s timeout + 1 s.
    pub pending_over_timeout: u64,
    /// Most sessions held in memory at a sample.
    pub max_sessions_held: u64,
    /// Sessions held at the end.
    pub sessions_held_end: u64,
    /// Sessions held at each full hour.
    pub sessions_held_hourly: Vec<u64>,
    /// Sessions held at the end that are neither connected nor awaited by a user.
    pub ghost_sessions_end: u64,
    /// Deepest queue at a sample.
    pub max_queue_depth: u64,
    /// Requests per second the gateway sent, averaged over the run.
    pub backend_offered_rps: f64,
    /// Busiest minute, in requests per second.
    pub backend_offered_peak_rps: f64,
    /// The backend's nominal capacity.
    pub backend_capacity_rps: f64,
    /// 429s the backend answered.
    pub backend_throttled: u64,
    /// Requests sent.
    pub requests_sent: u64,
    /// Requests that hit the client timeout.
    pub request_timeouts: u64,
    /// Link attempts that ended with a scan.
    pub links_completed: u64,
    /// Link attempts that failed.
    pub links_failed: u64,
    /// The time series (for plots; not in the JSON).
    #[serde(skip)]
    pub series: Vec<Sample>,
}

/// Formats one policy's cell of a table row.
type Cell = Box<dyn Fn(&PolicyReport) -> String>;

/// The whole output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimReport {
    /// The scenario.
    pub scenario: Scenario,
    /// One entry per policy.
    pub policies: Vec<PolicyReport>,
}

impl SimReport {
    /// The JSON object (one line).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain data")
    }

    /// A text table, one column per policy.
    pub fn table(&self) -> String {
        let sc = &self.scenario;
        let mut out = format!(
            "scenario: {} users, {} h, seed {}, backend capacity {:.1} req/s\n",
            sc.users,
            sc.hours,
            sc.seed,
            sc.backend.capacity_rps()
        );
        let rows: Vec<(&str, Cell)> = vec![
            ("breaker opens / h", Box::new(|p| format!("{:.2}", p.breaker_opens_per_hour))),
            (
                "breaker opens (re-opens)",
                Box::new(|p| format!("{} ({})", p.breaker_opens, p.breaker_reopens)),
            ),
            ("opens outside outages", Box::new(|p| p.breaker_opens_outside_outages.to_string())),
            ("QRs produced", Box::new(|p| p.qr_produced.to_string())),
            ("QRs delivered (valid)", Box::new(|p| format!("{} ({})", p.qr_delivered, p.qr_delivered_valid))),
            ("QRs superseded", Box::new(|p| p.qr_superseded.to_string())),
            ("QRs lost", Box::new(|p| p.qr_lost.to_string())),
            ("QRs lost in outage", Box::new(|p| p.qr_lost_in_outage.to_string())),
            ("QRs lost %", Box::new(|p| format!("{:.1}", p.qr_lost_percent))),
            ("status lost", Box::new(|p| p.status_lost.to_string())),
            ("QR staleness p50 ms", Box::new(|p| p.qr_staleness_p50_ms.to_string())),
            ("QR staleness p99 ms", Box::new(|p| p.qr_staleness_p99_ms.to_string())),
            ("p99 ms, spare capacity", Box::new(|p| p.qr_staleness_p99_spare_ms.to_string())),
            ("max pending age s", Box::new(|p| format!("{:.1}", p.max_pending_age_ms as f64 / 1_000.0))),
            ("pending > timeout+1s", Box::new(|p| p.pending_over_timeout.to_string())),
            (
                "sessions held max / end",
                Box::new(|p| format!("{} / {}", p.max_sessions_held, p.sessions_held_end)),
            ),
            ("ghost sessions at end", Box::new(|p| p.ghost_sessions_end.to_string())),
            ("max queue depth", Box::new(|p| p.max_queue_depth.to_string())),
            (
                "offered req/s avg / peak",
                Box::new(|p| format!("{:.2} / {:.1}", p.backend_offered_rps, p.backend_offered_peak_rps)),
            ),
            ("backend 429s", Box::new(|p| p.backend_throttled.to_string())),
            ("links ok / failed", Box::new(|p| format!("{} / {}", p.links_completed, p.links_failed))),
        ];
        let width = 24;
        out.push_str(&format!("{:<26}", "metric"));
        for p in &self.policies {
            out.push_str(&format!("{:>width$}", p.policy));
        }
        out.push('\n');
        for (label, f) in rows {
            out.push_str(&format!("{label:<26}"));
            for p in &self.policies {
                out.push_str(&format!("{:>width$}", f(p)));
            }
            out.push('\n');
        }
        out
    }
}
