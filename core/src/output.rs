//! Everything the caller must do: one `Output` enum, serde-tagged by `type`.

use serde::{Deserialize, Serialize};

use crate::breaker::BreakerState;
use crate::session::SessionState;

/// One thing to do now, drained with [`crate::Keeper::poll_output`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Output {
    /// POST this to the backend and report the outcome with `Input::DeliveryResult`.
    Deliver(Delivery),
    /// Tell the worker owning the session's socket to close or reconnect it.
    Command(Command),
    /// A session changed state (for logs, metrics and UIs; the backend is told through the queue).
    SessionChanged(SessionChange),
    /// The circuit breaker changed state.
    BreakerChanged(BreakerChange),
    /// An item will not be retried any more; it is kept in `health().queue.deadLetters`.
    DeadLettered(DeadLetter),
}

/// A request to the backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// Identifies this attempt; echo it in `Input::DeliveryResult`.
    pub delivery_id: u64,
    /// The queued item (stable across retries).
    pub item_id: u64,
    /// Stable per item; send as the `Idempotency-Key` header.
    pub idempotency_key: String,
    /// Path under `laravelApiUrl` (`/qr`, `/status`, or the gateway's own).
    pub path: String,
    /// The JSON body to POST.
    pub body: serde_json::Value,
    /// When set, render this QR string as an image (data URL) and put it in `body.qrImage`
    /// before sending: images are rendered at dispatch, never while queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub render_qr: Option<String>,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The session whose lane the item is in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// What a worker must do with a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CommandKind {
    /// End the socket (and forget the session).
    Close,
    /// Start a new socket for the session now.
    Reconnect,
}

/// A socket command for the worker that owns the session.
///
/// Inside `Output` it serialises as `{"type":"command","command":"close",...}`;
/// [`Command::to_event`] gives the `/commands` shape `{"type":"close",...}` of DESIGN.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Command {
    /// `close` or `reconnect`.
    #[serde(rename = "command")]
    pub kind: CommandKind,
    /// The session.
    pub session_id: String,
    /// Why (`expired`, `logged_out`, `inactive`, `backoff`, `restart_required`, ...).
    pub reason: String,
    /// When the command was issued (unix ms).
    pub at: u64,
}

impl Command {
    /// The event shape workers consume (`GET /commands`, the js-shim's `'command'` event):
    /// `{"type": "close"|"reconnect", "sessionId", "reason", "at"}`.
    pub fn to_event(&self) -> serde_json::Value {
        serde_json::json!({
            "type": self.kind,
            "sessionId": self.session_id,
            "reason": self.reason,
            "at": self.at,
        })
    }
}

/// A session's state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionChange {
    /// The session.
    pub session_id: String,
    /// Its new state (`removed` when it left the keeper).
    pub state: SessionState,
    /// Why, when there is a reason worth telling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When (unix ms).
    pub at: u64,
}

/// A breaker transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakerChange {
    /// State before.
    pub from: BreakerState,
    /// State after.
    pub to: BreakerState,
    /// When (unix ms).
    pub at: u64,
}

/// An item given up on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The item.
    pub item_id: u64,
    /// Its idempotency key.
    pub idempotency_key: String,
    /// Its path.
    pub path: String,
    /// The session whose lane it was in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// `rejected (422)`, `max attempts`, `max age`.
    pub reason: String,
    /// Attempts made.
    pub attempts: u32,
    /// When (unix ms).
    pub at: u64,
}
