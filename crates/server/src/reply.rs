//! The server's answers: `{"ok": true, "data": ...}` or `{"ok": false, "error", "message"}`,
//! the one shape every endpoint answers in, and the clock they stamp.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// A refusal with a reason, as JSON (the shape of every refusal of the server).
pub fn refuse(status: StatusCode, kind: &str, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "ok": false, "error": kind, "message": message.into() }))).into_response()
}

pub fn internal(e: impl std::fmt::Display) -> Response {
    tracing::warn!("internal error: {e}");
    refuse(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the server could not answer; try again")
}

pub fn ok(data: Value) -> Response {
    (StatusCode::OK, axum::Json(json!({ "ok": true, "data": data }))).into_response()
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
