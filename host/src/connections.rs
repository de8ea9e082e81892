//! Accepting HTTP connections with limits, so that no client can hold the service: a deadline
//! for a request's headers that also ends idle keep-alive connections, and a cap on open
//! connections. At the cap the longest-idle connection is closed to make room, so a new client
//! (a load balancer's `/health`) is answered even while idle or half-sent connections pile up.
//! A connection counts as busy from a request's start until its answer's body is sent (an SSE
//! stream stays busy), and busy connections are never closed to make room.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use crate::metrics::Metrics;

/// The limits of [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a client has to send a request's headers; an idle keep-alive connection is
    /// closed after as long.
    pub header_timeout: Duration,
    /// Connections open at most.
    pub max_connections: usize,
}

/// Counts of what [`serve`] did, for `/metrics`.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Connections open now.
    pub open: AtomicU64,
    /// Idle connections closed to make room for a new one at the cap.
    pub evicted: AtomicU64,
    /// New connections closed at once because every open one was busy at the cap.
    pub refused: AtomicU64,
}

struct Conn {
    /// Requests (and answer bodies) under way.
    busy: AtomicUsize,
    /// When it last became idle.
    idle_since: Mutex<Instant>,
    /// Cancelled to close it now (to make room).
    evict: CancellationToken,
}

/// Marks its connection busy while alive.
struct Busy(Arc<Conn>);

impl Busy {
    fn enter(conn: &Arc<Conn>) -> Self {
        conn.busy.fetch_add(1, Relaxed);
        Self(conn.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.idle_since.lock().expect("conn lock") = Instant::now();
        self.0.busy.fetch_sub(1, Relaxed);
    }
}

/// An answer body that keeps its connection busy until it is sent or dropped.
struct GuardedBody {
    inner: Body,
    _busy: Busy,
}

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

type Registry = Arc<Mutex<BTreeMap<u64, Arc<Conn>>>>;

/// Closes the longest-idle connection; false when every connection is busy.
fn evict_one(registry: &Registry, stats: &ConnectionStats) -> bool {
    let conns = registry.lock().expect("registry lock");
    let idlest = conns
        .values()
        .filter(|c| c.busy.load(Relaxed) == 0 && !c.evict.is_cancelled())
        .min_by_key(|c| *c.idle_since.lock().expect("conn lock"));
    match idlest {
        Some(c) => {
            c.evict.cancel();
            stats.evicted.fetch_add(1, Relaxed);
            true
        }
        None => false,
    }
}

/// Bytes of request and response one connection buffers at most.
const CONNECTION_BUFFER: usize = 64 * 1024;

/// Serves `router` on `listener` until `stop` is cancelled, then closes idle connections at
/// once and lets busy ones finish their request for up to `grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
    grace: Duration,
) {
    let stats = &metrics.connections;
    let registry: Registry = Arc::default();
    let mut tasks = JoinSet::new();
    let mut next_id = 0u64;
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of file descriptors and the like: make room and retry shortly.
                tracing::warn!(error = %e, "accept failed");
                evict_one(&registry, stats);
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let open = registry.lock().expect("registry lock").len();
        if open >= limits.max_connections && !evict_one(&registry, stats) {
            stats.refused.fetch_add(1, Relaxed);
            tracing::warn!(
                max = limits.max_connections,
                "connection cap reached and every connection busy; closed a new one"
            );
            drop(tcp);
            continue;
        }
        let _ = tcp.set_nodelay(true);
        let conn = Arc::new(Conn {
            busy: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            evict: CancellationToken::new(),
        });
        let id = next_id;
        next_id += 1;
        registry.lock().expect("registry lock").insert(id, conn.clone());
        stats.open.fetch_add(1, Relaxed);
        tasks.spawn(connection(
            tcp,
            router.clone(),
            conn,
            limits,
            stop.clone(),
            registry.clone(),
            id,
            metrics.clone(),
        ));
    }
    // Idle connections go now; busy ones were told to finish (see `connection`).
    let _ = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if !tasks.is_empty() {
        tracing::warn!(open = tasks.len(), "shutdown: connections did not finish in time; closing them");
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

#[allow(clippy::too_many_arguments)]
async fn connection(
    tcp: tokio::net::TcpStream,
    router: Router,
    conn: Arc<Conn>,
    limits: Limits,
    stop: CancellationToken,
    registry: Registry,
    id: u64,
    metrics: Arc<Metrics>,
) {
    let tracked = conn.clone();
    let service = tower::service_fn(move |req: hyper::Request<Incoming>| {
        let busy = Busy::enter(&tracked);
        let router = router.clone();
        async move {
            let resp = router.oneshot(req.map(Body::new)).await.unwrap_or_else(|e: Infallible| match e {});
            Ok::<_, Infallible>(resp.map(|inner| Body::new(GuardedBody { inner, _busy: busy })))
        }
    });
    let http = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // Bounds what one connection holds in memory, an event stream to a reader that does
        // not read included (hyper's default is about 400 KiB).
        .max_buf_size(CONNECTION_BUFFER)
        .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service));
    tokio::pin!(http);
    tokio::select! {
        _ = http.as_mut() => {}
        _ = conn.evict.cancelled() => {}
        _ = stop.cancelled() => {
            if conn.busy.load(Relaxed) > 0 {
                http.as_mut().graceful_shutdown();
                let _ = http.as_mut().await;
            }
        }
    }
    registry.lock().expect("registry lock").remove(&id);
    metrics.connections.open.fetch_sub(1, Relaxed);
}
