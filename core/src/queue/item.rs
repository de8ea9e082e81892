//! A queued item: what to POST, for which session, and its delivery history.

use serde::{Deserialize, Serialize};

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

/// An item as the queue is asked to take it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    /// What it is.
    pub kind: ItemKind,
    /// Lane: items of one lane are delivered in order.
    pub lane: String,
    /// Coalescing key (latest wins).
    pub coalesce_key: Option<String>,
    /// Path under the backend URL.
    pub path: String,
    /// JSON body.
    pub body: serde_json::Value,
    /// QR to render into `qrImage` at dispatch.
    pub render_qr: Option<String>,
    /// Session the item belongs to.
    pub session_id: Option<String>,
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
    /// Stable across retries.
    pub idempotency_key: String,
    /// What it is.
    pub kind: ItemKind,
    /// Coalescing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coalesce_key: Option<String>,
    /// Path.
    pub path: String,
    /// Body.
    pub body: serde_json::Value,
    /// QR to render at dispatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub render_qr: Option<String>,
    /// Session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
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
    #[serde(default)]
    pub purge_on_return: Option<String>,
}

impl Item {
    /// Builds an accepted item.
    pub fn new(id: u64, new: NewItem, now: u64) -> Self {
        Self {
            id,
            seq: id,
            idempotency_key: idempotency_key(id, &new),
            kind: new.kind,
            coalesce_key: new.coalesce_key,
            path: new.path,
            body: new.body,
            render_qr: new.render_qr,
            session_id: new.session_id,
            accepted_at: now,
            attempts: 0,
            failures: 0,
            not_before: now,
            in_flight: None,
            purge_on_return: None,
        }
    }

    /// Replaces the content with a newer item of the same key, keeping the place in the lane.
    pub fn supersede(&mut self, id: u64, new: NewItem, now: u64) {
        let (not_before, seq) = (self.not_before, self.seq);
        *self = Self::new(id, new, now);
        self.not_before = not_before.max(now);
        self.seq = seq;
    }
}

/// `sk-<kind>-<session>-<id>`: unique per accepted item, stable across its retries.
fn idempotency_key(id: u64, new: &NewItem) -> String {
    let kind = match new.kind {
        ItemKind::Qr => "qr",
        ItemKind::Status => "status",
        ItemKind::Custom => "custom",
    };
    match &new.session_id {
        Some(session) => format!("sk-{kind}-{session}-{id}"),
        None => format!("sk-{kind}-{id}"),
    }
}
