//! Prometheus `/metrics` on a listener of its own (`metrics_listen`), plain HTTP for an internal
//! network, so scraping never touches the TLS listeners or their limits. It shows the
//! authorization server's counts, the decisions of the resource-server guards in this process,
//! and how many client certificates expire soon.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::admin::expiring::{expiring_within, known_certificates};
use crate::oauth::AppState;
use crate::rs::Decisions;

/// What `/metrics` reads.
#[derive(Clone)]
pub(super) struct Sources {
    pub state: AppState,
    pub decisions: Arc<Decisions>,
    /// `[admin] expiring_within_days`.
    pub expiring_within_days: i64,
}

pub(super) async fn serve(
    listener: TcpListener,
    sources: Sources,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let app = Router::new().route("/metrics", get(metrics)).with_state(sources);
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
        tracing::error!(error = %e, "the metrics listener stopped");
    }
}

async fn metrics(State(sources): State<Sources>) -> impl IntoResponse {
    let mut out = String::new();
    let state = &sources.state;
    state.audit.metrics.render(state.audit.stats(), &mut out);
    sources.decisions.render(&mut out);
    expiring_certificates(&sources, &mut out).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

/// The client certificates the server knows (registered, or last seen at authentication) that
/// expire within the configured days, the expired included. Read from the database at each
/// scrape; left out, and logged, if it cannot be.
async fn expiring_certificates(sources: &Sources, out: &mut String) {
    let days = sources.expiring_within_days;
    let known = match known_certificates(&sources.state.store).await {
        Ok(known) => known,
        Err(e) => {
            tracing::warn!(error = %e, "counting expiring certificates failed");
            return;
        }
    };
    let count = expiring_within(known, crate::now(), days).len();
    out.push_str(
        "# HELP certbound_client_certificates_expiring Client certificates (registered or last seen) \
         expiring within the days given, the expired included.\n\
         # TYPE certbound_client_certificates_expiring gauge\n",
    );
    out.push_str(&format!(
        "certbound_client_certificates_expiring{{within_days=\"{days}\"}} {count}\n"
    ));
}
