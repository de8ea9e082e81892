//! A session's state as the outside world sees it.

use serde::{Deserialize, Serialize};

/// Lifecycle state of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Added, no socket event yet.
    New,
    /// A socket is opening.
    Connecting,
    /// A QR is shown and not scanned yet (the pending clock runs).
    Pending,
    /// The QR was scanned; a 515 restart and `open` follow.
    Scanned,
    /// Logged in and open.
    Connected,
    /// Closed transiently; a reconnect is scheduled, waiting for a slot, or under way.
    Reconnecting,
    /// Gone from the keeper (only ever seen in `SessionChanged`).
    Removed,
}

impl SessionState {
    /// Every state, in lifecycle order (the npm package's `SessionState` type is generated from it).
    pub const ALL: [SessionState; 7] = [
        Self::New,
        Self::Connecting,
        Self::Pending,
        Self::Scanned,
        Self::Connected,
        Self::Reconnecting,
        Self::Removed,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Connecting => "connecting",
            Self::Pending => "pending",
            Self::Scanned => "scanned",
            Self::Connected => "connected",
            Self::Reconnecting => "reconnecting",
            Self::Removed => "removed",
        }
    }
}

/// Status values sent to the backend's `/status` endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendStatus {
    /// A QR episode started.
    Pending,
    /// The session is logged in and open.
    Connected,
    /// A connected session dropped (a reconnect follows).
    Disconnected,
    /// The user logged the device out (401).
    LoggedOut,
    /// Never scanned in time, or all QRs used.
    Expired,
    /// Removed by an operator, by inactivity or by a terminal close.
    Removed,
}

impl BackendStatus {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Connected => "connected",
            Self::Disconnected => "disconnected",
            Self::LoggedOut => "logged_out",
            Self::Expired => "expired",
            Self::Removed => "removed",
        }
    }
}
