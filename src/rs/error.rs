//! The resource server's error type: RFC 6750 §3 errors, each rendered with its status and a
//! `WWW-Authenticate` challenge. Descriptions are fixed strings; internal causes are logged.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RsError {
    /// No credentials at all: a bare challenge (RFC 6750 §3.1).
    MissingToken,
    InvalidRequest(&'static str),
    InvalidToken(&'static str),
    InsufficientScope(String),
    /// Logged; the caller sees only a 500.
    Internal(String),
}

impl IntoResponse for RsError {
    fn into_response(self) -> Response {
        let (status, challenge, body) = match &self {
            RsError::MissingToken => (
                StatusCode::UNAUTHORIZED,
                r#"Bearer realm="certbound""#.to_string(),
                None,
            ),
            RsError::InvalidRequest(d) => (
                StatusCode::BAD_REQUEST,
                format!(r#"Bearer realm="certbound", error="invalid_request", error_description="{d}""#),
                Some(("invalid_request", d.to_string())),
            ),
            RsError::InvalidToken(d) => (
                StatusCode::UNAUTHORIZED,
                format!(r#"Bearer realm="certbound", error="invalid_token", error_description="{d}""#),
                Some(("invalid_token", d.to_string())),
            ),
            RsError::InsufficientScope(scope) => (
                StatusCode::FORBIDDEN,
                format!(r#"Bearer realm="certbound", error="insufficient_scope", scope="{scope}""#),
                Some(("insufficient_scope", format!("requires scope {scope}"))),
            ),
            RsError::Internal(detail) => {
                tracing::error!(error = %detail, "resource server error");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        let mut response = match body {
            Some((code, description)) => (
                status,
                axum::Json(serde_json::json!({"error": code, "error_description": description})),
            )
                .into_response(),
            None => status.into_response(),
        };
        let headers = response.headers_mut();
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&challenge).expect("ASCII challenge"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
