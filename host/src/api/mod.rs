//! The HTTP API (DESIGN.md, "Host HTTP API"). [`app`] builds the router from an [`AppState`];
//! `main` only binds and serves it.

mod auth;
mod commands;
pub mod error;
mod ops;
mod sessions;

use std::sync::Arc;

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
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_api_key));
    Router::new()
        .route("/health", get(ops::health))
        .merge(protected)
        .fallback(|| async { AppError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            AppError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}
