//! The token-endpoint family's error type: RFC 6749 §5.2 JSON, always `Cache-Control: no-store`.
//! Descriptions are fixed strings; internal details are logged, never returned.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("invalid_request: {0}")]
    InvalidRequest(&'static str),
    #[error("request body too large")]
    RequestTooLarge,
    /// The body did not arrive within the listener's body timeout (a slow or stalled client).
    #[error("request body timed out")]
    RequestTimeout,
    /// Deliberately without detail: the reason is logged with the certificate.
    #[error("invalid_client")]
    InvalidClient,
    /// The same, answering a request that sent an `Authorization` header: RFC 6749 §5.2 wants a
    /// `WWW-Authenticate` challenge with the 401.
    #[error("invalid_client (with a challenge)")]
    InvalidClientChallenge,
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(&'static str),
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    #[error("unsupported_response_type")]
    UnsupportedResponseType,
    /// RFC 9101 §6.2: the request object does not verify or breaks a rule.
    #[error("invalid_request_object: {0}")]
    InvalidRequestObject(&'static str),
    /// RFC 6749 §5.2: the code or refresh token is invalid, expired, revoked, or not this
    /// client's; deliberately without saying which.
    #[error("invalid_grant: {0}")]
    InvalidGrant(&'static str),
    /// RFC 9449 §5: the DPoP proof is missing where required, malformed or wrong.
    #[error("invalid_dpop_proof: {0}")]
    InvalidDpopProof(&'static str),
    /// RFC 9449 §8: the proof must carry this nonce, sent in `DPoP-Nonce`.
    #[error("use_dpop_nonce")]
    UseDpopNonce(String),
    #[error("invalid_scope: {0}")]
    InvalidScope(&'static str),
    #[error("invalid_target: {0}")]
    InvalidTarget(&'static str),
    /// RFC 9396 §5: unknown type, invalid object, or more than was granted.
    #[error("invalid_authorization_details: {0}")]
    InvalidAuthorizationDetails(&'static str),
    /// Logged; the caller sees only `server_error`.
    #[error("internal error: {0}")]
    Internal(String),
}

impl OAuthError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    fn parts(&self) -> (StatusCode, &'static str, Option<&'static str>) {
        match self {
            Self::InvalidRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", Some(d)),
            Self::RequestTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                Some("request body too large"),
            ),
            Self::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "invalid_request",
                Some("the request body did not arrive in time"),
            ),
            Self::InvalidClient | Self::InvalidClientChallenge => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                Some("client authentication failed"),
            ),
            Self::UnauthorizedClient(d) => (StatusCode::BAD_REQUEST, "unauthorized_client", Some(d)),
            Self::UnsupportedGrantType => (StatusCode::BAD_REQUEST, "unsupported_grant_type", None),
            Self::UnsupportedResponseType => (
                StatusCode::BAD_REQUEST,
                "unsupported_response_type",
                Some("only response_type=code is supported"),
            ),
            Self::InvalidRequestObject(d) => (StatusCode::BAD_REQUEST, "invalid_request_object", Some(d)),
            Self::InvalidDpopProof(d) => (StatusCode::BAD_REQUEST, "invalid_dpop_proof", Some(d)),
            Self::UseDpopNonce(_) => (
                StatusCode::BAD_REQUEST,
                "use_dpop_nonce",
                Some("the DPoP proof must carry the server's nonce"),
            ),
            Self::InvalidGrant(_) => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                Some("the grant is invalid, expired or revoked"),
            ),
            Self::InvalidScope(d) => (StatusCode::BAD_REQUEST, "invalid_scope", Some(d)),
            Self::InvalidTarget(d) => (StatusCode::BAD_REQUEST, "invalid_target", Some(d)),
            Self::InvalidAuthorizationDetails(d) => (StatusCode::BAD_REQUEST, "invalid_authorization_details", Some(d)),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error", None),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(detail) => tracing::error!(error = %detail, "internal error"),
            Self::InvalidGrant(reason) => tracing::info!(reason, "invalid_grant"),
            _ => {}
        }
        let (status, code, description) = self.parts();
        let body = match description {
            Some(d) => serde_json::json!({ "error": code, "error_description": d }),
            None => serde_json::json!({ "error": code }),
        };
        let mut response = (status, axum::Json(body)).into_response();
        no_store(&mut response);
        response.extensions_mut().insert(crate::audit::Refused(code));
        if let Self::UseDpopNonce(nonce) = &self {
            if let Ok(value) = HeaderValue::from_str(nonce) {
                response.headers_mut().insert("dpop-nonce", value);
            }
        }
        if matches!(self, Self::InvalidClientChallenge) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="certbound""#),
            );
        }
        response
    }
}

/// RFC 6749 §5.1: responses carrying tokens or token errors must not be cached.
pub fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
