//! Operator endpoints: health, metrics, cleanups, and queueing the gateway's own backend calls.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use sessionkeeper_core::{cleanup_input, Ack, Cleanup, HealthView, Input};

use super::auth::authorized;
use super::error::{json_body, AppError};
use super::AppState;

/// `GET /health`: the keeper's health view, with `alerts` (always 200; see `status`). Open to
/// everyone; without the API key it shows counts only.
pub async fn health(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<HealthView>, AppError> {
    let health = state.driver.read(|k, now| k.health(now)).await?;
    Ok(Json(if authorized(&state, &headers) { health } else { health.counts_only() }))
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, AppError> {
    let health = state.driver.read(|k, now| k.health(now)).await?;
    let text = state.metrics.render(&health);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}

fn removed(ack: Ack) -> Json<serde_json::Value> {
    match ack {
        Ack::Removed { removed, count } => Json(json!({ "removed": removed, "count": count })),
        _ => Json(json!({ "removed": [], "count": 0 })),
    }
}

/// `POST /cleanup-inactive-sessions` -> `{removed, count}`.
pub async fn cleanup_inactive(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let input = cleanup_input(Cleanup::Inactive, &body?)?;
    Ok(removed(state.driver.submit(input).await?))
}

/// `POST /cleanup-pending-sessions` -> `{removed, count}`.
pub async fn cleanup_pending(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let input = cleanup_input(Cleanup::Pending, &body?)?;
    Ok(removed(state.driver.submit(input).await?))
}

/// `POST /enqueue` body: a backend call of the gateway's own.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Enqueue {
    path: String,
    payload: serde_json::Value,
    key: Option<String>,
    session_id: Option<String>,
}

/// `POST /enqueue` `{path, payload, key?, sessionId?}` -> 202 `{itemId, idempotencyKey}`.
/// 503 with `Retry-After` when the queue is full.
pub async fn enqueue(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AppError> {
    let Enqueue { path, payload, key, session_id } = json_body(&body?)?;
    let ack = state.driver.submit(Input::Enqueue { path, payload, key, session_id }).await?;
    Ok((StatusCode::ACCEPTED, Json(ack)).into_response())
}
