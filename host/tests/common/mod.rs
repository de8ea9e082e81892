//! Shared test helpers: a fake backend, starting the host in-process, polling with deadlines.
#![allow(dead_code)]

pub mod binary;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use sessionkeeper_host::server::{self, Running};
use sessionkeeper_host::settings::{self, Sources};

/// How the fake backend answers.
#[derive(Debug, Clone)]
pub enum Mode {
    /// 200 `{}`.
    Ok,
    /// This status, empty body.
    Status(u16),
    /// 429 with this Retry-After.
    Throttle(String),
    /// Never answers (until the test ends).
    Hang,
    /// 200 with a body that never ends.
    Endless,
}

/// One request the backend received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub body: Value,
    pub headers: HeaderMap,
    pub raw: Bytes,
    pub at: Instant,
    /// What it was answered with (None: hung).
    pub answered: Option<u16>,
}

#[derive(Default)]
struct Inner {
    mode: Option<Mode>,
    /// Answers used once each before `mode` applies.
    script: Vec<Mode>,
    received: Vec<Received>,
}

/// A fake Laravel backend on 127.0.0.1.
#[derive(Clone)]
pub struct Backend {
    inner: Arc<Mutex<Inner>>,
    pub addr: SocketAddr,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Backend {
    /// Starts on a free port.
    pub async fn start(mode: Mode) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::on(listener, mode)
    }

    /// Starts on `listener`.
    pub fn on(listener: tokio::net::TcpListener, mode: Mode) -> Self {
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Mutex::new(Inner { mode: Some(mode), ..Inner::default() }));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { inner, addr, task: Arc::new(task) }
    }

    /// Base URL to configure as `laravelApiUrl`.
    pub fn url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// Changes how it answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.inner.lock().unwrap().mode = Some(mode);
    }

    /// Answers the next requests with these, in order, before the mode applies again.
    pub fn script(&self, answers: Vec<Mode>) {
        let mut inner = self.inner.lock().unwrap();
        inner.script = answers.into_iter().rev().collect();
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Requests received on `path` (e.g. `/api/qr`).
    pub fn on_path(&self, path: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.path == path).collect()
    }

    /// Stops serving (connections then fail).
    pub fn stop(&self) {
        self.task.abort();
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mode = {
        let mut g = inner.lock().unwrap();
        g.script.pop().or_else(|| g.mode.clone()).unwrap_or(Mode::Ok)
    };
    let answered = match &mode {
        Mode::Ok => Some(200),
        Mode::Status(s) => Some(*s),
        Mode::Throttle(_) => Some(429),
        Mode::Hang => None,
        Mode::Endless => Some(200),
    };
    inner.lock().unwrap().received.push(Received {
        path: uri.path().to_owned(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        headers,
        raw: body,
        at: Instant::now(),
        answered,
    });
    match mode {
        Mode::Ok => (StatusCode::OK, "{}").into_response(),
        Mode::Status(s) => StatusCode::from_u16(s).unwrap().into_response(),
        Mode::Throttle(after) => {
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", after)], "").into_response()
        }
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            StatusCode::OK.into_response()
        }
        Mode::Endless => {
            let chunk = Bytes::from(vec![b' '; 64 * 1024]);
            let stream = futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
            (StatusCode::OK, axum::body::Body::from_stream(stream)).into_response()
        }
    }
}

/// A port nothing listens on (bound, then closed).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A host under test with its own data directory.
pub struct Host {
    pub running: Option<Running>,
    pub base: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub api_key: Option<String>,
}

/// Small timeouts so tests need no long waits.
pub const FAST: &[(&str, &str)] = &[
    ("syncSpacing", "0"),
    ("maxConcurrentMessages", "4"),
    ("retryBaseDelay", "20"),
    ("retryMaxDelay", "100"),
    ("circuitBreakerThreshold", "3"),
    ("circuitBreakerResetTimeout", "200"),
    ("circuitBreakerMaxResetTimeout", "400"),
    ("requestTimeout", "1000"),
    ("shutdownTimeout", "2000"),
];

impl Host {
    /// Starts a host delivering to `backend_url` with [`FAST`] plus `extra` settings.
    pub async fn start(backend_url: &str, extra: &[(&str, &str)]) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), backend_url, extra).await
    }

    /// Like [`Host::start`] on an existing data directory.
    pub async fn start_in(dir: tempfile::TempDir, backend_url: &str, extra: &[(&str, &str)]) -> Self {
        let mut flags: Vec<(String, String, String)> = vec![
            ("port".into(), "0".into(), "test".into()),
            ("dataDir".into(), dir.path().display().to_string(), "test".into()),
            ("laravelApiUrl".into(), backend_url.into(), "test".into()),
        ];
        for (k, v) in FAST.iter().chain(extra) {
            flags.push((k.to_string(), v.to_string(), "test".into()));
        }
        let api_key = extra.iter().find(|(k, _)| *k == "apiKey").map(|(_, v)| v.to_string());
        let settings = settings::load(&Sources { file: None, env: Vec::new(), flags }).unwrap();
        let running = server::start(settings).await.unwrap();
        let base = format!("http://{}", running.addr);
        Self { running: Some(running), base, client: reqwest::Client::new(), dir, api_key }
    }

    /// A request with the API key (if any).
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.client.request(method, format!("{}{}", self.base, path));
        match &self.api_key {
            Some(k) => r.bearer_auth(k),
            None => r,
        }
    }

    /// POST a JSON body; returns status and JSON.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let resp = self.req(reqwest::Method::POST, path).json(&body).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// GET JSON.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self.req(reqwest::Method::GET, path).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// A GET answered with text (metrics, SVG).
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let resp = self.req(reqwest::Method::GET, path).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap_or_default())
    }

    /// `GET /health`.
    pub async fn health(&self) -> Value {
        self.get("/health").await.1
    }

    /// Adds a session (asserting 201).
    pub async fn add(&self, id: &str) {
        let (s, body) = self.post("/sessions", serde_json::json!({ "sessionId": id })).await;
        assert_eq!(s, 201, "{body}");
    }

    /// Posts a `connection.update`; returns the status.
    pub async fn event(&self, id: &str, update: Value) -> u16 {
        self.post(&format!("/sessions/{id}/events"), update).await.0
    }

    /// Orderly shutdown; returns the data directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        let running = self.running.take().unwrap();
        running.shutdown();
        running.wait().await.unwrap();
        self.dir
    }
}

/// Polls `check` until it returns `Some`, or panics with `what` after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
