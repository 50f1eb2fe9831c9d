//! `POST /introspect` (RFC 7662), for clients authenticated by mutual TLS. A client sees its own
//! tokens; a client registered as a resource server (`can_introspect`) sees any. Everything
//! else, including revoked, expired and foreign tokens, is `{"active": false}`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::client_auth::{self, VerifiedClient};
use super::error::no_store;
use super::{AppState, OAuthError, OAuthForm};
use crate::domain::AccessTokenClaims;
use crate::tls::PeerCertificate;

pub async fn handle(
    State(state): State<AppState>,
    peer: PeerCertificate,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    let token = form.require("token", "token is required")?;
    let client = client_auth::authenticate(&state, &peer, &form).await?;
    let claims = match state.keys().verify(token, state.issuer()) {
        Ok(claims) => claims,
        Err(reason) => {
            tracing::debug!(client_id = client.id(), %reason, "introspected token is not valid");
            return Ok(inactive());
        }
    };
    if !may_see(&client, &claims) {
        return Ok(inactive());
    }
    if state
        .store
        .is_token_revoked(&claims.jti)
        .await
        .map_err(OAuthError::internal)?
    {
        return Ok(inactive());
    }
    let mut body = serde_json::to_value(&claims).map_err(OAuthError::internal)?;
    body["active"] = true.into();
    body["token_type"] = "Bearer".into();
    let mut response = axum::Json(body).into_response();
    no_store(&mut response);
    Ok(response)
}

fn may_see(client: &VerifiedClient, claims: &AccessTokenClaims) -> bool {
    client.client().can_introspect || claims.client_id == client.id()
}

fn inactive() -> Response {
    let mut response = axum::Json(json!({ "active": false })).into_response();
    no_store(&mut response);
    response
}
