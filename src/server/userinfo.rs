//! `GET|POST /userinfo` (OpenID Connect Core §5.3): the authorization server's own protected
//! resource. The resource-server guard admits only a token bound to the certificate on this
//! connection, live and unrevoked, with scope `openid`; the token must act for a customer under
//! a grant. The claims come from the customer record.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;

use crate::oauth::AppState;
use crate::rs::{Authenticated, Guard, Policy, RsError};

pub(super) fn router(state: AppState, guard: &Guard) -> Router {
    Router::new()
        .route("/userinfo", get(userinfo).post(userinfo))
        .layer(guard.require(Policy::scopes(&["openid"]).expect("a literal scope-token")))
        .with_state(state)
}

async fn userinfo(State(state): State<AppState>, who: Authenticated) -> Response {
    if who.grant_id().is_none() {
        return RsError::InvalidToken("the access token does not act for a customer").into_response();
    }
    match state.store.customer(who.subject()).await {
        Ok(Some(customer)) if customer.is_active() => {
            let mut response = axum::Json(json!({ "sub": customer.id })).into_response();
            response.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            response
        }
        Ok(_) => RsError::InvalidToken("the customer is unknown or disabled").into_response(),
        Err(e) => RsError::Internal(e.to_string()).into_response(),
    }
}
