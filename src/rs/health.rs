//! `/readyz` and `/metrics` for a resource server in remote mode, to merge into the bank's own
//! router: a load balancer takes a guard whose revocation list went stale out of rotation, and
//! monitoring sees why before customers do.

use std::fmt::Write;
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::decisions::Decisions;
use super::remote::RemoteAuthority;

/// Routes `/readyz` (503 while the revocation list is stale) and `/metrics` (Prometheus text),
/// which also shows `decisions`: the service's guards' (`guard.decisions()`).
pub fn router(authority: Arc<RemoteAuthority>, decisions: Arc<Decisions>) -> Router {
    let for_metrics = authority.clone();
    Router::new()
        .route("/readyz", get(move || ready(authority.clone())))
        .route("/metrics", get(move || metrics(for_metrics.clone(), decisions.clone())))
}

async fn ready(authority: Arc<RemoteAuthority>) -> (StatusCode, &'static str) {
    if authority.revocations().is_stale() {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: revocation list stale")
    } else {
        (StatusCode::OK, "ready")
    }
}

async fn metrics(authority: Arc<RemoteAuthority>, decisions: Arc<Decisions>) -> impl IntoResponse {
    let revocations = authority.revocations();
    let age = revocations.age().map_or(-1.0, |a| a.as_secs_f64());
    let mut out = String::new();
    let mut gauge = |name: &str, kind: &str, help: &str, value: String| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    };
    gauge(
        "certbound_rs_revocation_list_age_seconds",
        "gauge",
        "Seconds since the revocation list was last refreshed (-1: never, or revocation off).",
        format!("{age:.3}"),
    );
    gauge(
        "certbound_rs_revocation_list_stale",
        "gauge",
        "1 while the revocation list is older than its bound.",
        u8::from(revocations.is_stale()).to_string(),
    );
    gauge(
        "certbound_rs_revocation_poll_failures_total",
        "counter",
        "Failed polls of the revocation list.",
        revocations.failures().to_string(),
    );
    gauge(
        "certbound_rs_jwks_fetches_total",
        "counter",
        "Fetches of the authorization server's JWKS.",
        authority.jwks_fetches().to_string(),
    );
    decisions.render(&mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
