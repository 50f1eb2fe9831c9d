//! Gateway mode: an authorization endpoint for APIs in any language behind nginx
//! (`auth_request`) or Envoy (`ext_authz`, HTTP service). The proxy terminates mutual TLS,
//! forwards the client certificate in its configured header (honoured only because the proxy is
//! a trusted peer of this listener), and calls `/gateway/check/{policy}` with the original
//! request's `Authorization` and `x-api-key`. The answer is 200 with identity headers, or the
//! resource server's 401/403 with `WWW-Authenticate`.
//!
//! Policies are named in certbound's configuration, never taken from the request, so a client
//! cannot weaken them by sending headers the proxy passes along.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

use super::{Guard, Policy};
use crate::tls::PeerCertificate;

/// Identity headers on a 200.
pub const CLIENT_ID_HEADER: &str = "x-certbound-client-id";
pub const SCOPE_HEADER: &str = "x-certbound-scope";
pub const THUMBPRINT_HEADER: &str = "x-certbound-cert-thumbprint";

struct Gateway {
    guard: Guard,
    policies: BTreeMap<String, Policy>,
}

/// Routes `/gateway/check/{policy}` and `/gateway/check/{policy}/{*original_path}` (Envoy
/// appends the original path to its path prefix).
pub fn router(guard: Guard, policies: BTreeMap<String, Policy>) -> Router {
    let state = Arc::new(Gateway { guard, policies });
    Router::new()
        .route("/gateway/check/{policy}", any(check))
        .route("/gateway/check/{policy}/{*original}", any(check_with_path))
        .with_state(state)
}

async fn check_with_path(
    state: State<Arc<Gateway>>,
    Path((policy, _original)): Path<(String, String)>,
    request: Request,
) -> Response {
    check(state, Path(policy), request).await
}

/// Borrows the request's headers rather than extracting a copy: this runs for every request
/// behind the proxy.
async fn check(State(gateway): State<Arc<Gateway>>, Path(policy): Path<String>, request: Request) -> Response {
    let Some(policy) = gateway.policies.get(&policy) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let headers = request.headers();
    let cert = request
        .extensions()
        .get::<PeerCertificate>()
        .cloned()
        .unwrap_or_default();
    // nginx passes the original URI in a header; Envoy appends it to ours.
    let original_query = headers
        .get("x-original-uri")
        .and_then(|v| v.to_str().ok())
        .and_then(|u| u.split_once('?').map(|(_, q)| q))
        .or(request.uri().query());
    match gateway.guard.check(policy, headers, original_query, &cert).await {
        Ok(auth) => {
            let mut response = StatusCode::OK.into_response();
            let h = response.headers_mut();
            let value = |s: &str| HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("-"));
            h.insert(CLIENT_ID_HEADER, value(auth.client_id()));
            h.insert(SCOPE_HEADER, value(&auth.scopes().join(" ")));
            if let Some(t) = auth.cert_thumbprint() {
                h.insert(THUMBPRINT_HEADER, value(&t.to_base64url()));
            }
            response
        }
        Err(e) => e.into_response(),
    }
}
