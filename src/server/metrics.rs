//! Prometheus `/metrics` on a listener of its own (`metrics_listen`), plain HTTP for an internal
//! network, so scraping never touches the TLS listeners or their limits. It shows the
//! authorization server's counts and the decisions of the resource-server guards in this process.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::oauth::AppState;
use crate::rs::Decisions;

pub(super) async fn serve(
    listener: TcpListener,
    state: AppState,
    decisions: Arc<Decisions>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state((state, decisions));
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
        tracing::error!(error = %e, "the metrics listener stopped");
    }
}

async fn metrics(State((state, decisions)): State<(AppState, Arc<Decisions>)>) -> impl IntoResponse {
    let mut out = String::new();
    state.audit.metrics.render(state.audit.stats(), &mut out);
    decisions.render(&mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
