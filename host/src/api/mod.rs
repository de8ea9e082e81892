//! The HTTP API (DESIGN.md, "Host HTTP API"). [`app`] builds the router from an [`AppState`];
//! `main` only binds and serves it.

mod auth;
mod commands;
mod dead_letters;
pub mod error;
mod ops;
mod sessions;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{middleware, Router};
use tokio_util::sync::CancellationToken;

use crate::command_log::CommandLog;
use crate::driver::DriverHandle;
use crate::metrics::Metrics;
use crate::settings::Secret;
use error::AppError;

/// Largest request body accepted (a `connection.update` is well under 1 KiB).
pub const BODY_LIMIT: usize = 64 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The keeper's driver.
    pub driver: DriverHandle,
    /// Commands for `GET /commands`.
    pub commands: Arc<CommandLog>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// When set, required on every endpoint but `/health`.
    pub api_key: Option<Secret>,
    /// Cancelled on shutdown (ends the event streams).
    pub shutdown: CancellationToken,
    /// How long a request may take before it is answered 408.
    pub request_timeout: Duration,
}

/// The message of a body over [`BODY_LIMIT`] (axum's words, which the npm handler answers too).
pub const TOO_LARGE: &str = "Failed to buffer the request body: length limit exceeded";

/// A body over [`BODY_LIMIT`] but at most this long is read and discarded before the 413, so
/// the client reads the answer on a connection that stays usable; a longer declared body is
/// refused at once and the connection closed (no waiting for bytes that will be refused).
pub const DRAINED_BODY_LIMIT: u128 = 1024 * 1024;

/// Refuses a declared body far over the limit at once, and answers 408 to a request that takes
/// longer than `request_timeout` (a body sent slower than its `Content-Length` promised).
async fn request_limits(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().parse::<u128>().unwrap_or(u128::MAX));
    if declared.is_some_and(|n| n > DRAINED_BODY_LIMIT) {
        return AppError::new(StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE).into_response();
    }
    match tokio::time::timeout(state.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => AppError::new(StatusCode::REQUEST_TIMEOUT, "request timed out").into_response(),
    }
}

/// The router.
pub fn app(state: AppState) -> Router {
    let protected = Router::new()
        .route("/sessions", get(sessions::list).post(sessions::add))
        .route("/sessions/{id}", axum::routing::delete(sessions::remove))
        .route("/sessions/{id}/events", post(sessions::event))
        .route("/sessions/{id}/qr", get(sessions::qr))
        .route("/cleanup-inactive-sessions", post(ops::cleanup_inactive))
        .route("/cleanup-pending-sessions", post(ops::cleanup_pending))
        .route("/enqueue", post(ops::enqueue))
        .route("/commands", get(commands::commands))
        .route("/metrics", get(ops::metrics))
        .route("/dead-letters", get(dead_letters::list))
        .route("/dead-letters/{id}", axum::routing::delete(dead_letters::discard))
        .route("/dead-letters/{id}/retry", post(dead_letters::retry))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_api_key));
    Router::new()
        .route("/health", get(ops::health))
        .merge(protected)
        .fallback(|| async { AppError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            AppError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), request_limits))
        .with_state(state)
}
