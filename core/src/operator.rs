//! The bodies of the operator's cleanup routes, parsed once for every edge: the host's
//! `POST /cleanup-*-sessions` and the npm package's `handler()` give the same answers, error
//! text included, because both call this.

use serde::Deserialize;

use crate::error::KeeperError;
use crate::input::Input;

/// Which cleanup route a body was posted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cleanup {
    /// `POST /cleanup-inactive-sessions` `{idleForMs?}`.
    Inactive,
    /// `POST /cleanup-pending-sessions` `{olderThanMs?}`.
    Pending,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CleanupInactive {
    idle_for_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CleanupPending {
    older_than_ms: Option<u64>,
}

/// Parses a JSON body; an empty (or all-whitespace) body reads as `null`, for bodies that are
/// optional. The error is [`KeeperError::InvalidBody`] with serde's own words.
pub fn parse_json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, KeeperError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"null".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| KeeperError::InvalidBody(e.to_string()))
}

/// The input a cleanup route's body asks for (no body: the configured timeouts).
pub fn cleanup_input(route: Cleanup, body: &[u8]) -> Result<Input, KeeperError> {
    Ok(match route {
        Cleanup::Inactive => {
            let body: Option<CleanupInactive> = parse_json_body(body)?;
            Input::CleanupInactive { idle_for_ms: body.and_then(|b| b.idle_for_ms) }
        }
        Cleanup::Pending => {
            let body: Option<CleanupPending> = parse_json_body(body)?;
            Input::CleanupPending { older_than_ms: body.and_then(|b| b.older_than_ms) }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_bodies_mean_the_defaults_and_bad_ones_say_why() {
        assert_eq!(
            cleanup_input(Cleanup::Inactive, b" ").unwrap(),
            Input::CleanupInactive { idle_for_ms: None }
        );
        assert_eq!(
            cleanup_input(Cleanup::Pending, br#"{"olderThanMs":5}"#).unwrap(),
            Input::CleanupPending { older_than_ms: Some(5) }
        );
        let err = cleanup_input(Cleanup::Inactive, br#"{"idleForMs":-1}"#).unwrap_err();
        assert_eq!(err.http_status(), 400);
        assert!(err.to_string().starts_with("invalid JSON body: invalid value: integer `-1`"), "{err}");
        assert!(cleanup_input(Cleanup::Pending, br#"{"x":1}"#).is_err());
    }
}
