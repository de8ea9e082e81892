//! Conversions at the boundary: JS values to core types and back, `now` checks, and errors.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sessionkeeper_core::{ConfigError, KeeperError};
use wasm_bindgen::{JsCast, JsValue};

/// The code given to errors about values that do not have the documented shape.
pub const INVALID_INPUT: &str = "InvalidInput";

/// Checks a JS timestamp (unix ms) and turns it into the core's `u64`.
pub fn parse_now(now: f64) -> Result<u64, String> {
    if !now.is_finite() || !(0.0..=9_007_199_254_740_991.0).contains(&now) {
        return Err(format!("`now` must be unix milliseconds (a finite, non-negative number), got {now}"));
    }
    Ok(now as u64)
}

/// A JS `Error` named `KeeperError` with a `code` property.
pub fn js_error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name("KeeperError");
    let _ = js_sys::Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from_str(code));
    err.unchecked_into()
}

/// A core error as a JS `Error`, with the core's `code` and the HTTP `status` both edges
/// answer it with.
pub fn keeper_error(err: &KeeperError) -> JsValue {
    let js = js_error(err.code(), &err.to_string());
    let _ = js_sys::Reflect::set(&js, &JsValue::from_str("status"), &JsValue::from(err.http_status()));
    js
}

/// A config refusal as a JS `Error` with code `Config` and the `key` it names.
pub fn config_error(err: &ConfigError) -> JsValue {
    let js = keeper_error(&KeeperError::Config(err.clone()));
    let _ = js_sys::Reflect::set(&js, &JsValue::from_str("key"), &JsValue::from_str(err.key));
    js
}

/// A bad `now` as a JS `Error`.
pub fn now_arg(now: f64) -> Result<u64, JsValue> {
    parse_now(now).map_err(|m| js_error(INVALID_INPUT, &m))
}

/// Reads a JS value into a core type; `what` names it in the error.
pub fn from_js<T: DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value).map_err(|e| {
        let message = e.to_string();
        let message = message.strip_prefix("Error: ").unwrap_or(&message);
        js_error(INVALID_INPUT, &format!("invalid {what}: {message}"))
    })
}

/// Writes a core value as plain JS data (objects, arrays, numbers; no `Map`, no `BigInt`).
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value.serialize(&serializer).map_err(|e| js_error(INVALID_INPUT, &format!("cannot convert: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_must_be_a_plain_timestamp() {
        assert_eq!(parse_now(1_700_000_000_123.0), Ok(1_700_000_000_123));
        assert_eq!(parse_now(0.0), Ok(0));
        assert!(parse_now(-1.0).is_err());
        assert!(parse_now(f64::NAN).is_err());
        assert!(parse_now(f64::INFINITY).is_err());
        assert!(parse_now(1e300).is_err());
    }

    #[test]
    fn codes_name_the_variants() {
        assert_eq!(KeeperError::UnknownSession("a".into()).code(), "UnknownSession");
        assert_eq!(KeeperError::QueueFull { capacity: 1 }.code(), "QueueFull");
        assert_eq!(KeeperError::Snapshot("x".into()).code(), "Snapshot");
    }
}
