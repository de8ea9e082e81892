//! A queued item: what to POST, for which session, and its delivery history.
//!
//! Items keep a compact typed payload; the JSON body, path and idempotency key are built when
//! the item is dispatched, so queueing stays cheap and QR images are never rendered early.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::lane_key::LaneKey;
use crate::session::BackendStatus;

/// What an item is, which decides coalescing and purging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ItemKind {
    /// A QR for `/qr`: coalesced per session, purged when the session goes.
    Qr,
    /// A status for `/status`: never coalesced, delivered even after the session goes.
    Status,
    /// The gateway's own call.
    Custom,
}

/// The content of an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Payload {
    /// `POST /qr {sessionId, qr, qrImage, at}`.
    Qr {
        /// Session.
        session_id: String,
        /// The QR string.
        qr: String,
        /// When Baileys produced it.
        at: u64,
    },
    /// `POST /status {sessionId, status, reason?, at}`.
    Status {
        /// Session.
        session_id: String,
        /// The status.
        status: BackendStatus,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// When it happened.
        at: u64,
    },
    /// The gateway's own call.
    Custom {
        /// Path under the backend URL.
        path: String,
        /// JSON body.
        body: serde_json::Value,
        /// Session whose lane it shares.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
    },
}

impl Payload {
    /// Its kind.
    pub fn kind(&self) -> ItemKind {
        match self {
            Self::Qr { .. } => ItemKind::Qr,
            Self::Status { .. } => ItemKind::Status,
            Self::Custom { .. } => ItemKind::Custom,
        }
    }

    /// The session it belongs to.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Self::Qr { session_id, .. } | Self::Status { session_id, .. } => Some(session_id),
            Self::Custom { session_id, .. } => session_id.as_deref(),
        }
    }

    /// Path under the backend URL.
    pub fn path(&self) -> &str {
        match self {
            Self::Qr { .. } => "/qr",
            Self::Status { .. } => "/status",
            Self::Custom { path, .. } => path,
        }
    }

    /// The JSON body (without `qrImage`, which the executor renders at dispatch).
    pub fn body(&self) -> serde_json::Value {
        match self {
            Self::Qr { session_id, qr, at } => json!({ "sessionId": session_id, "qr": qr, "at": at }),
            Self::Status { session_id, status, reason, at } => {
                let mut body = json!({ "sessionId": session_id, "status": status.as_str(), "at": at });
                if let Some(reason) = reason {
                    body["reason"] = json!(reason);
                }
                body
            }
            Self::Custom { body, .. } => body.clone(),
        }
    }

    /// The QR to render into `qrImage`.
    pub fn render_qr(&self) -> Option<&str> {
        match self {
            Self::Qr { qr, .. } => Some(qr),
            _ => None,
        }
    }
}

/// An item as the queue is asked to take it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    /// Lane: items of one lane are delivered in order.
    pub lane: LaneKey,
    /// Coalescing key (latest wins): a newer item with the same key replaces a queued one.
    pub coalesce_key: Option<LaneKey>,
    /// Content.
    pub payload: Payload,
}

/// An item in a lane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    /// Unique, increasing.
    pub id: u64,
    /// Position key within its lane: the id of the first item that held this place, kept when a
    /// newer item supersedes it, so lanes stay sorted by `seq` (binary search, not scans).
    pub seq: u64,
    /// Content.
    pub payload: Payload,
    /// Coalescing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coalesce_key: Option<LaneKey>,
    /// When it was accepted.
    pub accepted_at: u64,
    /// Dispatches so far.
    pub attempts: u32,
    /// Failed attempts (timeouts, 5xx, network) so far; throttling does not count.
    pub failures: u32,
    /// Not dispatched before this time (retry backoff, Retry-After).
    pub not_before: u64,
    /// The delivery in flight, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<u64>,
    /// Its session went away while it was in flight: drop it instead of retrying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_on_return: Option<String>,
}

impl Item {
    /// Builds an accepted item.
    pub fn new(id: u64, new: NewItem, now: u64) -> Self {
        Self {
            id,
            seq: id,
            payload: new.payload,
            coalesce_key: new.coalesce_key,
            accepted_at: now,
            attempts: 0,
            failures: 0,
            not_before: now,
            in_flight: None,
            purge_on_return: None,
        }
    }

    /// Its kind.
    pub fn kind(&self) -> ItemKind {
        self.payload.kind()
    }

    /// Replaces the content with a newer item of the same key, keeping the place in the lane.
    pub fn supersede(&mut self, id: u64, new: NewItem, now: u64) {
        let (not_before, seq) = (self.not_before, self.seq);
        *self = Self::new(id, new, now);
        self.not_before = not_before.max(now);
        self.seq = seq;
    }

    /// Its idempotency key (see [`idempotency_key`]).
    pub fn idempotency_key(&self) -> String {
        idempotency_key(self.kind(), self.payload.session_id(), self.id)
    }
}

/// `sk-<kind>-<session>-<id>`: unique per accepted item, stable across its retries. Built when
/// needed (dispatch, an `Enqueue`'s ack), not stored.
pub fn idempotency_key(kind: ItemKind, session_id: Option<&str>, item_id: u64) -> String {
    let kind = match kind {
        ItemKind::Qr => "qr",
        ItemKind::Status => "status",
        ItemKind::Custom => "custom",
    };
    match session_id {
        Some(session) => format!("sk-{kind}-{session}-{item_id}"),
        None => format!("sk-{kind}-{item_id}"),
    }
}
