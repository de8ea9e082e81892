//! Everything that can happen to the keeper: one `Input` enum, serde-tagged by `type`.
//!
//! The same JSON is the trace format of the parity tests and the wasm boundary.

use serde::{Deserialize, Serialize};

use crate::baileys::ConnectionUpdate;
use crate::breaker::OutcomeClass;
use crate::meta::Meta;

/// One thing that happened, fed through [`crate::Keeper::handle`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Input {
    /// A gateway started managing a session (seed: `POST /sessions`).
    AddSession {
        /// The session's id.
        session_id: String,
        /// The gateway's own fields (a phone number, a tenant), sent in every `/qr` and
        /// `/status` body of the session as `meta`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        meta: Option<Meta>,
    },
    /// An operator removed a session; its socket is closed and the backend told `removed`.
    RemoveSession {
        /// The session's id.
        session_id: String,
        /// Why, reported to the backend (default `removed_by_operator`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A Baileys `connection.update` for a session's current socket.
    ConnectionUpdate {
        /// The session's id.
        session_id: String,
        /// The raw event.
        update: ConnectionUpdate,
    },
    /// The result of a [`crate::Output::Deliver`].
    DeliveryResult {
        /// The `deliveryId` of the delivery.
        delivery_id: u64,
        /// What the backend did.
        outcome: DeliveryOutcome,
    },
    /// A backend call of the gateway's own, delivered through the queue.
    Enqueue {
        /// Path under the backend's base URL, starting with `/`.
        path: String,
        /// JSON body.
        payload: serde_json::Value,
        /// Coalescing key: a newer item with the same key replaces a queued one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// Session whose order this item keeps (it shares that session's lane).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
    },
    /// Operator command: remove sessions that are neither connected nor pending and have been
    /// idle (no event) for at least `idleForMs` (default `inactiveSessionTimeout`).
    CleanupInactive {
        /// Minimum idle time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idle_for_ms: Option<u64>,
    },
    /// Operator command: expire pending sessions whose episode started at least `olderThanMs`
    /// ago (default `pendingSessionTimeout`: a login in progress is never cut short).
    CleanupPending {
        /// Minimum episode age.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        older_than_ms: Option<u64>,
    },
    /// The host restarted from a snapshot: requests that were in flight will never report, so
    /// they are put back at the front of their lanes (at-least-once; idempotency keys dedupe).
    Restarted,
    /// Operator command: send a kept dead letter again (same idempotency key), at the end of
    /// its lane. A dead QR is not sent again: it expired long ago.
    RetryDeadLetter {
        /// The dead letter's `itemId`.
        item_id: u64,
    },
    /// Operator command: forget a kept dead letter.
    DiscardDeadLetter {
        /// The dead letter's `itemId`.
        item_id: u64,
    },
}

/// What the backend answered to a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum DeliveryOutcome {
    /// An HTTP response arrived.
    Response {
        /// HTTP status code.
        status: u16,
        /// The raw `Retry-After` header (seconds or HTTP-date), if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<String>,
    },
    /// No response within the caller's timeout.
    Timeout,
    /// Connection refused, reset, DNS failure, TLS error...
    NetworkError {
        /// What went wrong, for logs and dead letters.
        #[serde(default)]
        message: String,
    },
}

impl DeliveryOutcome {
    /// What the answer means for the breaker, the pacer and the item; every edge counts
    /// outcomes by this class, so metrics and decisions cannot disagree.
    ///
    /// 2xx success; 429, and 503 with `Retry-After`, throttled; failures (the item is held and
    /// retried, and the breaker counts them): 5xx, 1xx, timeouts, connection errors, and the
    /// 4xx that say the backend cannot take anything right now rather than that this item is
    /// bad: 401/403 (credentials being rotated), 404 (a deploy without the route yet), 408,
    /// 421, 425. Other 4xx and 3xx (redirects are never followed: the request as sent was not
    /// taken) are rejected: the item is dead-lettered.
    pub fn class(&self) -> OutcomeClass {
        match self {
            Self::Response { status, retry_after } => match *status {
                200..=299 => OutcomeClass::Success,
                429 => OutcomeClass::Throttled,
                503 if retry_after.is_some() => OutcomeClass::Throttled,
                401 | 403 | 404 | 408 | 421 | 425 => OutcomeClass::Failure,
                300..=499 => OutcomeClass::Rejected,
                _ => OutcomeClass::Failure,
            },
            Self::Timeout | Self::NetworkError { .. } => OutcomeClass::Failure,
        }
    }
}
