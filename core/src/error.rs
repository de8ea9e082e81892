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
    /// The keeper was closed (an edge shutting down); nothing is accepted any more.
    #[error("the keeper is closed")]
    Closed,
    /// No dead letter of this item is kept.
    #[error("no dead letter of item {0}")]
    UnknownDeadLetter(u64),
}

impl KeeperError {
    /// Every [`KeeperError::code`], in declaration order: the npm package's `KeeperErrorCode`
    /// union is generated from it.
    pub const CODES: &'static [&'static str] = &[
        "UnknownSession",
        "SessionExists",
        "InvalidSessionId",
        "QueueFull",
        "InvalidItem",
        "InvalidBody",
        "Config",
        "Snapshot",
        "Closed",
        "UnknownDeadLetter",
    ];

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
            Self::Closed => "Closed",
            Self::UnknownDeadLetter(_) => "UnknownDeadLetter",
        }
    }

    /// The refusal of a payload nested deeper than [`crate::MAX_PAYLOAD_DEPTH`], also for edges
    /// whose JSON reader stops before the keeper sees it.
    pub fn payload_too_deep() -> Self {
        Self::InvalidItem(format!("payload nested deeper than {} levels", crate::MAX_PAYLOAD_DEPTH))
    }

    /// The refusal of a payload over [`crate::MAX_PAYLOAD_BYTES`] of JSON.
    pub fn payload_too_large() -> Self {
        Self::InvalidItem(format!("payload larger than {} bytes of JSON", crate::MAX_PAYLOAD_BYTES))
    }

    /// The HTTP status both edges answer it with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::UnknownSession(_) | Self::UnknownDeadLetter(_) => 404,
            Self::SessionExists(_) => 409,
            Self::InvalidSessionId(_) | Self::InvalidItem(_) | Self::InvalidBody(_) => 400,
            Self::QueueFull { .. } | Self::Closed => 503,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_lists_every_variant_once() {
        let config = ConfigError { key: "pacing", reason: String::new() };
        let all = [
            KeeperError::UnknownSession(String::new()),
            KeeperError::SessionExists(String::new()),
            KeeperError::InvalidSessionId(String::new()),
            KeeperError::QueueFull { capacity: 1 },
            KeeperError::InvalidItem(String::new()),
            KeeperError::InvalidBody(String::new()),
            KeeperError::Config(config),
            KeeperError::Snapshot(String::new()),
            KeeperError::Closed,
            KeeperError::UnknownDeadLetter(1),
        ];
        let codes: Vec<&str> = all.iter().map(KeeperError::code).collect();
        assert_eq!(codes, KeeperError::CODES);
    }
}
