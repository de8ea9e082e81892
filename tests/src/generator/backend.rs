//! What the backend answers to deliveries: 2xx, 5xx, 429/503 with Retry-After, 4xx, timeouts.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::rng::SplitMix64;

/// Latest `now` (ms) for which an HTTP-date is formatted (year 9999).
const LAST_HTTP_DATE_MS: u64 = 253_402_300_799_000;

/// A `Retry-After` header value: seconds, an HTTP-date around `now`, or garbage.
pub fn retry_after(rng: &mut SplitMix64, now: u64) -> Option<String> {
    match rng.below(16) {
        0 => None,
        1..=6 => Some(rng.pick(&["0", "1", "2", "5", "30", "120", "100000", " 7 "]).to_string()),
        7 | 8 => Some(rng.pick(&["-1", "soon", "", "1.5", "99999999999999999999999"]).to_string()),
        _ if now <= LAST_HTTP_DATE_MS => {
            let offset = *rng.pick(&[-30i64, 0, 1, 3, 60, 600, 1_000_000]);
            let secs = (now / 1_000).saturating_add_signed(offset).min(LAST_HTTP_DATE_MS / 1_000);
            Some(httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs)))
        }
        _ => Some("3".into()),
    }
}

/// An outcome for a delivery; `outage` makes failures likely.
pub fn outcome(rng: &mut SplitMix64, now: u64, outage: bool) -> Value {
    let weights: &[u64] = if outage { &[8, 40, 8, 6, 2, 20, 14, 2] } else { &[62, 8, 7, 3, 6, 7, 4, 3] };
    match rng.weighted(weights) {
        0 => json!({ "kind": "response", "status": *rng.pick(&[200u16, 200, 201, 202, 204]) }),
        1 => json!({ "kind": "response", "status": *rng.pick(&[500u16, 502, 504, 500]) }),
        2 => with_retry_after(rng, now, 429),
        3 => with_retry_after(rng, now, 503),
        4 => json!({ "kind": "response", "status": *rng.pick(&[400u16, 401, 404, 409, 422]) }),
        5 => json!({ "kind": "timeout" }),
        6 => {
            let message = *rng.pick(&[
                "connect ECONNREFUSED 127.0.0.1:8000",
                "socket hang up",
                "dns: no such host",
                "",
            ]);
            json!({ "kind": "networkError", "message": message })
        }
        _ => json!({ "kind": "response", "status": *rng.pick(&[0u16, 100, 302, 304, 999, 65535]) }),
    }
}

fn with_retry_after(rng: &mut SplitMix64, now: u64, status: u16) -> Value {
    let mut v = json!({ "kind": "response", "status": status });
    if let Some(ra) = retry_after(rng, now) {
        v["retryAfter"] = json!(ra);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessionkeeper_core::DeliveryOutcome;

    #[test]
    fn outcomes_parse() {
        let mut rng = SplitMix64::new(9);
        for i in 0..2_000 {
            let now = if i % 2 == 0 { 1_764_400_000_000 } else { u64::MAX - 5 };
            let v = outcome(&mut rng, now, i % 3 == 0);
            serde_json::from_value::<DeliveryOutcome>(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"));
        }
    }
}
