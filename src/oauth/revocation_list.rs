//! `POST /revocations`: the ids of revoked, unexpired access tokens, for resource servers in
//! other processes to poll. Only clients registered as resource servers (`can_introspect`) may
//! read it; they authenticate by mutual TLS like at every other endpoint.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::client_auth;
use super::error::no_store;
use super::{AppState, OAuthError, OAuthForm};
use crate::tls::PeerCertificate;

pub async fn handle(
    State(state): State<AppState>,
    peer: PeerCertificate,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    let client = client_auth::authenticate(&state, &peer, &form).await?;
    if !client.client().can_introspect {
        return Err(OAuthError::UnauthorizedClient(
            "the client is not registered as a resource server",
        ));
    }
    let now = crate::now();
    let revoked: Vec<_> = state
        .store
        .live_revocations(now)
        .await
        .map_err(OAuthError::internal)?
        .into_iter()
        .map(|(jti, exp)| json!({"jti": jti, "exp": exp}))
        .collect();
    let mut response = axum::Json(json!({ "revoked": revoked, "as_of": now })).into_response();
    no_store(&mut response);
    Ok(response)
}
