//! Typed errors of the keeper. A refused input changes nothing.

use crate::config::ConfigError;

/// Why an input was refused. The keeper's state is unchanged when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeeperError {
    /// The session id is not known.
    #[error("unknown session `{0}`")]
    UnknownSession(String),
    /// `AddSession` for an id already present.
    #[error("session `{0}` already exists")]
    SessionExists(String),
    /// A session id that is empty, too long or has characters outside `[A-Za-z0-9._:@-]`.
    #[error("invalid session id: {0}")]
    InvalidSessionId(String),
    /// The queue is at `maxQueueSize`; nothing was queued.
    #[error("queue full: {capacity} items held, the item was not accepted")]
    QueueFull {
        /// The configured capacity.
        capacity: u32,
    },
    /// An `Enqueue` that cannot be delivered (bad path, ...).
    #[error("invalid item: {0}")]
    InvalidItem(String),
    /// A request body that is not the JSON its route takes.
    #[error("invalid JSON body: {0}")]
    InvalidBody(String),
    /// A bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A snapshot that cannot be restored.
    #[error("invalid snapshot: {0}")]
    Snapshot(String),
}

impl KeeperError {
    /// The variant's name, the `code` every edge reports (JS `KeeperError.code`, logs, metrics).
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownSession(_) => "UnknownSession",
            Self::SessionExists(_) => "SessionExists",
            Self::InvalidSessionId(_) => "InvalidSessionId",
            Self::QueueFull { .. } => "QueueFull",
            Self::InvalidItem(_) => "InvalidItem",
            Self::InvalidBody(_) => "InvalidBody",
            Self::Config(_) => "Config",
            Self::Snapshot(_) => "Snapshot",
        }
    }

    /// The HTTP status both edges answer it with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::UnknownSession(_) => 404,
            Self::SessionExists(_) => 409,
            Self::InvalidSessionId(_) | Self::InvalidItem(_) | Self::InvalidBody(_) => 400,
            Self::QueueFull { .. } => 503,
            Self::Config(_) | Self::Snapshot(_) => 500,
        }
    }
}

/// Longest accepted session id.
pub const MAX_SESSION_ID_LEN: usize = 128;

/// Validates a session id: 1 to 128 characters of `[A-Za-z0-9._:@-]`.
pub fn validate_session_id(id: &str) -> Result<(), KeeperError> {
    if id.is_empty() || id.len() > MAX_SESSION_ID_LEN {
        return Err(KeeperError::InvalidSessionId(format!(
            "length must be 1 to {MAX_SESSION_ID_LEN}, got {}",
            id.len()
        )));
    }
    if let Some(c) =
        id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '@' | '-')))
    {
        return Err(KeeperError::InvalidSessionId(format!("character {c:?} not allowed")));
    }
    Ok(())
}
