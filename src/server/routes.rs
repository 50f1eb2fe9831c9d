//! What each listener serves: the authorization server's routes, health, and the optional
//! resource servers running in this process (demo bank, gateway mode).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use crate::config::Settings;
use crate::oauth::{self, AppState};
use crate::rs::{Guard, LocalAuthority, Policy};

pub(super) fn router(state: AppState, local: &LocalAuthority, settings: &Settings) -> Router {
    let mut app = oauth::router(state.clone()).merge(
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(ready))
            .with_state(state.clone()),
    );
    let issuer = state.issuer().to_string();
    if settings.demo_bank {
        let audiences = vec![issuer.clone(), format!("{issuer}{}", crate::demo_bank::PATH)];
        app = app.merge(crate::demo_bank::router(&Guard::local(local, audiences)));
    }
    if let Some(gateway) = &settings.gateway {
        let audiences = if gateway.audiences.is_empty() {
            vec![issuer]
        } else {
            gateway.audiences.clone()
        };
        let policies = gateway
            .policies
            .iter()
            .map(|(name, p)| {
                let policy = Policy {
                    scopes: p.scopes.clone(),
                    api_key: p.api_key,
                    allow_unbound: p.allow_unbound,
                };
                (name.clone(), policy)
            })
            .collect();
        app = app.merge(crate::rs::gateway::router(Guard::local(local, audiences), policies));
    }
    app
}

/// Ready when the database answers and a signing key is loaded.
async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.store.ping().await {
        Ok(()) if state.keys().kids().next().is_some() => (StatusCode::OK, "ready"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "not ready"),
    }
}
