//! What the npm package's `handler()` must answer exactly like the host: the cleanup routes'
//! bodies and session-id checks come from the core, so their errors are the host's words.

use sessionkeeper_core::{
    cleanup_input, process_families, validate_session_id, Cleanup, DeliveryOutcome, Input, KeeperError,
    DELIVERY_OUTCOME_LABELS, MAX_PAYLOAD_BYTES,
};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use crate::convert::{from_js, js_error, keeper_error, INVALID_INPUT};

/// `cleanupMs(route, body)`: the milliseconds a `POST /cleanup-{route}-sessions` body gives
/// (`route` is `inactive` or `pending`; `body` the raw bytes), `undefined` for none. Values
/// past 2^53 (JS numbers) mean "never" and come back as the largest safe integer. Throws a
/// `KeeperError` (`InvalidBody`, status 400) with the host's message.
#[wasm_bindgen(js_name = cleanupMs)]
pub fn cleanup_ms_js(route: &str, body: &[u8]) -> Result<Option<f64>, JsValue> {
    let route = match route {
        "inactive" => Cleanup::Inactive,
        "pending" => Cleanup::Pending,
        other => return Err(js_error(INVALID_INPUT, &format!("no cleanup route `{other}`"))),
    };
    let ms = match cleanup_input(route, body).map_err(|e| keeper_error(&e))? {
        Input::CleanupInactive { idle_for_ms: ms } | Input::CleanupPending { older_than_ms: ms } => ms,
        _ => None,
    };
    Ok(ms.map(|ms| ms.min(MAX_SAFE_INTEGER) as f64))
}

/// `payloadLimit()`: the largest payload the keeper takes, in bytes of JSON. A payload whose
/// JSON text is longer than this in UTF-16 units is certainly over it, and is refused with
/// `payloadTooLarge()` before it crosses into wasm memory (which never shrinks).
#[wasm_bindgen(js_name = payloadLimit)]
pub fn payload_limit_js() -> u32 {
    MAX_PAYLOAD_BYTES as u32
}

/// `payloadTooLarge()`: the core's refusal of a payload over `payloadLimit()`.
#[wasm_bindgen(js_name = payloadTooLarge)]
pub fn payload_too_large_js() -> JsValue {
    keeper_error(&KeeperError::payload_too_large())
}

/// The largest integer a JS number holds exactly.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// `checkSessionId(id)`: throws the core's `InvalidSessionId` error for an id it would refuse.
#[wasm_bindgen(js_name = checkSessionId)]
pub fn check_session_id_js(id: &str) -> Result<(), JsValue> {
    validate_session_id(id).map_err(|e| keeper_error(&e))
}

/// `outcomeClass(outcome)`: what a backend answer means (`success`, `failure`, `throttled`,
/// `rejected`), as the breaker and the host's metrics see it.
#[wasm_bindgen(js_name = outcomeClass)]
pub fn outcome_class_js(
    #[wasm_bindgen(unchecked_param_type = "DeliveryOutcome")] outcome: JsValue,
) -> Result<String, JsValue> {
    let outcome: DeliveryOutcome = from_js(outcome, "outcome")?;
    let class = serde_json::to_value(outcome.class()).expect("a unit variant");
    Ok(class.as_str().unwrap_or_default().to_owned())
}

/// `outcomeLabel(outcome)`: its `outcome` label in `sessionkeeper_deliveries_total`.
#[wasm_bindgen(js_name = outcomeLabel)]
pub fn outcome_label_js(
    #[wasm_bindgen(unchecked_param_type = "DeliveryOutcome")] outcome: JsValue,
) -> Result<String, JsValue> {
    let outcome: DeliveryOutcome = from_js(outcome, "outcome")?;
    Ok(outcome.metric_label().to_owned())
}

/// `outcomeLabels()`: every `outcome` label, in the order both edges list them.
#[wasm_bindgen(js_name = outcomeLabels)]
pub fn outcome_labels_js() -> Vec<String> {
    DELIVERY_OUTCOME_LABELS.iter().map(|l| (*l).to_owned()).collect()
}

/// `processMetricsText(transitions, outcomes)`: the families an edge counts in its own process,
/// as the host renders them: breaker transitions (9 counts, `[from][to]` in `CLOSED`, `OPEN`,
/// `HALF_OPEN` order) and deliveries by outcome (in `outcomeLabels()` order).
#[wasm_bindgen(js_name = processMetricsText)]
pub fn process_metrics_text_js(transitions: Vec<f64>, outcomes: Vec<f64>) -> Result<String, JsValue> {
    if transitions.len() != 9 || outcomes.len() != DELIVERY_OUTCOME_LABELS.len() {
        return Err(js_error(INVALID_INPUT, "expected 9 transition counts and one count per outcome label"));
    }
    let count = |v: f64| v.max(0.0) as u64;
    let t = std::array::from_fn(|i| std::array::from_fn(|j| count(transitions[i * 3 + j])));
    let o = std::array::from_fn(|i| count(outcomes[i]));
    let mut out = String::new();
    process_families(&mut out, &t, &o);
    Ok(out)
}
