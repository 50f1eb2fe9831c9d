//! Why a request's forwarded certificate headers were refused.

/// Why a request's certificate headers were refused; each is a 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardError {
    UntrustedPeer,
    Duplicate,
    TooLong,
    Unparsable,
}

impl std::fmt::Display for ForwardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for ForwardError {}

impl ForwardError {
    pub fn description(&self) -> &'static str {
        match self {
            ForwardError::UntrustedPeer => "client certificate headers are not accepted from this peer",
            ForwardError::Duplicate => "the client certificate header appears more than once",
            ForwardError::TooLong => "the forwarded client certificate chain is too long",
            ForwardError::Unparsable => "the forwarded client certificate cannot be parsed",
        }
    }
}

/// Refused before any endpoint runs: 400 `invalid_request` in the RFC 6749 §5.2 shape, which
/// both OAuth clients and resource-server callers read.
impl axum::response::IntoResponse for ForwardError {
    fn into_response(self) -> axum::response::Response {
        let body = serde_json::json!({ "error": "invalid_request", "error_description": self.description() });
        let mut response = (http::StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
        response
    }
}
