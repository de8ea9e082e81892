//! Session endpoints: add, remove, feed a Baileys `connection.update`, fetch the QR, list.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use sessionkeeper_core::{validate_session_id, ConnectionUpdate, Input, SessionsView};

use super::error::{json_body, AppError};
use super::AppState;

/// `POST /sessions` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddSession {
    session_id: String,
    #[serde(default)]
    meta: Option<sessionkeeper_core::Meta>,
}

fn session_id(path: Result<Path<String>, PathRejection>) -> Result<String, AppError> {
    let Path(id) = path?;
    validate_session_id(&id)?;
    Ok(id)
}

/// `GET /sessions`.
pub async fn list(State(state): State<AppState>) -> Result<Json<SessionsView>, AppError> {
    Ok(Json(state.driver.read(|k, now| k.sessions(now)).await?))
}

/// `POST /sessions` `{sessionId}` -> 201.
pub async fn add(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AppError> {
    let AddSession { session_id, meta } = json_body(&body?)?;
    validate_session_id(&session_id)?;
    state.driver.submit(Input::AddSession { session_id: session_id.clone(), meta }).await?;
    Ok((StatusCode::CREATED, Json(json!({ "sessionId": session_id, "added": true }))).into_response())
}

/// `DELETE /sessions/{id}` (optional `?reason=`).
pub async fn remove(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<RemoveQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let session_id = session_id(path)?;
    let Query(RemoveQuery { reason }) = query?;
    state.driver.submit(Input::RemoveSession { session_id: session_id.clone(), reason }).await?;
    Ok(Json(json!({ "sessionId": session_id, "removed": true })))
}

/// Query of `DELETE /sessions/{id}`.
#[derive(Debug, Deserialize)]
pub struct RemoveQuery {
    reason: Option<String>,
}

/// `POST /sessions/{id}/events`: the raw Baileys `connection.update` object.
pub async fn event(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let session_id = session_id(path)?;
    let body = body?;
    let update: ConnectionUpdate = serde_json::from_slice(&body)
        .map_err(|e| AppError::bad_request(format!("invalid connection.update: {e}")))?;
    state.driver.submit(Input::ConnectionUpdate { session_id, update }).await?;
    Ok(Json(json!({ "accepted": true })))
}

/// Query of `GET /sessions/{id}/qr`.
#[derive(Debug, Deserialize)]
pub struct QrQuery {
    format: Option<String>,
}

/// `GET /sessions/{id}/qr?format=png|svg|raw` (png by default).
pub async fn qr(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<QrQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let session_id = session_id(path)?;
    let Query(QrQuery { format }) = query?;
    let format = format.unwrap_or_else(|| "png".into());
    if !matches!(format.as_str(), "png" | "svg" | "raw") {
        return Err(AppError::bad_request("format must be png, svg or raw"));
    }
    let id = session_id.clone();
    let (known, qr) =
        state.driver.read(move |k, _| (k.has_session(&id), k.qr(&id).map(str::to_owned))).await?;
    if !known {
        return Err(AppError::not_found(format!("unknown session `{session_id}`")));
    }
    let qr = qr.ok_or_else(|| AppError::not_found(format!("no QR for session `{session_id}`")))?;
    let render_err =
        |e: sessionkeeper_qr::RenderError| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    Ok(match format.as_str() {
        "png" => ([(header::CONTENT_TYPE, "image/png")], sessionkeeper_qr::png(&qr).map_err(render_err)?)
            .into_response(),
        "svg" => ([(header::CONTENT_TYPE, "image/svg+xml")], sessionkeeper_qr::svg(&qr).map_err(render_err)?)
            .into_response(),
        _ => Json(json!({ "sessionId": session_id, "qr": qr })).into_response(),
    })
}
