//! The JSON shapes of `GET /sessions` and `GET /health` (DESIGN.md), built by `&self` getters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::breaker::BreakerView;
use crate::output::DeadLetter;
use crate::session::SessionState;

/// `GET /sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionsView {
    /// Every session, by id.
    pub sessions: Vec<SessionView>,
    /// Sessions in a pending (QR) episode.
    pub pending_sessions: Vec<PendingView>,
    /// `pendingSessions.length`.
    pub pending_count: usize,
}

/// One session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// Id.
    pub session_id: String,
    /// Lifecycle state.
    pub state: SessionState,
    /// When it was added.
    pub created_at: u64,
    /// Last event seen for it.
    pub last_event_at: u64,
    /// Since when it has not been connected (absent while connected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_connected_since: Option<u64>,
    /// When inactivity removes it (absent while connected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inactive_at: Option<u64>,
    /// Reconnect attempts since it was last connected.
    pub reconnect_attempt: u32,
    /// When the scheduled reconnect is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconnect_at: Option<u64>,
    /// Status code of the last close.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_disconnect_code: Option<u16>,
    /// Whether a QR is available at `/sessions/{id}/qr`.
    pub has_qr: bool,
}

/// A session in a pending episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingView {
    /// Id.
    pub session_id: String,
    /// First QR of the episode.
    pub since: u64,
    /// `now - since`.
    pub age_ms: u64,
    /// QRs shown in this episode.
    pub qr_count: u32,
    /// When the episode expires.
    pub expires_at: u64,
}

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthView {
    /// `ok`, or `degraded` when the breaker is OPEN or there are alerts.
    pub status: HealthStatus,
    /// Sessions held.
    pub active_sessions: usize,
    /// Sessions held, by state.
    pub sessions_by_state: SessionStateCounts,
    /// Sessions connected.
    pub connected_sessions: usize,
    /// Sessions in a pending episode.
    pub pending_count: usize,
    /// Sessions reconnecting.
    pub reconnecting_sessions: usize,
    /// Sessions holding a reconnect slot.
    pub reconnect_slots_in_use: usize,
    /// The breaker.
    pub circuit_breaker: BreakerView,
    /// The sync queue.
    pub queue: QueueView,
    /// Session counters.
    pub counters: SessionCounters,
    /// What needs an operator's attention.
    pub alerts: Vec<Alert>,
    /// The time the view was taken at.
    pub now: u64,
}

impl HealthView {
    /// What `/health` shows a caller without the API key (it is open to load balancers):
    /// counts only, no session ids (phone numbers), backend paths or idempotency keys.
    pub fn counts_only(mut self) -> Self {
        self.queue.dead_letters.clear();
        self
    }
}

/// A kept dead letter with the body its item would be sent with (`GET /dead-letters`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterDetail {
    /// The letter, as `health` lists it.
    #[serde(flatten)]
    pub letter: DeadLetter,
    /// The request body (a QR's without its rendered image).
    pub body: serde_json::Value,
}

/// The queue as `health` shows it. `accepted = queued + inFlight + delivered + superseded +
/// deadLettered + purged` holds at every moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueView {
    /// Items waiting (not in flight).
    pub depth: u64,
    /// Requests in flight.
    pub in_flight: u64,
    /// QRs waiting for their session's earlier statuses to leave; counted in `accepted` only
    /// once they are queued.
    pub held_qrs: u64,
    /// Items ever accepted.
    pub accepted: u64,
    /// Items the backend took (2xx).
    pub delivered: u64,
    /// Items replaced by a newer one with the same key.
    pub superseded: u64,
    /// Items given up on.
    pub dead_lettered: u64,
    /// Items dropped on purpose (QRs of removed or scanned sessions), by reason in `purgedBy`.
    pub purged: u64,
    /// Purged items by reason.
    pub purged_by: BTreeMap<String, u64>,
    /// Failed attempts that were retried.
    pub retries: u64,
    /// 429/503 answers.
    pub throttled: u64,
    /// Results for deliveries not in flight (late, duplicate or unknown).
    pub unknown_results: u64,
    /// Capacity.
    pub capacity: u32,
    /// Current spacing between dispatches (ms).
    pub spacing_ms: u64,
    /// Pacing paused by Retry-After until then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<u64>,
    /// Whether the conservation equation holds (it always should).
    pub conservation_ok: bool,
    /// The most recent dead letters (bounded by `deadLetterLimit`).
    pub dead_letters: Vec<DeadLetter>,
    /// Dead letters kept (retryable); also shown when `deadLetters` is left out.
    pub dead_letters_kept: u64,
    /// Dead letters sent again by an operator.
    pub dead_letters_retried: u64,
    /// Dead letters discarded by an operator.
    pub dead_letters_discarded: u64,
}

/// Session counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionCounters {
    /// Sessions ever added.
    pub added: u64,
    /// Sessions removed, all reasons.
    pub removed: u64,
    /// Pending episodes that expired.
    pub expired: u64,
    /// Sessions removed by inactivity.
    pub inactive_removed: u64,
    /// QRs forwarded to the queue.
    pub qr_accepted: u64,
    /// Reconnect commands issued.
    pub reconnects_issued: u64,
    /// Reconnects that had to wait for a slot.
    pub reconnects_deferred: u64,
    /// 440 loops detected.
    pub replaced_loops: u64,
}

/// Sessions held, by state (every state present, zeros included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionStateCounts {
    /// Added, no socket event yet.
    pub new: usize,
    /// Socket opening.
    pub connecting: usize,
    /// Showing QRs.
    pub pending: usize,
    /// QR scanned, restarting into the login.
    pub scanned: usize,
    /// Logged in.
    pub connected: usize,
    /// Waiting for or running a reconnect.
    pub reconnecting: usize,
}

impl SessionStateCounts {
    /// `(state, count)` in a fixed order, for metrics.
    pub fn iter(&self) -> [(SessionState, usize); 6] {
        [
            (SessionState::New, self.new),
            (SessionState::Connecting, self.connecting),
            (SessionState::Pending, self.pending),
            (SessionState::Scanned, self.scanned),
            (SessionState::Connected, self.connected),
            (SessionState::Reconnecting, self.reconnecting),
        ]
    }
}

/// The overall verdict of `GET /health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Nothing needs attention.
    Ok,
    /// The breaker is OPEN or an alert is raised.
    Degraded,
}

impl HealthStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Degraded => "degraded",
        }
    }
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The breaker has not been CLOSED for longer than `breakerOpenAlertAfter`.
    BreakerOpen,
    /// More sessions pending than `pendingAlertThreshold`.
    PendingSessions,
    /// The queue is at 90 % of `maxQueueSize` or more.
    QueueNearCapacity,
    /// The queue's books do not balance (a bug: it should never fire).
    Accounting,
}

impl AlertKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BreakerOpen => "breaker_open",
            Self::PendingSessions => "pending_sessions",
            Self::QueueNearCapacity => "queue_near_capacity",
            Self::Accounting => "accounting",
        }
    }
}

/// Something an operator should look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// What it is about.
    pub kind: AlertKind,
    /// Human-readable.
    pub message: String,
}
