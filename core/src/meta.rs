//! The gateway's own fields for a session (a phone number, a tenant id), given at `AddSession`
//! and carried in every `/qr` and `/status` body of that session as `meta`. Bounded and flat
//! so a body stays small and a backend can map it to columns.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::KeeperError;

/// Most keys in a session's `meta`.
pub const MAX_META_KEYS: usize = 16;
/// Longest key.
pub const MAX_META_KEY_LEN: usize = 64;
/// Longest string value.
pub const MAX_META_VALUE_LEN: usize = 256;
/// Largest `meta` object, serialised.
pub const MAX_META_BYTES: usize = 2_048;

/// A validated `meta` object: string keys of `[A-Za-z0-9_.-]`, values strings, numbers,
/// booleans or null. Shared (not copied) by every body of the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Meta(Arc<Map<String, Value>>);

impl Meta {
    /// Checks the limits; the error names the key at fault.
    pub fn validate(&self) -> Result<(), KeeperError> {
        let bad = |m: String| Err(KeeperError::InvalidItem(format!("meta: {m}")));
        if self.0.len() > MAX_META_KEYS {
            return bad(format!("at most {MAX_META_KEYS} keys, got {}", self.0.len()));
        }
        for (key, value) in self.0.iter() {
            if key.is_empty()
                || key.len() > MAX_META_KEY_LEN
                || !key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            {
                return bad(format!(
                    "key {key:?} must be 1 to {MAX_META_KEY_LEN} characters of [A-Za-z0-9_.-]"
                ));
            }
            match value {
                Value::String(s) if s.len() > MAX_META_VALUE_LEN => {
                    return bad(format!("value of `{key}` longer than {MAX_META_VALUE_LEN} bytes"))
                }
                Value::Array(_) | Value::Object(_) => {
                    return bad(format!("value of `{key}` must be a string, number, boolean or null"))
                }
                _ => {}
            }
        }
        let size = serde_json::to_string(&self.0).map_or(usize::MAX, |s| s.len());
        if size > MAX_META_BYTES {
            return bad(format!("{size} bytes serialised, at most {MAX_META_BYTES}"));
        }
        Ok(())
    }

    /// The fields.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.0
    }
}

impl From<Map<String, Value>> for Meta {
    fn from(map: Map<String, Value>) -> Self {
        Self(Arc::new(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(json: &str) -> Meta {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn accepts_flat_small_objects() {
        assert!(meta(r#"{"phone":"4915112345678","tenant":"acme","n":3,"vip":true,"x":null}"#)
            .validate()
            .is_ok());
    }

    #[test]
    fn refuses_nesting_bad_keys_and_size() {
        assert!(meta(r#"{"a":{"b":1}}"#).validate().is_err());
        assert!(meta(r#"{"a":[1]}"#).validate().is_err());
        assert!(meta(r#"{"bad key":1}"#).validate().is_err());
        assert!(meta(r#"{"":1}"#).validate().is_err());
        let long = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_META_VALUE_LEN + 1));
        assert!(meta(&long).validate().is_err());
        let many: Map<String, Value> =
            (0..=MAX_META_KEYS).map(|i| (format!("k{i}"), Value::from(i))).collect();
        assert!(Meta::from(many).validate().is_err());
        let big: Map<String, Value> =
            (0..MAX_META_KEYS).map(|i| (format!("k{i}"), Value::from("y".repeat(200)))).collect();
        assert!(Meta::from(big).validate().is_err(), "16 x 200 bytes is over the total");
    }
}
