//! Operator endpoints: health, metrics, cleanups, and queueing the gateway's own backend calls.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use sessionkeeper_core::{Ack, HealthView, Input};

use super::error::{json_body, AppError};
use super::AppState;

/// `GET /health`: the keeper's health view, with `alerts` (always 200; see `status`).
pub async fn health(State(state): State<AppState>) -> Result<Json<HealthView>, AppError> {
    Ok(Json(state.driver.read(|k, now| k.health(now)).await?))
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, AppError> {
    let health = state.driver.read(|k, now| k.health(now)).await?;
    let text = state.metrics.render(&health);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}

/// Optional body of `POST /cleanup-inactive-sessions`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CleanupInactive {
    idle_for_ms: Option<u64>,
}

/// Optional body of `POST /cleanup-pending-sessions`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CleanupPending {
    older_than_ms: Option<u64>,
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
    let body: Option<CleanupInactive> = json_body(&body?)?;
    let idle_for_ms = body.unwrap_or_default().idle_for_ms;
    Ok(removed(state.driver.submit(Input::CleanupInactive { idle_for_ms }).await?))
}

/// `POST /cleanup-pending-sessions` -> `{removed, count}`.
pub async fn cleanup_pending(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let body: Option<CleanupPending> = json_body(&body?)?;
    let older_than_ms = body.unwrap_or_default().older_than_ms;
    Ok(removed(state.driver.submit(Input::CleanupPending { older_than_ms }).await?))
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
