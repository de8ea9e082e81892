//! Configuration: the seed's key names and defaults, plus the knobs the new policies need.
//!
//! Keys are camelCase in files and JSON (`circuitBreakerThreshold`), which is what the seed used;
//! hosts map `SK_SCREAMING_SNAKE` environment variables onto the same names.

use serde::{Deserialize, Serialize};

/// How the sync queue paces requests to the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum PacingMode {
    /// `syncSpacing` between dispatches, at most `maxConcurrentMessages` in flight.
    #[default]
    Fixed,
    /// AIMD on the dispatch rate: grows while the backend answers fast, halves on
    /// throttling, failures or latency above `adaptiveLatencyTargetMs`.
    Adaptive,
}

/// Every tunable of the keeper. Durations are milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Config {
    /// Consecutive backend failures that open the breaker (seed: 20).
    pub circuit_breaker_threshold: u32,
    /// How long the breaker stays OPEN after its first trip (seed: 180 000).
    pub circuit_breaker_reset_timeout: u64,
    /// Upper bound of the OPEN duration, which doubles with each trip in a row.
    pub circuit_breaker_max_reset_timeout: u64,
    /// Requests let through as probes while HALF_OPEN.
    pub circuit_breaker_half_open_probes: u32,
    /// Failure rate in percent that also trips the breaker (0 disables the rate rule).
    pub circuit_breaker_failure_rate: u32,
    /// Window of the failure-rate rule.
    pub circuit_breaker_failure_window: u64,
    /// Outcomes needed in the window before the rate rule may trip.
    pub circuit_breaker_minimum_volume: u32,
    /// A pending session (QR shown, not scanned) expires after this long (seed: 120 000).
    pub pending_session_timeout: u64,
    /// The seed's sweep interval; timers are exact here, so this is only an upper bound
    /// reported in `health` and used by hosts that sweep as a fallback.
    pub pending_session_cleanup_interval: u64,
    /// A session not connected for this long is removed (seed: 1 800 000).
    pub inactive_session_timeout: u64,
    /// Minimum gap between two dispatches in fixed pacing (seed: 400).
    pub sync_spacing: u64,
    /// Maximum requests in flight to the backend at once.
    pub max_concurrent_messages: u32,
    /// QRs per pending episode; the next one expires the session.
    pub max_qr_codes: u32,
    /// Fixed or adaptive pacing.
    pub pacing: PacingMode,
    /// Smallest spacing adaptive pacing may reach.
    pub adaptive_min_spacing: u64,
    /// Latency above which adaptive pacing backs off.
    pub adaptive_latency_target: u64,
    /// Items held in the queue at most (in flight excluded); more is an explicit error.
    pub max_queue_size: u32,
    /// Delivery attempts before an item is dead-lettered.
    pub max_attempts: u32,
    /// Age after which a failing item is dead-lettered instead of retried.
    pub max_item_age: u64,
    /// First retry delay of a failed delivery; doubles per attempt.
    pub retry_base_delay: u64,
    /// Cap of the retry delay.
    pub retry_max_delay: u64,
    /// Cap applied to a backend's Retry-After.
    pub retry_after_cap: u64,
    /// Pause after a 429/503 that carried no usable Retry-After.
    pub throttle_default_pause: u64,
    /// A dispatched request that has not reported after this long counts as a timeout.
    pub delivery_lease_timeout: u64,
    /// Dead letters kept for inspection (older ones are forgotten, still counted).
    pub dead_letter_limit: u32,
    /// First reconnect delay after a transient close; doubles per attempt.
    pub reconnect_base_delay: u64,
    /// Cap of the reconnect delay.
    pub reconnect_max_delay: u64,
    /// Sessions allowed to be reconnecting at once (no storm after a network blip).
    pub max_concurrent_reconnects: u32,
    /// A reconnect slot is given back after this long even if the socket never reports.
    pub reconnect_slot_timeout: u64,
    /// 440 (connection replaced) closes within `connectionReplacedWindow` that count as a loop.
    pub connection_replaced_limit: u32,
    /// Window of the 440 loop detection.
    pub connection_replaced_window: u64,
    /// `health` raises an alert when more sessions than this are pending.
    pub pending_alert_threshold: u32,
    /// `health` raises an alert when the breaker has been OPEN longer than this.
    pub breaker_open_alert_after: u64,
    /// Seed of the jitter generator (the only randomness in the core).
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            circuit_breaker_threshold: 20,
            circuit_breaker_reset_timeout: 180_000,
            circuit_breaker_max_reset_timeout: 1_800_000,
            circuit_breaker_half_open_probes: 1,
            circuit_breaker_failure_rate: 0,
            circuit_breaker_failure_window: 60_000,
            circuit_breaker_minimum_volume: 20,
            pending_session_timeout: 120_000,
            pending_session_cleanup_interval: 30_000,
            inactive_session_timeout: 1_800_000,
            sync_spacing: 400,
            max_concurrent_messages: 4,
            max_qr_codes: 6,
            pacing: PacingMode::Fixed,
            adaptive_min_spacing: 10,
            adaptive_latency_target: 1_000,
            max_queue_size: 10_000,
            max_attempts: 10,
            max_item_age: 86_400_000,
            retry_base_delay: 1_000,
            retry_max_delay: 60_000,
            retry_after_cap: 300_000,
            throttle_default_pause: 1_000,
            delivery_lease_timeout: 60_000,
            dead_letter_limit: 1_000,
            reconnect_base_delay: 1_000,
            reconnect_max_delay: 60_000,
            max_concurrent_reconnects: 10,
            reconnect_slot_timeout: 30_000,
            connection_replaced_limit: 3,
            connection_replaced_window: 300_000,
            pending_alert_threshold: 20,
            breaker_open_alert_after: 300_000,
            seed: 0x5e55_10e5_eeee_0001,
        }
    }
}

/// One configuration key as users see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigKey {
    /// camelCase, as in files, JSON and `createKeeper` options.
    pub name: &'static str,
    /// Its TypeScript type.
    pub ts_type: &'static str,
    /// What it does.
    pub meaning: &'static str,
}

/// A configuration value that cannot be used. Names the camelCase key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid config `{key}`: {reason}")]
pub struct ConfigError {
    /// The camelCase key, as written in files.
    pub key: &'static str,
    /// Why the value was refused.
    pub reason: String,
}

/// Durations above this (about 30 years) are refused: they would overflow deadline arithmetic.
const MAX_DURATION: u64 = 1_000_000_000_000;

impl Config {
    /// Checks every value; the first bad one is reported with its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive: [(&'static str, u64); 8] = [
            ("circuitBreakerThreshold", self.circuit_breaker_threshold.into()),
            ("circuitBreakerHalfOpenProbes", self.circuit_breaker_half_open_probes.into()),
            ("maxConcurrentMessages", self.max_concurrent_messages.into()),
            ("maxQrCodes", self.max_qr_codes.into()),
            ("maxQueueSize", self.max_queue_size.into()),
            ("maxAttempts", self.max_attempts.into()),
            ("maxConcurrentReconnects", self.max_concurrent_reconnects.into()),
            ("connectionReplacedLimit", self.connection_replaced_limit.into()),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError { key, reason: "must be at least 1".into() });
            }
        }
        let durations: [(&'static str, u64, u64); 21] = [
            ("circuitBreakerResetTimeout", self.circuit_breaker_reset_timeout, 1),
            ("circuitBreakerMaxResetTimeout", self.circuit_breaker_max_reset_timeout, 1),
            ("circuitBreakerFailureWindow", self.circuit_breaker_failure_window, 1),
            ("pendingSessionTimeout", self.pending_session_timeout, 1),
            ("pendingSessionCleanupInterval", self.pending_session_cleanup_interval, 1),
            ("inactiveSessionTimeout", self.inactive_session_timeout, 1),
            ("syncSpacing", self.sync_spacing, 0),
            ("adaptiveMinSpacing", self.adaptive_min_spacing, 1),
            ("adaptiveLatencyTarget", self.adaptive_latency_target, 1),
            ("maxItemAge", self.max_item_age, 1),
            ("retryBaseDelay", self.retry_base_delay, 1),
            ("retryMaxDelay", self.retry_max_delay, 1),
            ("retryAfterCap", self.retry_after_cap, 0),
            ("throttleDefaultPause", self.throttle_default_pause, 0),
            ("deliveryLeaseTimeout", self.delivery_lease_timeout, 1),
            ("reconnectBaseDelay", self.reconnect_base_delay, 0),
            ("reconnectMaxDelay", self.reconnect_max_delay, 0),
            ("reconnectSlotTimeout", self.reconnect_slot_timeout, 1),
            ("connectionReplacedWindow", self.connection_replaced_window, 1),
            ("breakerOpenAlertAfter", self.breaker_open_alert_after, 0),
            ("circuitBreakerMinimumVolume", self.circuit_breaker_minimum_volume.into(), 1),
        ];
        for (key, value, min) in durations {
            if value < min {
                return Err(ConfigError { key, reason: format!("must be at least {min}") });
            }
            if value > MAX_DURATION {
                return Err(ConfigError { key, reason: format!("must be at most {MAX_DURATION}") });
            }
        }
        if self.circuit_breaker_failure_rate > 100 {
            return Err(ConfigError {
                key: "circuitBreakerFailureRate",
                reason: "is a percentage: 0 (off) to 100".into(),
            });
        }
        if self.circuit_breaker_max_reset_timeout < self.circuit_breaker_reset_timeout {
            return Err(ConfigError {
                key: "circuitBreakerMaxResetTimeout",
                reason: "must be at least circuitBreakerResetTimeout".into(),
            });
        }
        if self.retry_max_delay < self.retry_base_delay {
            return Err(ConfigError {
                key: "retryMaxDelay",
                reason: "must be at least retryBaseDelay".into(),
            });
        }
        if self.reconnect_max_delay < self.reconnect_base_delay {
            return Err(ConfigError {
                key: "reconnectMaxDelay",
                reason: "must be at least reconnectBaseDelay".into(),
            });
        }
        if self.max_concurrent_messages > 10_000 {
            return Err(ConfigError { key: "maxConcurrentMessages", reason: "must be at most 10000".into() });
        }
        if self.max_attempts > 1_000 {
            return Err(ConfigError { key: "maxAttempts", reason: "must be at most 1000".into() });
        }
        if self.max_qr_codes > 1_000 {
            return Err(ConfigError { key: "maxQrCodes", reason: "must be at most 1000".into() });
        }
        Ok(())
    }

    /// Parses a JSON object of camelCase keys (missing keys take defaults) and validates it.
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| ConfigError { key: "config", reason: format!("not JSON: {e}") })?;
        Self::from_value(value)
    }

    /// Like [`Self::from_json`], from an already parsed JSON value.
    pub fn from_value(value: serde_json::Value) -> Result<Self, ConfigError> {
        let serde_json::Value::Object(map) = value else {
            return Err(ConfigError { key: "config", reason: "must be a JSON object".into() });
        };
        // Check key by key so the error names the key that is wrong.
        for (key, v) in &map {
            let Some(known) = Self::key_names().find(|k| *k == key) else {
                return Err(ConfigError { key: "config", reason: format!("unknown key `{key}`") });
            };
            let single = serde_json::Value::Object([(key.clone(), v.clone())].into_iter().collect());
            serde_json::from_value::<Config>(single)
                .map_err(|e| ConfigError { key: known, reason: plain_words(&e.to_string()) })?;
        }
        let config: Config = serde_json::from_value(serde_json::Value::Object(map))
            .map_err(|e| ConfigError { key: "config", reason: e.to_string() })?;
        config.validate()?;
        Ok(config)
    }
}

/// A serde type error in the words of the formats the keys are written in (JSON, TOML, JS):
/// `expected a whole number from 0 to 4294967295, got the string "20"`, not Rust's type names.
fn plain_words(serde: &str) -> String {
    let Some(rest) = serde.strip_prefix("invalid type: ").or_else(|| serde.strip_prefix("invalid value: "))
    else {
        return serde.to_owned();
    };
    let Some((got, expected)) = rest.split_once(", expected ") else {
        return serde.to_owned();
    };
    let expected = match expected {
        "u8" => "a whole number from 0 to 255".to_owned(),
        "u16" => "a whole number from 0 to 65535".to_owned(),
        "u32" => "a whole number from 0 to 4294967295".to_owned(),
        "u64" => "a whole number from 0 to 18446744073709551615".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a boolean" | "a string" => expected.to_owned(),
        other => other.to_owned(),
    };
    let unquoted = |s: &str| s.trim_matches('`').to_owned();
    let got = match got.split_once(' ') {
        Some(("string", text)) => format!("the string {text}"),
        Some(("integer", n)) => unquoted(n),
        Some(("floating", n)) => unquoted(n.trim_start_matches("point ")),
        Some(("boolean", b)) => unquoted(b),
        _ => match got {
            "map" => "an object".to_owned(),
            "sequence" => "an array".to_owned(),
            "unit value" | "null" => "null".to_owned(),
            other => other.to_owned(),
        },
    };
    format!("expected {expected}, got {got}")
}

impl Config {
    /// Every key the core accepts, in the struct's order, with its TypeScript type and meaning:
    /// the one list the hosts split their own keys off with and the npm package's option types
    /// and README table are generated from (`cargo run -p sessionkeeper-tests --example
    /// config_docs`). A test checks it against the struct.
    pub const KEYS: &'static [ConfigKey] = &[
        ConfigKey { name: "circuitBreakerThreshold", ts_type: "number", meaning: "Consecutive backend failures that open the breaker (seed: 20)." },
        ConfigKey { name: "circuitBreakerResetTimeout", ts_type: "number", meaning: "How long the breaker stays OPEN after its first trip (seed: 180 000)." },
        ConfigKey { name: "circuitBreakerMaxResetTimeout", ts_type: "number", meaning: "Upper bound of the OPEN duration, which doubles with each trip in a row." },
        ConfigKey { name: "circuitBreakerHalfOpenProbes", ts_type: "number", meaning: "Requests let through as probes while HALF_OPEN." },
        ConfigKey { name: "circuitBreakerFailureRate", ts_type: "number", meaning: "Failure rate in percent that also trips the breaker (0 disables the rate rule)." },
        ConfigKey { name: "circuitBreakerFailureWindow", ts_type: "number", meaning: "Window of the failure-rate rule." },
        ConfigKey { name: "circuitBreakerMinimumVolume", ts_type: "number", meaning: "Outcomes needed in the window before the rate rule may trip." },
        ConfigKey { name: "pendingSessionTimeout", ts_type: "number", meaning: "A pending session (QR shown, not scanned) expires after this long (seed: 120 000)." },
        ConfigKey { name: "pendingSessionCleanupInterval", ts_type: "number", meaning: "The seed's sweep interval, accepted so seed configs load; unused, since pending sessions expire by exact timers." },
        ConfigKey { name: "inactiveSessionTimeout", ts_type: "number", meaning: "A session not connected for this long is removed (seed: 1 800 000)." },
        ConfigKey { name: "syncSpacing", ts_type: "number", meaning: "Minimum gap between two dispatches in fixed pacing (seed: 400)." },
        ConfigKey { name: "maxConcurrentMessages", ts_type: "number", meaning: "Maximum requests in flight to the backend at once." },
        ConfigKey { name: "maxQrCodes", ts_type: "number", meaning: "QRs per pending episode; the next one expires the session." },
        ConfigKey { name: "pacing", ts_type: "\"fixed\" | \"adaptive\"", meaning: "Fixed or adaptive pacing." },
        ConfigKey { name: "adaptiveMinSpacing", ts_type: "number", meaning: "Smallest spacing adaptive pacing may reach." },
        ConfigKey { name: "adaptiveLatencyTarget", ts_type: "number", meaning: "Latency above which adaptive pacing backs off." },
        ConfigKey { name: "maxQueueSize", ts_type: "number", meaning: "Items held in the queue at most (in flight excluded): a custom call over it is refused (QueueFull); a status over it replaces the same session's newest waiting status (counted as superseded), so the queue exceeds it by at most two items per session." },
        ConfigKey { name: "maxAttempts", ts_type: "number", meaning: "Delivery attempts before an item is dead-lettered." },
        ConfigKey { name: "maxItemAge", ts_type: "number", meaning: "Age after which a failing item is dead-lettered instead of retried." },
        ConfigKey { name: "retryBaseDelay", ts_type: "number", meaning: "First retry delay of a failed delivery; doubles per attempt." },
        ConfigKey { name: "retryMaxDelay", ts_type: "number", meaning: "Cap of the retry delay." },
        ConfigKey { name: "retryAfterCap", ts_type: "number", meaning: "Cap applied to a backend's Retry-After." },
        ConfigKey { name: "throttleDefaultPause", ts_type: "number", meaning: "Pause after a 429/503 that carried no usable Retry-After." },
        ConfigKey { name: "deliveryLeaseTimeout", ts_type: "number", meaning: "A dispatched request that has not reported after this long counts as a timeout." },
        ConfigKey { name: "deadLetterLimit", ts_type: "number", meaning: "Dead letters kept for inspection (older ones are forgotten, still counted)." },
        ConfigKey { name: "reconnectBaseDelay", ts_type: "number", meaning: "First reconnect delay after a transient close; doubles per attempt." },
        ConfigKey { name: "reconnectMaxDelay", ts_type: "number", meaning: "Cap of the reconnect delay." },
        ConfigKey { name: "maxConcurrentReconnects", ts_type: "number", meaning: "Sessions allowed to be reconnecting at once (no storm after a network blip)." },
        ConfigKey { name: "reconnectSlotTimeout", ts_type: "number", meaning: "A reconnect slot is given back after this long even if the socket never reports." },
        ConfigKey { name: "connectionReplacedLimit", ts_type: "number", meaning: "440 (connection replaced) closes within `connectionReplacedWindow` that count as a loop." },
        ConfigKey { name: "connectionReplacedWindow", ts_type: "number", meaning: "Window of the 440 loop detection." },
        ConfigKey { name: "pendingAlertThreshold", ts_type: "number", meaning: "`health` raises an alert when more sessions than this are pending." },
        ConfigKey { name: "breakerOpenAlertAfter", ts_type: "number", meaning: "`health` raises an alert when the breaker has been OPEN longer than this." },
        ConfigKey { name: "seed", ts_type: "number", meaning: "Seed of the jitter generator (the only randomness in the core)." },
    ];

    /// The key names.
    pub fn key_names() -> impl Iterator<Item = &'static str> {
        Self::KEYS.iter().map(|k| k.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seeds_and_valid() {
        let c = Config::default();
        assert_eq!(c.circuit_breaker_threshold, 20);
        assert_eq!(c.circuit_breaker_reset_timeout, 180_000);
        assert_eq!(c.pending_session_timeout, 120_000);
        assert_eq!(c.inactive_session_timeout, 1_800_000);
        assert_eq!(c.sync_spacing, 400);
        c.validate().unwrap();
    }

    #[test]
    fn bad_value_names_its_key() {
        let err = Config::from_json(r#"{"circuitBreakerThreshold":0}"#).unwrap_err();
        assert_eq!(err.key, "circuitBreakerThreshold");
        let err = Config::from_json(r#"{"syncSpacing":"fast"}"#).unwrap_err();
        assert_eq!(err.key, "syncSpacing");
        let err = Config::from_json(r#"{"noSuchKey":1}"#).unwrap_err();
        assert!(err.reason.contains("noSuchKey"));
    }

    #[test]
    fn type_errors_are_in_plain_words() {
        let reason = |json: &str| Config::from_json(json).unwrap_err().reason;
        assert_eq!(
            reason(r#"{"pendingSessionTimeout":"20"}"#),
            r#"expected a whole number from 0 to 18446744073709551615, got the string "20""#
        );
        assert_eq!(reason(r#"{"maxQrCodes":-1}"#), "expected a whole number from 0 to 4294967295, got -1");
        assert_eq!(reason(r#"{"maxQrCodes":1.5}"#), "expected a whole number from 0 to 4294967295, got 1.5");
        assert_eq!(
            reason(r#"{"maxQrCodes":{}}"#),
            "expected a whole number from 0 to 4294967295, got an object"
        );
        assert!(reason(r#"{"pacing":"fast"}"#).contains("`fixed`"));
    }

    #[test]
    fn the_key_list_is_the_struct() {
        let json = serde_json::to_value(Config::default()).unwrap();
        let fields: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        let mut listed: Vec<&str> = Config::key_names().collect();
        listed.sort_unstable();
        let mut fields = fields;
        fields.sort_unstable();
        assert_eq!(listed, fields);
        assert!(Config::KEYS.iter().all(|k| !k.meaning.is_empty() && !k.ts_type.is_empty()));
    }

    #[test]
    fn json_keys_are_camel_case() {
        let c = Config::from_json(r#"{"pendingSessionTimeout":5000,"pacing":"adaptive"}"#).unwrap();
        assert_eq!(c.pending_session_timeout, 5000);
        assert_eq!(c.pacing, PacingMode::Adaptive);
    }
}
