//! One error type for every handler: a status and a JSON `{error}` body.

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sessionkeeper_core::KeeperError;

use crate::driver::DriverError;

/// An error answered as `{"error": "..."}` with a fitting status.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    message: String,
    retry_after: Option<u32>,
}

impl AppError {
    /// An error with a status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), retry_after: None }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<KeeperError> for AppError {
    fn from(e: KeeperError) -> Self {
        let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = matches!(e, KeeperError::QueueFull { .. }).then_some(1);
        Self { status, message: e.to_string(), retry_after }
    }
}

impl From<DriverError> for AppError {
    fn from(e: DriverError) -> Self {
        match e {
            DriverError::Keeper(e) => e.into(),
            DriverError::Storage(_) | DriverError::Stopped => {
                Self { status: StatusCode::SERVICE_UNAVAILABLE, message: e.to_string(), retry_after: Some(1) }
            }
        }
    }
}

impl From<BytesRejection> for AppError {
    fn from(e: BytesRejection) -> Self {
        Self::new(e.status(), e.body_text())
    }
}

impl From<PathRejection> for AppError {
    fn from(e: PathRejection) -> Self {
        Self::bad_request(e.body_text())
    }
}

impl From<QueryRejection> for AppError {
    fn from(e: QueryRejection) -> Self {
        Self::bad_request(e.body_text())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(serde_json::json!({ "error": self.message }))).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Parses a JSON body as every edge does; an empty body reads as `null`.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    Ok(sessionkeeper_core::parse_json_body(body)?)
}
