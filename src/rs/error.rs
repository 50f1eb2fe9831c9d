//! The resource server's error type: RFC 6750 §3 and RFC 9449 §7.1 errors, each rendered with
//! its status and `WWW-Authenticate` challenges. A refusal challenges with every scheme the route
//! accepts (`Bearer` for certificate-bound tokens, `DPoP` with its algorithms), and puts the
//! error on the scheme the request used. Descriptions are fixed strings; internal causes are
//! logged.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::policy::SenderBinding;
use crate::domain::scope::is_scope_token;

/// The DPoP algorithms a resource accepts (RFC 9449 §7.1 `algs`), those of FAPI 2.0.
pub const DPOP_ALGS: &str = "ES256 PS256 EdDSA";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RsError {
    /// No credentials at all: bare challenges (RFC 6750 §3.1).
    MissingToken,
    InvalidRequest(&'static str),
    InvalidToken(&'static str),
    /// RFC 9449 §7.1: the DPoP proof is missing, malformed, or not for this request and token.
    InvalidDpopProof(&'static str),
    InsufficientScope(String),
    /// A store the check depends on did not answer; logged, the caller sees a 503.
    Unavailable(String),
    /// Remote mode: the revocation list is past its bound (logged once when it turned stale);
    /// the caller sees a 503 and may retry.
    RevocationsStale,
    /// Logged; the caller sees only a 500.
    Internal(String),
}

/// The authorization scheme a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

/// An error as answered to a request: with the scheme it used and the bindings the route
/// accepts, which decide the challenges.
#[derive(Debug)]
pub struct Refusal {
    pub error: RsError,
    pub scheme: Scheme,
    pub accepts: SenderBinding,
}

impl IntoResponse for RsError {
    fn into_response(self) -> Response {
        Refusal {
            error: self,
            scheme: Scheme::Bearer,
            accepts: SenderBinding::Either,
        }
        .into_response()
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, error, description) = match &self.error {
            RsError::MissingToken => (StatusCode::UNAUTHORIZED, None, String::new()),
            RsError::InvalidRequest(d) => (StatusCode::BAD_REQUEST, Some("invalid_request"), d.to_string()),
            RsError::InvalidToken(d) => (StatusCode::UNAUTHORIZED, Some("invalid_token"), d.to_string()),
            RsError::InvalidDpopProof(d) => (StatusCode::UNAUTHORIZED, Some("invalid_dpop_proof"), d.to_string()),
            RsError::InsufficientScope(scope) => (
                StatusCode::FORBIDDEN,
                Some("insufficient_scope"),
                format!("requires scope {scope}"),
            ),
            RsError::Unavailable(detail) => {
                tracing::error!(error = %detail, "resource server dependency unavailable");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
            RsError::RevocationsStale => {
                let mut response = StatusCode::SERVICE_UNAVAILABLE.into_response();
                let headers = response.headers_mut();
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                return response;
            }
            RsError::Internal(detail) => {
                tracing::error!(error = %detail, "resource server error");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        let errored = match self.error {
            RsError::InvalidDpopProof(_) => Scheme::Dpop,
            _ => self.scheme,
        };
        let params = |scheme: Scheme| {
            let Some(code) = error.filter(|_| scheme == errored) else {
                return String::new();
            };
            match &self.error {
                // A policy built field by field may hold a scope that is no scope-token: it is
                // left out rather than let it break the header.
                RsError::InsufficientScope(scope) if is_scope_token(scope) => {
                    format!(r#", error="{code}", scope="{scope}""#)
                }
                RsError::InsufficientScope(_) => format!(r#", error="{code}""#),
                _ => format!(r#", error="{code}", error_description="{description}""#),
            }
        };
        let mut response = match error {
            Some(code) => (
                status,
                axum::Json(serde_json::json!({"error": code, "error_description": description})),
            )
                .into_response(),
            None => status.into_response(),
        };
        let headers = response.headers_mut();
        let carries_error = |scheme: Scheme| error.is_some() && scheme == errored;
        // The challenge carrying the error comes first: proxies that pass one header on (nginx's
        // `$upstream_http_www_authenticate`) pass that one.
        let mut schemes = [Scheme::Bearer, Scheme::Dpop];
        schemes.sort_by_key(|s| !carries_error(*s));
        for scheme in schemes {
            let text = match scheme {
                Scheme::Bearer if self.accepts.accepts_certificate() || carries_error(scheme) => {
                    format!(r#"Bearer realm="certbound"{}"#, params(scheme))
                }
                Scheme::Dpop if self.accepts.accepts_dpop() || carries_error(scheme) => {
                    format!(r#"DPoP realm="certbound"{}, algs="{DPOP_ALGS}""#, params(scheme))
                }
                _ => continue,
            };
            headers.append(header::WWW_AUTHENTICATE, challenge(scheme, text));
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// The challenge as a header; should it not be a valid header value, the bare scheme and realm.
fn challenge(scheme: Scheme, text: String) -> HeaderValue {
    HeaderValue::from_str(&text).unwrap_or_else(|_| match scheme {
        Scheme::Bearer => HeaderValue::from_static(r#"Bearer realm="certbound""#),
        Scheme::Dpop => HeaderValue::from_static(r#"DPoP realm="certbound""#),
    })
}
