//! The scenario: who the users are, how Baileys sockets behave, what the backend can take.
//!
//! Every figure here is part of the JSON output (`scenario`), so a run documents itself. Times are
//! milliseconds of virtual time; `t = 0` is 08:00, the gateway's morning start.

use serde::{Deserialize, Serialize};

/// One hour in milliseconds.
pub const HOUR_MS: u64 = 3_600_000;
/// One minute in milliseconds.
pub const MINUTE_MS: u64 = 60_000;

/// How the backend fails during an outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OutageKind {
    /// Connection refused (a deploy, the process is down): the client sees a network error at once.
    Refused,
    /// The proxy answers 502 (php-fpm down, database failover).
    BadGateway,
}

/// A window in which the backend is down.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outage {
    /// Start (ms).
    pub start_ms: u64,
    /// End (ms, exclusive).
    pub end_ms: u64,
    /// How it fails.
    pub kind: OutageKind,
}

/// A window in which the backend is slow (a heavy job, a cold cache): service times multiply.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlowWindow {
    /// Start (ms).
    pub start_ms: u64,
    /// End (ms, exclusive).
    pub end_ms: u64,
    /// Service-time multiplier.
    pub factor: f64,
}

/// The backend (a Laravel API behind nginx + php-fpm).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendModel {
    /// Requests served at once (php-fpm workers).
    pub workers: u32,
    /// Median service time (log-normal).
    pub service_median_ms: f64,
    /// Log-normal sigma of the service time.
    pub service_sigma: f64,
    /// Extra service time per busy worker, as a share of the base (contention: latency grows with load).
    pub contention: f64,
    /// Requests allowed to wait for a worker; beyond that the backend answers 429 with Retry-After.
    pub queue_limit: u32,
    /// Share of served requests that fail with 500 anyway.
    pub error_rate: f64,
    /// One-way network time.
    pub network_ms: u64,
    /// Slow windows.
    pub slow_windows: Vec<SlowWindow>,
    /// Outages.
    pub outages: Vec<Outage>,
}

impl BackendModel {
    /// Mean service time outside slow windows, without contention.
    pub fn mean_service_ms(&self) -> f64 {
        self.service_median_ms * (self.service_sigma * self.service_sigma / 2.0).exp()
    }

    /// Nominal capacity: workers / mean service time.
    pub fn capacity_rps(&self) -> f64 {
        f64::from(self.workers) * 1_000.0 / self.mean_service_ms()
    }

    /// The outage in force at `t`, if any.
    pub fn outage_at(&self, t: u64) -> Option<&Outage> {
        self.outages.iter().find(|o| o.start_ms <= t && t < o.end_ms)
    }

    /// The service-time factor at `t`.
    pub fn slow_factor_at(&self, t: u64) -> f64 {
        self.slow_windows.iter().find(|w| w.start_ms <= t && t < w.end_ms).map_or(1.0, |w| w.factor)
    }

    /// Whether `[from, to)` lies entirely inside outages (no request could have got through).
    pub fn down_throughout(&self, from: u64, to: u64) -> bool {
        let mut t = from;
        while t < to {
            match self.outage_at(t) {
                Some(o) => t = o.end_ms,
                None => return false,
            }
        }
        true
    }

    /// Whether the backend has spare capacity at `t` (no outage, no slow window).
    pub fn spare_at(&self, t: u64) -> bool {
        self.outage_at(t).is_none() && self.slow_factor_at(t) <= 1.0
    }
}

/// The whole scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scenario {
    /// Users (one WhatsApp session each).
    pub users: u32,
    /// Simulated hours.
    pub hours: f64,
    /// Seed of every random draw.
    pub seed: u64,
    /// Users already linked at the start: the gateway restores their sessions at boot.
    pub linked_share: f64,
    /// Boot restores the linked sessions spread over this window (the morning burst).
    pub restore_window_ms: u64,
    /// Share of new users that arrive in the morning peak (the rest spread over `spreadMs`).
    pub peak_share: f64,
    /// Centre of the morning peak.
    pub peak_center_ms: u64,
    /// Standard deviation of the morning peak.
    pub peak_sd_ms: u64,
    /// Window over which the other new users arrive.
    pub spread_ms: u64,
    /// Share of link attempts in which the user never scans.
    pub never_scan_share: f64,
    /// Minimum time before a user can scan (reach for the phone).
    pub scan_min_ms: u64,
    /// Median of the extra scan delay (log-normal).
    pub scan_median_ms: f64,
    /// Sigma of the scan delay.
    pub scan_sigma: f64,
    /// A user gives up a link attempt this long after it started.
    pub patience_ms: u64,
    /// Share of failed attempts that the user tries again.
    pub retry_share: f64,
    /// Mean delay before such a retry (exponential).
    pub retry_mean_ms: u64,
    /// Mean time between drops of a connected socket (exponential).
    pub drop_mean_ms: u64,
    /// Logouts (401) per connected session per day.
    pub logouts_per_day: f64,
    /// Share of logged-out users who link again.
    pub relink_share: f64,
    /// Mean delay before they do.
    pub relink_mean_ms: u64,
    /// Share of reconnect sockets that fail (408 after a while) instead of opening.
    pub connect_fail_share: f64,
    /// Gateway network blips: every open socket closes with 428 at these times.
    pub blips_ms: Vec<u64>,
    /// The backend.
    pub backend: BackendModel,
    /// The gateway's HTTP client timeout (every policy).
    pub client_timeout_ms: u64,
    /// Time-series sampling interval.
    pub sample_every_ms: u64,
}

impl Scenario {
    /// The documented default scenario (see sim/README.md) for `users` users over `hours` hours.
    pub fn default_for(users: u32, hours: f64, seed: u64) -> Self {
        Self {
            users,
            hours,
            seed,
            linked_share: 0.6,
            restore_window_ms: 2 * MINUTE_MS,
            peak_share: 0.6,
            peak_center_ms: 45 * MINUTE_MS,
            peak_sd_ms: 20 * MINUTE_MS,
            spread_ms: 12 * HOUR_MS,
            never_scan_share: 0.25,
            scan_min_ms: 3_000,
            scan_median_ms: 12_000.0,
            scan_sigma: 0.8,
            patience_ms: 10 * MINUTE_MS,
            retry_share: 0.5,
            retry_mean_ms: 45 * MINUTE_MS,
            drop_mean_ms: 6 * HOUR_MS,
            logouts_per_day: 0.03,
            relink_share: 0.5,
            relink_mean_ms: 2 * HOUR_MS,
            connect_fail_share: 0.03,
            blips_ms: vec![3 * HOUR_MS, 13 * HOUR_MS],
            backend: BackendModel {
                workers: 2,
                service_median_ms: 250.0,
                service_sigma: 0.7,
                contention: 0.15,
                queue_limit: 20,
                error_rate: 0.005,
                network_ms: 10,
                slow_windows: vec![
                    SlowWindow { start_ms: 75 * MINUTE_MS, end_ms: 105 * MINUTE_MS, factor: 6.0 },
                    SlowWindow { start_ms: 10 * HOUR_MS, end_ms: 10 * HOUR_MS + 30 * MINUTE_MS, factor: 6.0 },
                ],
                outages: vec![
                    Outage {
                        start_ms: 5 * HOUR_MS,
                        end_ms: 5 * HOUR_MS + 4 * MINUTE_MS,
                        kind: OutageKind::Refused,
                    },
                    Outage {
                        start_ms: 16 * HOUR_MS,
                        end_ms: 16 * HOUR_MS + 3 * MINUTE_MS,
                        kind: OutageKind::BadGateway,
                    },
                ],
            },
            client_timeout_ms: 10_000,
            sample_every_ms: MINUTE_MS,
        }
    }

    /// Simulated duration in ms.
    pub fn horizon_ms(&self) -> u64 {
        (self.hours * HOUR_MS as f64).round() as u64
    }

    /// Outages that start within the horizon.
    pub fn outages_in_horizon(&self) -> usize {
        self.backend.outages.iter().filter(|o| o.start_ms < self.horizon_ms()).count()
    }
}
