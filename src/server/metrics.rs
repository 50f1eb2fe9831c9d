//! Prometheus `/metrics` on a listener of its own (`metrics_listen`), plain HTTP for an internal
//! network, so scraping never touches the TLS listeners or their limits.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::oauth::AppState;

pub(super) async fn serve(
    listener: TcpListener,
    state: AppState,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let app = Router::new().route("/metrics", get(metrics)).with_state(state);
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
        tracing::error!(error = %e, "the metrics listener stopped");
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    state.audit.metrics.render(state.audit.stats(), &mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
