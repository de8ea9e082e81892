//! Executes `Output::Deliver`: renders the QR image at dispatch, signs, POSTs with reqwest
//! (rustls, pooled connections, per-request timeout) and turns what happened into a
//! [`DeliveryOutcome`] for the keeper.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use sessionkeeper_core::{Delivery, DeliveryOutcome};

use crate::metrics::Metrics;
use crate::settings::{Secret, Settings};
use crate::signing;

/// Header carrying the item's stable idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// Sends deliveries to the backend. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    base_url: Arc<str>,
    token: Option<Secret>,
    signing_secret: Option<Secret>,
    timeout: Duration,
    metrics: Arc<Metrics>,
    /// Rendered images by QR string, so a retried QR is not rendered again.
    qr_cache: Arc<Mutex<HashMap<String, Arc<str>>>>,
    render_slot: Arc<tokio::sync::Semaphore>,
}

/// Rendered QR images kept (then the cache starts over).
const QR_CACHE_ENTRIES: usize = 1_024;

impl Deliverer {
    /// A deliverer for `settings.laravelApiUrl`.
    pub fn new(settings: &Settings, metrics: Arc<Metrics>) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("sessionkeeper/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_millis(settings.request_timeout.min(5_000)))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            base_url: settings.laravel_api_url.trim_end_matches('/').into(),
            token: settings.laravel_api_token.clone(),
            signing_secret: settings.signing_secret.clone(),
            timeout: Duration::from_millis(settings.request_timeout),
            metrics,
            qr_cache: Arc::default(),
            render_slot: Arc::new(tokio::sync::Semaphore::new(1)),
        })
    }

    /// The base URL deliveries go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The request body: the item's body, plus `qrImage` rendered now when asked for (on the
    /// blocking pool: choosing the best QR mask costs milliseconds of CPU).
    pub async fn body(&self, delivery: &Delivery) -> Vec<u8> {
        if let Some(qr) = &delivery.render_qr {
            // `null` when the QR cannot be encoded: the backend gets the raw `qr` and decides.
            let image = match self.qr_image(qr).await {
                Ok(url) => serde_json::Value::from(url.as_ref()),
                Err(e) => {
                    tracing::warn!(item = delivery.item_id, error = %e, "QR not renderable, sent without image");
                    serde_json::Value::Null
                }
            };
            let mut body = delivery.body.to_value();
            if let Some(obj) = body.as_object_mut() {
                obj.insert("qrImage".into(), image);
            }
            return serde_json::to_vec(&body).expect("JSON values serialize");
        }
        serde_json::to_vec(&delivery.body).expect("JSON values serialize")
    }

    async fn qr_image(&self, qr: &str) -> Result<Arc<str>, String> {
        if let Some(hit) = self.qr_cache.lock().expect("cache lock").get(qr) {
            return Ok(hit.clone());
        }
        // One render at a time: it keeps QR work to one core's worth, so the API stays fast.
        let _permit = self.render_slot.acquire().await.map_err(|e| e.to_string())?;
        if let Some(hit) = self.qr_cache.lock().expect("cache lock").get(qr) {
            return Ok(hit.clone());
        }
        let owned = qr.to_owned();
        let url: Arc<str> = tokio::task::spawn_blocking(move || sessionkeeper_qr::png_data_url(&owned))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
            .into();
        let mut cache = self.qr_cache.lock().expect("cache lock");
        if cache.len() >= QR_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(qr.to_owned(), url.clone());
        Ok(url)
    }

    /// POSTs the delivery and reports the outcome. Never fails: errors are outcomes.
    pub async fn deliver(&self, delivery: &Delivery) -> DeliveryOutcome {
        let body = self.body(delivery).await;
        let url = format!("{}{}", self.base_url, delivery.path);
        let mut req = self
            .client
            .post(&url)
            .timeout(self.timeout)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            // Without it Laravel answers a validation failure with a redirect for browsers.
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(IDEMPOTENCY_HEADER, delivery.idempotency_key.as_str());
        if let Some(token) = &self.token {
            req = req.header(AUTHORIZATION, format!("Bearer {}", token.expose()));
        }
        if let Some(secret) = &self.signing_secret {
            let ts =
                SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0).to_string();
            let sig = signing::sign(secret.expose().as_bytes(), &ts, &body);
            req = req.header(signing::TIMESTAMP_HEADER, ts).header(signing::SIGNATURE_HEADER, sig);
        }
        let started = Instant::now();
        let result = req.body(body).send().await;
        let outcome = match result {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after =
                    resp.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
                // Read the (small) body so the connection goes back to the pool; past the cap
                // the rest is not read: the connection is dropped instead of buffering it.
                if drain_capped(resp, ANSWER_BODY_CAP).await == Drained::Truncated {
                    self.metrics.answers_truncated.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(
                        item = delivery.item_id,
                        status,
                        cap = ANSWER_BODY_CAP,
                        "backend answer body over the cap, not read"
                    );
                }
                DeliveryOutcome::Response { status, retry_after }
            }
            Err(e) if e.is_timeout() => DeliveryOutcome::Timeout,
            // Without the URL: it is in the logs' context already and may carry credentials.
            Err(e) => DeliveryOutcome::NetworkError { message: error_chain(&e.without_url()) },
        };
        self.metrics.record_delivery(&outcome, started.elapsed());
        tracing::debug!(
            item = delivery.item_id,
            delivery = delivery.delivery_id,
            path = %delivery.path,
            attempt = delivery.attempt,
            ?outcome,
            "delivered"
        );
        outcome
    }
}

/// The most of a backend answer's body that is read: the keeper only needs the status and
/// `Retry-After`, and a backend (or something posing as one) may answer without end.
pub const ANSWER_BODY_CAP: usize = 64 * 1024;

/// How reading an answer's body ended.
#[derive(Debug, PartialEq, Eq)]
enum Drained {
    /// Read to its end (or it failed: the status is what counts).
    Whole,
    /// Longer than the cap: the rest was left unread and the connection dropped.
    Truncated,
}

async fn drain_capped(mut resp: reqwest::Response, cap: usize) -> Drained {
    let mut read = 0usize;
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                read += chunk.len();
                if read > cap {
                    return Drained::Truncated;
                }
            }
            Ok(None) | Err(_) => return Drained::Whole,
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}
