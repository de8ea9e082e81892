//! Everything the caller must do: one `Output` enum, serde-tagged by `type`.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};

use crate::breaker::BreakerState;
use crate::meta::Meta;
use crate::reasons::Reason;
use crate::session::{BackendStatus, SessionState};
use crate::session_id::SessionId;

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
    pub path: Cow<'static, str>,
    /// The JSON body to POST.
    pub body: Body,
    /// When set, render this QR string as an image (data URL) and put it in `body.qrImage`
    /// before sending: images are rendered at dispatch, never while queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub render_qr: Option<Arc<str>>,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The session whose lane the item is in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
}

/// `{at, meta?, qr, sessionId}`, the body of a QR for `/qr` (the fields are in key order: that
/// is the JSON). The queue keeps it as is and a delivery shares its strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QrBody {
    /// When Baileys produced it (unix ms).
    pub at: u64,
    /// The gateway's fields for the session, when it gave any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// The QR string (shared with the session's last QR).
    pub qr: Arc<str>,
    /// Session (shared with the session table).
    pub session_id: SessionId,
}

/// `{at, meta?, reason?, sessionId, status}`, the body of a status for `/status` (fields in key
/// order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusBody {
    /// When it happened (unix ms).
    pub at: u64,
    /// The gateway's fields for the session, when it gave any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Why it happened (`closed (428)`, `logged_out`, `inactive`, ...); absent for `pending` and `connected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// Session (shared with the session table).
    pub session_id: SessionId,
    /// The status.
    pub status: BackendStatus,
}

/// A delivery's JSON body. QRs and statuses are kept typed, so dispatching one builds no JSON
/// tree; it serialises to the same JSON object as [`Body::to_value`], keys in sorted order.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Body {
    /// A QR.
    Qr(QrBody),
    /// A status.
    Status(StatusBody),
    /// The gateway's own body, as given.
    Json(serde_json::Value),
}

impl Body {
    /// The body as a JSON value (to add `qrImage`, or to inspect it).
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Self::Json(v) => v.clone(),
            typed => serde_json::to_value(typed).expect("plain data serialises"),
        }
    }
}

// Equal when the JSON is: a body read back from JSON is `Json` but equals the typed original.
impl PartialEq for Body {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Json(a), Self::Json(b)) => a == b,
            _ => self.to_value() == other.to_value(),
        }
    }
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(d).map(Self::Json)
    }
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

impl CommandKind {
    /// Every command (the npm package's `CommandType` is generated from it).
    pub const ALL: [CommandKind; 2] = [Self::Close, Self::Reconnect];
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
    /// The session (shared with the session table).
    pub session_id: SessionId,
    /// Why (`max_qr_codes`, `logged_out`, `inactive`, `backoff`, `restart_required`, ...).
    pub reason: Reason,
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
    /// The session (shared with the session table).
    pub session_id: SessionId,
    /// Its new state (`removed` when it left the keeper).
    pub state: SessionState,
    /// Why, when there is a reason worth telling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
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
    pub path: Cow<'static, str>,
    /// The session whose lane it was in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    /// `rejected (422)`, `max attempts`, `max age`.
    pub reason: String,
    /// Attempts made.
    pub attempts: u32,
    /// When (unix ms).
    pub at: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_bodies_serialise_like_their_json() {
        let qr = Body::Qr(QrBody { session_id: "s1".into(), qr: "2@abc".into(), at: 7, meta: None });
        assert_eq!(serde_json::to_string(&qr).unwrap(), r#"{"at":7,"qr":"2@abc","sessionId":"s1"}"#);
        let status = Body::Status(StatusBody {
            session_id: "s1".into(),
            status: BackendStatus::Disconnected,
            reason: Some(Reason::Closed(Some(428))),
            at: 9,
            meta: Some(serde_json::from_str(r#"{"phone":"49151"}"#).unwrap()),
        });
        let json = serde_json::to_string(&status).unwrap();
        assert_eq!(
            json,
            r#"{"at":9,"meta":{"phone":"49151"},"reason":"closed (428)","sessionId":"s1","status":"disconnected"}"#
        );
        let back: Body = serde_json::from_str(&json).unwrap();
        assert!(matches!(back, Body::Json(_)));
        assert_eq!(back, status, "equal by JSON");
        assert_eq!(status.to_value()["status"], "disconnected");
        let bare = Body::Status(StatusBody {
            session_id: "s".into(),
            status: BackendStatus::Connected,
            reason: None,
            at: 1,
            meta: None,
        });
        assert_eq!(serde_json::to_string(&bare).unwrap(), r#"{"at":1,"sessionId":"s","status":"connected"}"#);
    }
}
