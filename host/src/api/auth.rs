//! API-key check: with `apiKey` set, every endpoint but `/health` requires
//! `Authorization: Bearer <key>` or `x-api-key: <key>`.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::AppError;
use super::AppState;

/// Constant-time equality (no early exit on the first differing byte).
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the request carries the API key (always, when none is configured).
pub fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(key) = &state.api_key else { return true };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The scheme is case-insensitive (RFC 9110).
        .and_then(|v| v.get(..7).filter(|s| s.eq_ignore_ascii_case("bearer ")).map(|_| &v[7..]));
    let x_api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    [bearer, x_api_key]
        .into_iter()
        .flatten()
        .any(|given| same(given.trim().as_bytes(), key.expose().as_bytes()))
}

/// The middleware.
pub async fn require_api_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if authorized(&state, req.headers()) {
        next.run(req).await
    } else {
        // Read (and drop) what the client is sending, so it reads the 401 instead of a reset
        // connection (bounded: longer bodies were refused before this).
        let _ = axum::body::to_bytes(req.into_body(), super::DRAINED_BODY_LIMIT as usize).await;
        let mut resp = AppError::new(StatusCode::UNAUTHORIZED, "missing or invalid API key").into_response();
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        resp
    }
}
