//! The soak's backend: a Laravel stand-in that flaps on a seeded schedule (outages that refuse
//! and cut connections, 503 and hanging windows, 429 bursts, slow windows, one 1 GB answer)
//! and records every item it acknowledged with a 2xx.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How the backend answers right now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// 200 at once.
    Ok,
    /// Refuses: new connections are closed at once, open ones cut.
    Down,
    /// 503 to everything.
    Unavailable,
    /// Never answers.
    Hang,
    /// 429 with `Retry-After: 1`.
    Throttle,
    /// 200 after this many ms.
    Slow(u64),
}

#[derive(Default)]
struct Shared {
    /// Idempotency keys of the items acknowledged.
    acked: Mutex<HashSet<String>>,
    /// In ack order, by session: `(at, status)`.
    statuses: Mutex<HashMap<String, Vec<(u64, String)>>>,
    mode: Mutex<Option<Mode>>,
    giant_next: AtomicBool,
    requests: AtomicU64,
}

/// A running flapping backend.
#[derive(Clone)]
pub struct Backend {
    shared: Arc<Shared>,
    cut: Arc<watch::Sender<u64>>,
    /// Base URL for `laravelApiUrl`.
    pub url: String,
}

impl Backend {
    /// Serves on 127.0.0.1 port 0.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api", listener.local_addr().unwrap());
        let shared = Arc::new(Shared { mode: Mutex::new(Some(Mode::Ok)), ..Shared::default() });
        let (cut, _) = watch::channel(0u64);
        let cut = Arc::new(cut);
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let (s, c) = (shared.clone(), cut.clone());
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else { continue };
                if s.mode() == Mode::Down {
                    drop(socket);
                    continue;
                }
                let service = hyper_util::service::TowerToHyperService::new(app.clone());
                let mut cut = c.subscribe();
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(socket);
                    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
                    tokio::select! {
                        _ = conn => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { shared, cut, url }
    }

    /// Switches the mode; going down cuts the open connections.
    pub fn set(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = Some(mode);
        if mode == Mode::Down {
            self.cut.send_modify(|n| *n += 1);
        }
    }

    /// The next request is answered 200 with a 1 GB body.
    pub fn giant_next(&self) {
        self.shared.giant_next.store(true, Relaxed);
    }

    /// Idempotency keys of the items acknowledged.
    pub fn acked(&self) -> HashSet<String> {
        self.shared.acked.lock().unwrap().clone()
    }

    /// Statuses acknowledged per session, in the order they were acknowledged.
    pub fn statuses(&self) -> HashMap<String, Vec<(u64, String)>> {
        self.shared.statuses.lock().unwrap().clone()
    }

    /// Requests received.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Relaxed)
    }
}

impl Shared {
    fn mode(&self) -> Mode {
        self.mode.lock().unwrap().unwrap_or(Mode::Ok)
    }

    fn record(&self, headers: &HeaderMap, body: &Bytes) {
        let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        if let (Some(session), Some(status)) = (json["sessionId"].as_str(), json["status"].as_str()) {
            let at = json["at"].as_u64().unwrap_or(0);
            self.statuses
                .lock()
                .unwrap()
                .entry(session.to_owned())
                .or_default()
                .push((at, status.to_owned()));
        }
        self.acked.lock().unwrap().insert(key);
    }
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.requests.fetch_add(1, Relaxed);
    if shared.giant_next.swap(false, Relaxed) {
        // A 200 (the item is delivered), then 1 GB in 64 KiB chunks made as the reader takes
        // them.
        shared.record(&headers, &body);
        let chunk = Bytes::from(vec![b' '; 64 * 1024]);
        let stream = futures_util::stream::iter((0..16_384).map(move |_| Ok::<_, Infallible>(chunk.clone())));
        return (StatusCode::OK, Body::from_stream(stream)).into_response();
    }
    match shared.mode() {
        Mode::Ok => {}
        Mode::Down | Mode::Unavailable => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        Mode::Throttle => {
            return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "").into_response();
        }
        Mode::Slow(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
    }
    shared.record(&headers, &body);
    (StatusCode::OK, "{}").into_response()
}
