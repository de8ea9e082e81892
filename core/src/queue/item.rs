//! A queued item: what to POST, for which session, and its delivery history.
//!
//! Items keep a compact typed payload; the JSON body, path and idempotency key are built when
//! the item is dispatched, so queueing stays cheap and QR images are never rendered early.

use std::borrow::Cow;
use std::sync::Arc;

use crate::session_id::SessionId;
use serde::{Deserialize, Serialize};

use super::lane_key::LaneKey;
use crate::output::{Body, QrBody, StatusBody};

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
    /// `POST /qr {at, qr, sessionId}` (plus `qrImage`, rendered at dispatch).
    Qr(QrBody),
    /// `POST /status {at, reason?, sessionId, status}`.
    Status(StatusBody),
    /// The gateway's own call (boxed parts: QRs and statuses, the bulk of a queue, stay small).
    Custom {
        /// Path under the backend URL.
        path: Box<str>,
        /// JSON body.
        body: Box<serde_json::Value>,
        /// Session whose lane it shares.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<SessionId>,
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
    pub fn session_id(&self) -> Option<&SessionId> {
        match self {
            Self::Qr(QrBody { session_id, .. }) | Self::Status(StatusBody { session_id, .. }) => {
                Some(session_id)
            }
            Self::Custom { session_id, .. } => session_id.as_ref(),
        }
    }

    /// Path under the backend URL.
    pub fn path(&self) -> Cow<'static, str> {
        match self {
            Self::Qr { .. } => Cow::Borrowed("/qr"),
            Self::Status { .. } => Cow::Borrowed("/status"),
            Self::Custom { path, .. } => Cow::Owned(path.to_string()),
        }
    }

    /// The body (without `qrImage`, which the executor renders at dispatch); shares the
    /// payload's strings.
    pub fn body(&self) -> Body {
        match self {
            Self::Qr(qr) => Body::Qr(qr.clone()),
            Self::Status(status) => Body::Status(status.clone()),
            Self::Custom { body, .. } => Body::Json((**body).clone()),
        }
    }

    /// The QR to render into `qrImage`.
    pub fn render_qr(&self) -> Option<&Arc<str>> {
        match self {
            Self::Qr(QrBody { qr, .. }) => Some(qr),
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
    pub purge_on_return: Option<Box<str>>,
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
    pub fn idempotency_key(&self, incarnation: u64) -> String {
        idempotency_key(incarnation, self.kind(), self.payload.session_id().map(|s| &**s), self.id)
    }
}

/// `sk-<incarnation>-<kind>-<session>-<id>` (no `<session>-` without a session): unique per
/// accepted item across keeper incarnations (a keeper started without its old state reuses item
/// ids, never keys), stable across the item's retries. Built when needed (dispatch, an
/// `Enqueue`'s ack), not stored.
pub fn idempotency_key(incarnation: u64, kind: ItemKind, session_id: Option<&str>, item_id: u64) -> String {
    let kind = match kind {
        ItemKind::Qr => "qr",
        ItemKind::Status => "status",
        ItemKind::Custom => "custom",
    };
    // Built by hand: `format!` costs more than the rest of a dispatch.
    let mut digits = itoa::Buffer::new();
    let item_id = digits.format(item_id);
    let session = session_id.unwrap_or("");
    let mut key = String::with_capacity(22 + kind.len() + session.len() + item_id.len());
    key.push_str("sk-");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..16).rev() {
        key.push(char::from(HEX[((incarnation >> (shift * 4)) & 0xf) as usize]));
    }
    key.push('-');
    key.push_str(kind);
    key.push('-');
    if !session.is_empty() {
        key.push_str(session);
        key.push('-');
    }
    key.push_str(item_id);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_name_kind_session_and_item() {
        assert_eq!(idempotency_key(0, ItemKind::Qr, Some("alice"), 42), "sk-0000000000000000-qr-alice-42");
        assert_eq!(
            idempotency_key(0x0123_4567_89ab_cdef, ItemKind::Status, Some("b-1"), u64::MAX),
            format!("sk-0123456789abcdef-status-b-1-{}", u64::MAX)
        );
        assert_eq!(idempotency_key(u64::MAX, ItemKind::Custom, None, 0), "sk-ffffffffffffffff-custom-0");
    }
}
