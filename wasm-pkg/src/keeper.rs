//! `WasmKeeper`: the core's [`Keeper`] with JS-typed arguments. No logic lives here.

use serde::Serialize;
use sessionkeeper_core::{
    Config, Connection, ConnectionUpdate, DeliveryOutcome, DisconnectError, ErrorOutput, Input, Keeper,
    KeeperError, LastDisconnect, Output,
};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use crate::convert::{
    config_error, from_js, js_error, keeper_error, now_arg, parse_now, to_js, INVALID_INPUT,
};

/// The keeper, owned by JS. See the crate docs for the call contract.
#[wasm_bindgen]
pub struct WasmKeeper {
    inner: Keeper,
}

#[wasm_bindgen]
impl WasmKeeper {
    /// A keeper from a config of camelCase keys: an object, or its JSON text (which the shim
    /// passes, so no user object is walked from inside wasm); `undefined` for the defaults.
    /// Unknown keys are refused; the error names the key.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "KeeperConfig | string | undefined")] config: JsValue,
        incarnation: Option<String>,
    ) -> Result<WasmKeeper, JsValue> {
        let config = parse_config(config)?;
        let incarnation = match incarnation {
            None => 0,
            Some(hex) => u64::from_str_radix(&hex, 16)
                .ok()
                .filter(|_| hex.len() == 16)
                .ok_or_else(|| js_error(INVALID_INPUT, "incarnation must be 16 hex digits"))?,
        };
        let inner = Keeper::with_incarnation(config, incarnation).map_err(|e| keeper_error(&e))?;
        Ok(WasmKeeper { inner })
    }

    /// The incarnation in this keeper's idempotency keys, as 16 hex digits.
    pub fn incarnation(&self) -> String {
        format!("{:016x}", self.inner.incarnation())
    }

    /// The keeper's Prometheus families at `now` (the host serves the same text).
    #[wasm_bindgen(js_name = metricsText)]
    pub fn metrics_text(&self, now: f64) -> Result<String, JsValue> {
        Ok(self.inner.health(now_arg(now)?).prometheus())
    }

    /// Feeds one input (JSON text) at `now` (unix ms) and answers its `Ack` as JSON text. Throws
    /// a `KeeperError` and changes nothing when the input is refused; drain `pollOutputs()`
    /// afterwards. Text in, text out: nothing calls back into JS while the keeper is borrowed
    /// (a throwing getter or a circular value fails in the caller's `JSON.stringify`, outside).
    #[wasm_bindgen(js_name = handleJson)]
    pub fn handle_json(&mut self, now: f64, input: &str) -> Result<String, JsValue> {
        let now = now_arg(now)?;
        let input = parse_input(input)?;
        let ack = self.inner.handle(now, input).map_err(|e| keeper_error(&e))?;
        Ok(json(&ack))
    }

    /// Feeds a JSON array of inputs in one crossing; answers a JSON array with one result per
    /// input, `{"ok": Ack}` or `{"error": {"code", "message", "status"}}`, in order.
    #[wasm_bindgen(js_name = handleBatchJson)]
    pub fn handle_batch_json(&mut self, now: f64, inputs: &str) -> Result<String, JsValue> {
        let now = now_arg(now)?;
        let inputs: Vec<&serde_json::value::RawValue> = serde_json::from_str(inputs).map_err(|e| {
            js_error(INVALID_INPUT, &format!("invalid inputs: expected an array of inputs: {e}"))
        })?;
        let results: Vec<serde_json::Value> = inputs
            .into_iter()
            .map(|raw| {
                let refused = |code: &str, message: String, status: Option<u16>| {
                    serde_json::json!({"error": {"code": code, "message": message, "status": status}})
                };
                match parse_input_value(raw.get()) {
                    Err(e) => refused(e.code(), e.message(), e.status()),
                    Ok(input) => match self.inner.handle(now, input) {
                        Ok(ack) => serde_json::json!({ "ok": ack }),
                        Err(e) => refused(e.code(), e.to_string(), Some(e.http_status())),
                    },
                }
            })
            .collect();
        Ok(json(&results))
    }

    /// The hot path of `handle` for `connectionUpdate`: the update's fields as flat arguments,
    /// no object conversion. `connection` is `connecting`, `open` or `close`; `statusCode` and
    /// `message` are `lastDisconnect.error.output.statusCode` and `lastDisconnect.error.message`.
    #[wasm_bindgen(js_name = connectionUpdate)]
    #[allow(clippy::too_many_arguments)]
    pub fn connection_update(
        &mut self,
        now: f64,
        session_id: String,
        connection: Option<String>,
        qr: Option<String>,
        is_new_login: Option<bool>,
        status_code: Option<u16>,
        message: Option<String>,
    ) -> Result<(), JsValue> {
        let now = now_arg(now)?;
        let connection = match connection {
            None => None,
            Some(c) => Some(
                serde_json::from_value::<Connection>(serde_json::Value::String(c))
                    .map_err(|e| js_error(INVALID_INPUT, &format!("invalid input: {e}")))?,
            ),
        };
        let last_disconnect = (status_code.is_some() || message.is_some()).then(|| LastDisconnect {
            error: Some(DisconnectError {
                message,
                output: status_code.map(|c| ErrorOutput { status_code: Some(c) }),
            }),
        });
        let update = ConnectionUpdate { connection, qr, is_new_login, last_disconnect };
        self.inner
            .handle(now, Input::ConnectionUpdate { session_id, update })
            .map_err(|e| keeper_error(&e))?;
        Ok(())
    }

    /// The hot path of `handle` for `deliveryResult`: `status` set for a response (with the raw
    /// `retryAfter` header), else `timedOut` or a network error `message`.
    #[wasm_bindgen(js_name = deliveryResult)]
    pub fn delivery_result(
        &mut self,
        now: f64,
        delivery_id: f64,
        status: Option<u16>,
        retry_after: Option<String>,
        timed_out: bool,
        message: Option<String>,
    ) -> Result<(), JsValue> {
        let now = now_arg(now)?;
        let delivery_id =
            parse_now(delivery_id).map_err(|_| js_error(INVALID_INPUT, "invalid deliveryId"))?;
        let outcome = match (status, timed_out) {
            (Some(status), _) => DeliveryOutcome::Response { status, retry_after },
            (None, true) => DeliveryOutcome::Timeout,
            (None, false) => DeliveryOutcome::NetworkError { message: message.unwrap_or_default() },
        };
        self.inner
            .handle(now, Input::DeliveryResult { delivery_id, outcome })
            .map_err(|e| keeper_error(&e))?;
        Ok(())
    }

    /// Drains every pending output into an array (empty when there is nothing to do).
    #[wasm_bindgen(js_name = pollOutputs, unchecked_return_type = "Output[]")]
    pub fn poll_outputs(&mut self) -> Result<JsValue, JsValue> {
        let mut outputs = Vec::new();
        while let Some(output) = self.inner.poll_output() {
            outputs.push(output);
        }
        to_js(&outputs)
    }

    /// Drains every pending output as a JSON array string. `skip` (optional) is a bit mask of
    /// kinds nobody will look at, drained without being serialised: 1 `command`, 2
    /// `sessionChanged`, 4 `breakerChanged`, 8 `deadLettered` (deliveries are never skipped).
    #[wasm_bindgen(js_name = pollOutputsJson)]
    pub fn poll_outputs_json(&mut self, skip: Option<u32>) -> String {
        let skip = skip.unwrap_or(0);
        let mut outputs = Vec::new();
        while let Some(output) = self.inner.poll_output() {
            let bit = match &output {
                Output::Deliver(_) => 0,
                Output::Command(_) => 1,
                Output::SessionChanged(_) => 2,
                Output::BreakerChanged(_) => 4,
                Output::DeadLettered(_) => 8,
            };
            if skip & bit == 0 {
                outputs.push(output);
            }
        }
        if outputs.is_empty() {
            return "[]".into();
        }
        json(&outputs)
    }

    /// The next deadline (unix ms) at which to call `handleTimeout`, if any.
    #[wasm_bindgen(js_name = pollTimeout)]
    pub fn poll_timeout(&self) -> Option<f64> {
        self.inner.poll_timeout().map(|t| t as f64)
    }

    /// Fires every timer due by `now`. Drain `pollOutputs()` afterwards.
    #[wasm_bindgen(js_name = handleTimeout)]
    pub fn handle_timeout(&mut self, now: f64) -> Result<(), JsValue> {
        self.inner.handle_timeout(now_arg(now)?);
        Ok(())
    }

    /// `GET /sessions` at `now`.
    #[wasm_bindgen(unchecked_return_type = "SessionsView")]
    pub fn sessions(&self, now: f64) -> Result<JsValue, JsValue> {
        to_js(&self.inner.sessions(now_arg(now)?))
    }

    /// `GET /health` at `now`; `countsOnly` as a caller without the API key sees it.
    #[wasm_bindgen(unchecked_return_type = "HealthView")]
    pub fn health(&self, now: f64, counts_only: Option<bool>) -> Result<JsValue, JsValue> {
        let health = self.inner.health(now_arg(now)?);
        to_js(&if counts_only == Some(true) { health.counts_only() } else { health })
    }

    /// The kept dead letters with their bodies, as JSON text (`GET /dead-letters`).
    #[wasm_bindgen(js_name = deadLettersJson)]
    pub fn dead_letters_json(&self) -> String {
        json(&self.inner.dead_letters())
    }

    /// Whether the keeper holds this session.
    #[wasm_bindgen(js_name = hasSession)]
    pub fn has_session(&self, session_id: &str) -> bool {
        self.inner.has_session(session_id)
    }

    /// The last QR string of a pending session.
    pub fn qr(&self, session_id: &str) -> Option<String> {
        self.inner.qr(session_id).map(str::to_owned)
    }

    /// The last effective `now` the keeper saw.
    pub fn now(&self) -> f64 {
        self.inner.now() as f64
    }

    /// The effective config (every key, defaults filled in) as JSON text: its 64-bit `seed`
    /// does not fit a JS number.
    #[wasm_bindgen(js_name = configJson)]
    pub fn config_json(&self) -> String {
        json(self.inner.config())
    }

    /// Every config key the core accepts (camelCase).
    #[wasm_bindgen(js_name = configKeys)]
    pub fn config_keys() -> Vec<String> {
        Config::key_names().map(str::to_owned).collect()
    }

    /// The whole state as a JSON string (deterministic).
    pub fn snapshot(&self) -> String {
        self.inner.snapshot()
    }

    /// A keeper rebuilt from `snapshot()`. After a crash, feed `{type: "restarted"}` so
    /// requests that were in flight are sent again.
    pub fn restore(snapshot: &str) -> Result<WasmKeeper, JsValue> {
        let inner = Keeper::restore(snapshot).map_err(|e| keeper_error(&e))?;
        Ok(WasmKeeper { inner })
    }

    /// Like `restore`, with the config replaced by `config` (camelCase keys, defaults for the
    /// rest, exactly as `new` takes it): a restart applies the config given now.
    #[wasm_bindgen(js_name = restoreWithConfig)]
    pub fn restore_with_config(
        snapshot: &str,
        #[wasm_bindgen(unchecked_param_type = "KeeperConfig | string | undefined")] config: JsValue,
    ) -> Result<WasmKeeper, JsValue> {
        let inner =
            Keeper::restore_with_config(snapshot, parse_config(config)?).map_err(|e| keeper_error(&e))?;
        Ok(WasmKeeper { inner })
    }
}

fn parse_config(config: JsValue) -> Result<Config, JsValue> {
    if config.is_undefined() || config.is_null() {
        return Ok(Config::default());
    }
    let value: serde_json::Value = match config.as_string() {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| js_error("Config", &format!("invalid config: not JSON: {e}")))?,
        None => from_js(config, "config")?,
    };
    Config::from_value(value).map_err(|e| config_error(&e))
}

/// Why an input text was refused, before the keeper saw it.
enum Unreadable {
    /// Nested past what the keeper accepts (the core's own refusal).
    Keeper(KeeperError),
    /// Not an input of the documented shape.
    Shape(String),
}

impl Unreadable {
    fn code(&self) -> &'static str {
        match self {
            Self::Keeper(e) => e.code(),
            Self::Shape(_) => INVALID_INPUT,
        }
    }
    fn message(&self) -> String {
        match self {
            Self::Keeper(e) => e.to_string(),
            Self::Shape(m) => m.clone(),
        }
    }
    fn status(&self) -> Option<u16> {
        match self {
            Self::Keeper(e) => Some(e.http_status()),
            Self::Shape(_) => None,
        }
    }
}

/// Reads one input's JSON text. Text nested past the reader's limit can only be a payload too
/// deep for the keeper, and is refused as the keeper refuses one.
fn parse_input_value(text: &str) -> Result<Input, Unreadable> {
    serde_json::from_str(text).map_err(|e| {
        let message = e.to_string();
        if message.starts_with("recursion limit exceeded") {
            Unreadable::Keeper(KeeperError::payload_too_deep())
        } else {
            Unreadable::Shape(format!("invalid input: {message}"))
        }
    })
}

fn parse_input(text: &str) -> Result<Input, JsValue> {
    parse_input_value(text).map_err(|e| match e {
        Unreadable::Keeper(e) => keeper_error(&e),
        Unreadable::Shape(m) => js_error(INVALID_INPUT, &m),
    })
}

fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("core values are plain data")
}
