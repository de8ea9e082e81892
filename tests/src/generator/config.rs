//! Per-trace core configs: defaults, or small values that reach breaker trips, queue limits,
//! dead letters and expiries within a few dozen steps.

use serde_json::{json, Map, Value};

use crate::rng::SplitMix64;

/// A config JSON object for one trace (rarely an invalid one, whose refusal is compared too).
pub fn config(rng: &mut SplitMix64) -> String {
    if rng.chance(2) {
        let bad = *rng.pick(&[
            r#"{"circuitBreakerThreshold":0}"#,
            r#"{"syncSpacing":"fast"}"#,
            r#"{"retryBaseDelay":5000,"retryMaxDelay":1}"#,
            r#"{"noSuchKey":true}"#,
            r#"[1,2]"#,
        ]);
        return bad.to_owned();
    }
    if rng.chance(15) {
        return if rng.chance(50) { "{}".into() } else { json!({ "seed": rng.next_u64() }).to_string() };
    }
    let mut c = Map::new();
    let reset = rng.range(1_000, 30_000);
    let retry_base = rng.range(100, 2_000);
    let reconnect_base = rng.range(0, 2_000);
    let optional: Vec<(&str, Value)> = vec![
        ("circuitBreakerThreshold", json!(rng.range(1, 5))),
        ("circuitBreakerResetTimeout", json!(reset)),
        ("circuitBreakerHalfOpenProbes", json!(rng.range(1, 3))),
        ("circuitBreakerFailureRate", json!(*rng.pick(&[0u64, 0, 50, 80]))),
        ("circuitBreakerFailureWindow", json!(rng.range(5_000, 60_000))),
        ("circuitBreakerMinimumVolume", json!(rng.range(1, 10))),
        ("pendingSessionTimeout", json!(rng.range(5_000, 120_000))),
        ("pendingSessionCleanupInterval", json!(rng.range(1_000, 30_000))),
        ("inactiveSessionTimeout", json!(rng.range(10_000, 600_000))),
        ("syncSpacing", json!(*rng.pick(&[0u64, 50, 400, 1_000]))),
        ("maxConcurrentMessages", json!(rng.range(1, 4))),
        ("maxQrCodes", json!(rng.range(1, 6))),
        ("pacing", json!(*rng.pick(&["fixed", "adaptive"]))),
        ("adaptiveMinSpacing", json!(rng.range(1, 100))),
        ("adaptiveLatencyTarget", json!(rng.range(100, 2_000))),
        ("maxQueueSize", json!(*rng.pick(&[1u64, 3, 5, 20, 10_000]))),
        ("maxAttempts", json!(rng.range(1, 5))),
        ("maxItemAge", json!(rng.range(10_000, 600_000))),
        ("retryMaxDelay", json!(retry_base.max(60_000) * rng.range(1, 3))),
        ("retryAfterCap", json!(rng.range(0, 300_000))),
        ("throttleDefaultPause", json!(rng.range(0, 5_000))),
        ("deliveryLeaseTimeout", json!(rng.range(1_000, 60_000))),
        ("deadLetterLimit", json!(rng.range(0, 5))),
        ("reconnectMaxDelay", json!(reconnect_base.max(60_000) + rng.range(0, 60_000))),
        ("maxConcurrentReconnects", json!(rng.range(1, 3))),
        ("reconnectSlotTimeout", json!(rng.range(1_000, 30_000))),
        ("connectionReplacedLimit", json!(rng.range(1, 3))),
        ("connectionReplacedWindow", json!(rng.range(10_000, 300_000))),
        ("pendingAlertThreshold", json!(rng.range(0, 3))),
        ("breakerOpenAlertAfter", json!(rng.range(0, 60_000))),
    ];
    for (key, value) in optional {
        if rng.chance(75) {
            c.insert(key.into(), value);
        }
    }
    c.insert("circuitBreakerMaxResetTimeout".into(), json!(reset.max(180_000) * rng.range(1, 8)));
    c.insert("retryBaseDelay".into(), json!(retry_base));
    c.insert("reconnectBaseDelay".into(), json!(reconnect_base));
    c.insert("seed".into(), json!(rng.next_u64()));
    Value::Object(c).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessionkeeper_core::Config;

    #[test]
    fn generated_configs_are_mostly_valid() {
        let mut rng = SplitMix64::new(5);
        let valid = (0..500).filter(|_| Config::from_json(&config(&mut rng)).is_ok()).count();
        assert!((450..500).contains(&valid), "{valid} of 500 valid");
    }
}
