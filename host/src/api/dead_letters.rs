//! Dead letters an operator can look at, send again or discard: items the backend refused, or
//! that ran out of attempts, kept with their bodies in the keeper's (journaled) state.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::json;
use sessionkeeper_core::{DeadLetterDetail, Input};

use super::error::AppError;
use super::AppState;

fn item_id(path: Result<Path<String>, PathRejection>) -> Result<u64, AppError> {
    let Path(raw) = path?;
    raw.parse().map_err(|_| {
        AppError::bad_request(format!("dead letter id must be an item id (a whole number), got `{raw}`"))
    })
}

/// `GET /dead-letters`: the kept dead letters with their bodies, oldest first.
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<DeadLetterDetail>>, AppError> {
    Ok(Json(state.driver.read(|k, _| k.dead_letters()).await?))
}

/// `POST /dead-letters/{id}/retry`: sent again, under its idempotency key.
pub async fn retry(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let item_id = item_id(path)?;
    state.driver.submit(Input::RetryDeadLetter { item_id }).await?;
    Ok(Json(json!({ "itemId": item_id, "retried": true })))
}

/// `DELETE /dead-letters/{id}`: forgotten.
pub async fn discard(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let item_id = item_id(path)?;
    state.driver.submit(Input::DiscardDeadLetter { item_id }).await?;
    Ok(Json(json!({ "itemId": item_id, "discarded": true })))
}
