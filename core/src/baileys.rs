//! Baileys' `connection.update` event as it arrives on the wire, and what a close means.
//!
//! The event is partial: any subset of its fields may be present. Unknown fields are ignored so
//! a worker can forward the object unchanged.

use serde::{Deserialize, Serialize};

/// The socket's connection state as Baileys reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Connection {
    /// The socket is opening.
    Connecting,
    /// Logged in and usable.
    Open,
    /// The socket ended; `lastDisconnect` says why.
    Close,
}

/// A Baileys `connection.update` (partial; every field optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionUpdate {
    /// `connecting` | `open` | `close`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<Connection>,
    /// A QR string to show to the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr: Option<String>,
    /// True right after the user scanned a QR (a 515 restart follows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_new_login: Option<bool>,
    /// Why the socket closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_disconnect: Option<LastDisconnect>,
}

/// `lastDisconnect` of a close event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastDisconnect {
    /// The Boom error Baileys closed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<DisconnectError>,
}

/// The parts of a Boom error that matter: `output.statusCode` and the message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DisconnectError {
    /// `error.message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `error.output`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<ErrorOutput>,
}

/// `error.output` of a Boom error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorOutput {
    /// The DisconnectReason code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
}

impl ConnectionUpdate {
    /// The close's status code, if any.
    pub fn status_code(&self) -> Option<u16> {
        self.last_disconnect.as_ref()?.error.as_ref()?.output.as_ref()?.status_code
    }

    /// The close's error message, if any.
    pub fn error_message(&self) -> Option<&str> {
        self.last_disconnect.as_ref()?.error.as_ref()?.message.as_deref()
    }

    /// Parses a raw JSON `connection.update`; the error names what is wrong.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }
}

/// Baileys' `DisconnectReason` codes.
pub mod reason {
    /// 428 connectionClosed.
    pub const CONNECTION_CLOSED: u16 = 428;
    /// 408 connectionLost / timedOut (also QR expiry).
    pub const CONNECTION_LOST: u16 = 408;
    /// 440 connectionReplaced: another socket took the session.
    pub const CONNECTION_REPLACED: u16 = 440;
    /// 401 loggedOut.
    pub const LOGGED_OUT: u16 = 401;
    /// 500 badSession.
    pub const BAD_SESSION: u16 = 500;
    /// 515 restartRequired (normal right after a scan).
    pub const RESTART_REQUIRED: u16 = 515;
    /// 411 multideviceMismatch.
    pub const MULTIDEVICE_MISMATCH: u16 = 411;
    /// 403 forbidden.
    pub const FORBIDDEN: u16 = 403;
    /// 503 unavailableService.
    pub const UNAVAILABLE_SERVICE: u16 = 503;
}

/// Message Baileys closes with when a socket has shown all its QRs.
pub const QR_REFS_ENDED: &str = "QR refs attempts ended";

/// What a close means for the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseKind {
    /// 401: the user logged the device out; remove and tell the backend `logged_out`.
    LoggedOut,
    /// The QR socket used all its QRs unscanned; remove and tell the backend `expired`.
    QrExpired,
    /// 403, 402, 405, 406, 411: will not recover by reconnecting; remove.
    Terminal,
    /// 515: reconnect at once (normal after a scan).
    RestartRequired,
    /// 440: reconnect, but a loop of these is terminal.
    Replaced,
    /// Anything else (408, 428, 500, 503, no code): reconnect with backoff.
    Transient,
}

/// Classifies a close by its status code and message.
pub fn classify_close(status_code: Option<u16>, message: Option<&str>) -> CloseKind {
    if message.is_some_and(|m| m.contains(QR_REFS_ENDED)) {
        return CloseKind::QrExpired;
    }
    match status_code {
        Some(reason::LOGGED_OUT) => CloseKind::LoggedOut,
        Some(402 | reason::FORBIDDEN | 405 | 406 | reason::MULTIDEVICE_MISMATCH) => CloseKind::Terminal,
        Some(reason::RESTART_REQUIRED) => CloseKind::RestartRequired,
        Some(reason::CONNECTION_REPLACED) => CloseKind::Replaced,
        _ => CloseKind::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_real_close_event() {
        let raw = r#"{"connection":"close","lastDisconnect":{"error":{"message":"Connection Failure",
            "output":{"statusCode":401,"payload":{"error":"Unauthorized"},"headers":{}},"isBoom":true},
            "date":"2024-01-01T00:00:00.000Z"},"receivedPendingNotifications":false}"#;
        let u = ConnectionUpdate::from_json(raw).unwrap();
        assert_eq!(u.connection, Some(Connection::Close));
        assert_eq!(u.status_code(), Some(401));
        assert_eq!(classify_close(u.status_code(), u.error_message()), CloseKind::LoggedOut);
    }

    #[test]
    fn classifies_every_documented_code() {
        assert_eq!(classify_close(Some(408), Some(QR_REFS_ENDED)), CloseKind::QrExpired);
        assert_eq!(classify_close(Some(408), Some("Connection was lost")), CloseKind::Transient);
        for code in [402, 403, 405, 406, 411] {
            assert_eq!(classify_close(Some(code), None), CloseKind::Terminal, "{code}");
        }
        assert_eq!(classify_close(Some(515), None), CloseKind::RestartRequired);
        assert_eq!(classify_close(Some(440), None), CloseKind::Replaced);
        for code in [428, 500, 503] {
            assert_eq!(classify_close(Some(code), None), CloseKind::Transient, "{code}");
        }
        assert_eq!(classify_close(None, None), CloseKind::Transient);
    }

    #[test]
    fn malformed_update_is_an_error() {
        assert!(ConnectionUpdate::from_json(r#"{"connection":"sideways"}"#).is_err());
        assert!(ConnectionUpdate::from_json(r#"[1,2]"#).is_err());
    }
}
