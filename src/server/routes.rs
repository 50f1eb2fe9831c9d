//! What each listener serves: the authorization server's endpoints, the customer's pages (only
//! on the front listener, which never asks for a certificate), health, userinfo, and the optional
//! resource servers running in this process (demo bank, gateway mode), whose guards all count
//! their decisions in the one [`Decisions`] `/metrics` shows.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use super::userinfo;
use crate::config::Settings;
use crate::oauth::{self, AppState};
use crate::rs::{Decisions, Guard, LocalAuthority, Policy};

/// The front listener's router and the mTLS listener's. The front one serves the API too, so a
/// deployment whose proxy terminates TLS (`mtls_listen = "none"`) needs only it. The admin
/// console is on the front one only.
pub(super) fn routers(
    state: AppState,
    local: &LocalAuthority,
    decisions: &Arc<Decisions>,
    settings: &Settings,
    console: crate::admin::Console,
) -> (Router, Router) {
    let api = api(state.clone(), local, decisions, settings);
    let front = api.clone().merge(oauth::pages(state.clone()));
    (front.merge(crate::admin::router(state, console)), api)
}

/// Everything but the pages.
fn api(state: AppState, local: &LocalAuthority, decisions: &Arc<Decisions>, settings: &Settings) -> Router {
    let issuer = state.issuer().to_string();
    let guard = |audiences| Guard::local(local, audiences).with_decisions(decisions.clone());
    let mut app = oauth::router(state.clone())
        .merge(userinfo::router(state.clone(), &guard(vec![issuer.clone()])))
        .merge(
            Router::new()
                .route("/healthz", get(|| async { "ok" }))
                .route("/readyz", get(ready))
                .with_state(state.clone()),
        );
    let consent_guard = guard(vec![issuer.clone()]);
    let consent_base = state.endpoints.mtls_base.clone().unwrap_or_else(|| issuer.clone());
    app = app.merge(crate::openbanking::consents::router(
        state.store.clone(),
        &consent_base,
        &consent_guard,
    ));
    if settings.demo_bank {
        let audiences = vec![issuer.clone(), format!("{issuer}{}", crate::demo_bank::PATH)];
        app = app.merge(crate::demo_bank::router(&guard(audiences)));
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
                    binding: p.binding,
                    allow_unbound: p.allow_unbound,
                };
                (name.clone(), policy)
            })
            .collect();
        let guard = guard(audiences).with_origins(gateway.origins.clone());
        app = app.merge(crate::rs::gateway::router(guard, policies));
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
