//! Gateway mode: an authorization endpoint for APIs in any language behind nginx
//! (`auth_request`) or Envoy (`ext_authz`, HTTP service). The proxy terminates mutual TLS,
//! forwards the client certificate in its configured header (honoured only because the proxy is
//! a trusted peer of this listener), and calls `/gateway/check/{policy}` with the original
//! request's `Authorization`, `DPoP` and `x-api-key`. For a DPoP proof the original method and
//! URL matter: nginx passes them in `X-Original-Method` and `X-Original-URI`; Envoy calls with
//! the original method and appends the original path to ours. The answer is 200 with identity
//! headers, or the resource server's 401/403 with `WWW-Authenticate`.
//!
//! Policies are named in certbound's configuration, never taken from the request, so a client
//! cannot weaken them by sending headers the proxy passes along.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

use super::{Guard, Incoming, Policy};
use crate::tls::PeerCertificate;

/// Identity headers on a 200.
pub const CLIENT_ID_HEADER: &str = "x-certbound-client-id";
pub const SCOPE_HEADER: &str = "x-certbound-scope";
pub const THUMBPRINT_HEADER: &str = "x-certbound-cert-thumbprint";
pub const DPOP_JKT_HEADER: &str = "x-certbound-dpop-jkt";

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
    State(gateway): State<Arc<Gateway>>,
    Path((policy, original)): Path<(String, String)>,
    request: Request,
) -> Response {
    let path = format!("/{original}");
    decide(&gateway, &policy, request.into_parts().0, Some(&path)).await
}

async fn check(State(gateway): State<Arc<Gateway>>, Path(policy): Path<String>, request: Request) -> Response {
    decide(&gateway, &policy, request.into_parts().0, None).await
}

/// Borrows the request's headers rather than extracting a copy: this runs for every request
/// behind the proxy.
async fn decide(gateway: &Gateway, policy: &str, request: Parts, envoy_path: Option<&str>) -> Response {
    let Some(policy) = gateway.policies.get(policy) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let headers = &request.headers;
    let cert = request.extensions.get::<PeerCertificate>().cloned().unwrap_or_default();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let original_uri = header("x-original-uri");
    let (path, query) = match (original_uri, envoy_path) {
        (Some(uri), _) => uri.split_once('?').map_or((uri, None), |(p, q)| (p, Some(q))),
        (None, Some(path)) => (path, request.uri.query()),
        (None, None) => (request.uri.path(), request.uri.query()),
    };
    let incoming = Incoming {
        method: header("x-original-method").unwrap_or(request.method.as_str()),
        path,
        query,
        host: header("x-forwarded-host").or(header("host")),
        headers,
        cert: &cert,
    };
    match gateway.guard.check(policy, &incoming).await {
        Ok(auth) => {
            let mut response = StatusCode::OK.into_response();
            let h = response.headers_mut();
            let value = |s: &str| HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("-"));
            h.insert(CLIENT_ID_HEADER, value(auth.client_id()));
            h.insert(SCOPE_HEADER, value(&auth.scopes().join(" ")));
            if let Some(t) = auth.cert_thumbprint() {
                h.insert(THUMBPRINT_HEADER, value(&t.to_base64url()));
            }
            if let Some(k) = auth.dpop_key() {
                h.insert(DPOP_JKT_HEADER, value(&k.to_base64url()));
            }
            response
        }
        Err(e) => e.into_response(),
    }
}
