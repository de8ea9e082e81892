//! What a run records, and how it becomes a [`PolicyReport`].
//!
//! QR accounting (per QR a socket produced):
//! - its Baileys lifetime ends when the next QR of its socket appears or the socket ends;
//! - it is *valid* until that end or until a newer QR of the same session reached the backend,
//!   whichever comes first;
//! - *delivered* = it reached the backend (served with 2xx) at all; staleness = arrival -
//!   production;
//! - *lost* = it did not reach the backend while valid. A lost QR whose whole valid window lay
//!   inside backend outages could not have been delivered by any policy: it is counted apart as
//!   `qrLostInOutage`. QRs still valid when the run ends and not yet delivered are `qrUnsettled`.

use std::collections::BTreeSet;

use crate::policies::{Books, BreakerLevel};
use crate::report::{PolicyReport, Sample};
use crate::scenario::{Scenario, HOUR_MS, MINUTE_MS};
use crate::stats::percentile;

/// One QR a socket produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QrRec {
    /// Its user.
    pub user: u32,
    /// Produced at.
    pub produced: u64,
    /// End of its Baileys lifetime (`u64::MAX` while current).
    pub end: u64,
    /// First arrival at the backend.
    pub arrived: Option<u64>,
    /// The backend had spare capacity when it was produced.
    pub spare: bool,
}

/// Raw records of one run.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Every QR.
    pub qrs: Vec<QrRec>,
    /// Idempotency keys of statuses that reached the backend.
    pub status_arrived: BTreeSet<String>,
    /// Requests the gateway sent.
    pub requests_sent: u64,
    /// Requests sent per minute.
    pub per_minute: Vec<u32>,
    /// Requests that hit the client timeout.
    pub timeouts: u64,
    /// Pending episodes that ended.
    pub episodes: u64,
    /// Longest pending episode (ms).
    pub max_pending_age: u64,
    /// Episodes longer than 121 s (the timeout + 1 s).
    pub pending_over_timeout: u64,
    /// Times of CLOSED -> OPEN transitions.
    pub open_times: Vec<u64>,
    /// Link attempts that ended with a scan.
    pub links_ok: u64,
    /// Link attempts the user gave up (or that the gateway ended).
    pub links_failed: u64,
    /// Time series.
    pub samples: Vec<Sample>,
}

/// Pending timeout the targets are measured against (the seed's 120 s) plus 1 s.
pub const PENDING_LIMIT_MS: u64 = 121_000;

impl Metrics {
    /// A request left at `now`.
    pub fn sent(&mut self, now: u64) {
        self.requests_sent += 1;
        let minute = (now / MINUTE_MS) as usize;
        if self.per_minute.len() <= minute {
            self.per_minute.resize(minute + 1, 0);
        }
        self.per_minute[minute] += 1;
    }

    /// A pending episode of `age` ms ended (or was still running at the end).
    pub fn episode(&mut self, age: u64) {
        self.episodes += 1;
        self.max_pending_age = self.max_pending_age.max(age);
        if age > PENDING_LIMIT_MS {
            self.pending_over_timeout += 1;
        }
    }

    /// Breaker transitions reported by the policy.
    pub fn breaker_changes(&mut self, changes: &[(u64, BreakerLevel, BreakerLevel)]) {
        for &(at, from, to) in changes {
            if from == 0 && to == 2 {
                self.open_times.push(at);
            }
        }
    }

    /// The report of this run.
    pub fn summarize(
        &self,
        sc: &Scenario,
        name: String,
        books: Books,
        ghosts: u64,
        backend_throttled: u64,
    ) -> PolicyReport {
        let horizon = sc.horizon_ms();
        let hours = horizon as f64 / HOUR_MS as f64;
        // Earliest arrival of a newer QR, per QR (QRs are indexed in production order).
        let mut newer_arrival = vec![u64::MAX; self.qrs.len()];
        let mut best_by_user: std::collections::BTreeMap<u32, u64> = std::collections::BTreeMap::new();
        for (i, q) in self.qrs.iter().enumerate().rev() {
            let best = best_by_user.entry(q.user).or_insert(u64::MAX);
            newer_arrival[i] = *best;
            if let Some(a) = q.arrived {
                *best = (*best).min(a);
            }
        }
        let (mut delivered, mut delivered_valid, mut lost, mut lost_outage, mut unsettled) = (0, 0, 0, 0, 0);
        let mut staleness = Vec::new();
        let mut staleness_spare = Vec::new();
        for (i, q) in self.qrs.iter().enumerate() {
            let valid_end = q.end.min(newer_arrival[i]);
            if let Some(a) = q.arrived {
                delivered += 1;
                staleness.push(a - q.produced);
                if q.spare {
                    staleness_spare.push(a - q.produced);
                }
            }
            if q.arrived.is_some_and(|a| a < valid_end) {
                delivered_valid += 1;
            } else if valid_end > horizon {
                unsettled += 1;
            } else if sc.backend.down_throughout(q.produced, valid_end) {
                lost_outage += 1;
            } else {
                lost += 1;
            }
        }
        staleness.sort_unstable();
        staleness_spare.sort_unstable();
        let outside = self
            .open_times
            .iter()
            .filter(|t| {
                // An opening counts as "during an outage" up to a client timeout after its end.
                !sc.backend.outages.iter().any(|o| {
                    o.start_ms <= **t && **t < o.end_ms + sc.client_timeout_ms + sc.backend.network_ms * 2
                })
            })
            .count() as u64;
        let settled = (self.qrs.len() as u64).saturating_sub(unsettled);
        let hourly: Vec<u64> =
            self.samples.iter().filter(|s| s.t % HOUR_MS == 0).map(|s| s.sessions_held).collect();
        let peak_minute = self.per_minute.iter().copied().max().unwrap_or(0);
        PolicyReport {
            policy: name,
            breaker_opens_per_hour: round2(books.breaker_opens as f64 / hours.max(1e-9)),
            breaker_opens: books.breaker_opens,
            breaker_reopens: books.breaker_reopens,
            breaker_opens_outside_outages: outside,
            qr_produced: self.qrs.len() as u64,
            qr_delivered: delivered,
            qr_delivered_valid: delivered_valid,
            qr_superseded: books.qr_superseded,
            qr_lost: lost,
            qr_lost_in_outage: lost_outage,
            qr_lost_percent: round2(100.0 * (lost + lost_outage) as f64 / (settled.max(1)) as f64),
            qr_unsettled: unsettled,
            qr_dropped_by_policy: books.qr_dropped,
            status_lost: books.status_dropped,
            status_delivered: self.status_arrived.len() as u64,
            items_outstanding: books.items_outstanding,
            qr_staleness_p50_ms: percentile(&staleness, 50.0),
            qr_staleness_p99_ms: percentile(&staleness, 99.0),
            qr_staleness_p99_spare_ms: percentile(&staleness_spare, 99.0),
            max_pending_age_ms: self.max_pending_age,
            pending_over_timeout: self.pending_over_timeout,
            max_sessions_held: self.samples.iter().map(|s| s.sessions_held).max().unwrap_or(0),
            sessions_held_end: self.samples.last().map_or(0, |s| s.sessions_held),
            sessions_held_hourly: hourly,
            ghost_sessions_end: ghosts,
            max_queue_depth: self.samples.iter().map(|s| s.queue_depth).max().unwrap_or(0),
            backend_offered_rps: round2(self.requests_sent as f64 / (horizon as f64 / 1_000.0).max(1e-9)),
            backend_offered_peak_rps: round2(f64::from(peak_minute) / 60.0),
            backend_capacity_rps: round2(sc.backend.capacity_rps()),
            backend_throttled,
            requests_sent: self.requests_sent,
            request_timeouts: self.timeouts,
            links_completed: self.links_ok,
            links_failed: self.links_failed,
            series: self.samples.clone(),
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
