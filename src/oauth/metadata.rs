//! Discovery (RFC 8414, and OpenID Connect Discovery at its well-known path) and the JWKS.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::interaction::permissions::DESCRIBED_SCOPES;
use super::{AppState, Endpoints};
use crate::domain::{AuthMethod, GrantType};
use crate::jose::SigningAlg;

/// The endpoints clients authenticate at, which have an mTLS alias (RFC 8705 §5).
const AUTHENTICATED: [(&str, &str); 5] = [
    ("token_endpoint", "/token"),
    ("pushed_authorization_request_endpoint", "/par"),
    ("introspection_endpoint", "/introspect"),
    ("revocation_endpoint", "/revoke"),
    ("userinfo_endpoint", "/userinfo"),
];

/// Renders the metadata document once, at startup; ID tokens are signed with `alg`.
pub fn render(endpoints: &Endpoints, alg: SigningAlg, detail_types: &[&str]) -> bytes::Bytes {
    let issuer = &endpoints.issuer;
    let auth_methods = AuthMethod::ALL.map(AuthMethod::as_str);
    let algs = SigningAlg::ALL.map(SigningAlg::as_str);
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "jwks_uri": format!("{issuer}/jwks"),
        "require_pushed_authorization_requests": true,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "grant_types_supported": GrantType::ALL.map(GrantType::as_str),
        "scopes_supported": DESCRIBED_SCOPES,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [alg.as_str()],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "tls_client_certificate_bound_access_tokens": true,
        "dpop_signing_alg_values_supported": algs,
        // Signed request objects are accepted at PAR, the only way in (RFC 9101 §10.1).
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": algs,
        "request_uri_parameter_supported": false,
        "authorization_details_types_supported": detail_types,
        "claims_parameter_supported": true,
    });
    for (name, path) in AUTHENTICATED {
        doc[name] = format!("{issuer}{path}").into();
    }
    if let Some(base) = &endpoints.mtls_base {
        doc["mtls_endpoint_aliases"] = AUTHENTICATED
            .iter()
            .map(|(name, path)| (name.to_string(), format!("{base}{path}").into()))
            .collect::<serde_json::Map<_, _>>()
            .into();
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
