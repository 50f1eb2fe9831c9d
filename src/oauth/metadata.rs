//! Discovery (RFC 8414, served at both well-known paths) and the JWKS.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{AppState, Endpoints};
use crate::domain::GrantType;

const AUTH_METHODS: [&str; 2] = ["tls_client_auth", "self_signed_tls_client_auth"];

/// Renders the metadata document once, at startup.
pub fn render(endpoints: &Endpoints) -> bytes::Bytes {
    let issuer = &endpoints.issuer;
    let mut doc = json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "grant_types_supported": GrantType::ALL.map(GrantType::as_str),
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "tls_client_certificate_bound_access_tokens": true,
    });
    if let Some(base) = &endpoints.mtls_base {
        doc["mtls_endpoint_aliases"] = json!({
            "token_endpoint": format!("{base}/token"),
            "introspection_endpoint": format!("{base}/introspect"),
            "revocation_endpoint": format!("{base}/revoke"),
        });
    }
    serde_json::to_vec(&doc).expect("serialising metadata").into()
}

pub async fn discovery(State(state): State<AppState>) -> Response {
    json_response(state.metadata.clone(), "public, max-age=300")
}

/// Short-lived caching: clients must see a rotated key soon after rotation.
pub async fn jwks(State(state): State<AppState>) -> Response {
    json_response(state.keys().jwks(), "public, max-age=60")
}

fn json_response(body: bytes::Bytes, cache: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
