//! `POST /introspect` (RFC 7662). A client sees its own tokens; a client registered as a
//! resource server (`can_introspect`) sees any. Access tokens are this server's JWTs; anything
//! else is looked up as a refresh token. Revoked, expired, foreign and unknown tokens are all
//! `{"active": false}`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::client_auth::{self, Presented, VerifiedClient};
use super::error::no_store;
use super::{AppState, OAuthError, OAuthForm, Shared};
use crate::domain::{AccessTokenClaims, ClientStatus};
use crate::web::cookies::hash;

pub async fn handle(
    State(state): State<AppState>,
    presented: Presented,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    let token = form.require("token", "token is required")?;
    let client = client_auth::authenticate(&state, &presented, &form).await?;
    let body = if looks_like_jwt(token) {
        access_token(&state, &client, token).await?
    } else {
        refresh_token(&state, &client, token).await?
    };
    let mut response = axum::Json(body.unwrap_or_else(|| json!({ "active": false }))).into_response();
    no_store(&mut response);
    Ok(response)
}

/// Compact JWS: three dot-separated parts. Refresh tokens are base64url without dots.
pub fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|&b| b == b'.').count() == 2
}

async fn access_token(state: &Shared, client: &VerifiedClient, token: &str) -> Result<Option<Value>, OAuthError> {
    let claims: AccessTokenClaims = match state.keys().verify(token, state.issuer()) {
        Ok(claims) => claims,
        Err(reason) => {
            tracing::debug!(client_id = client.id(), %reason, "introspected token is not valid");
            return Ok(None);
        }
    };
    if !may_see(client, &claims.client_id)
        || is_revoked(state, &claims).await?
        || !is_client_active(state, &claims.client_id).await?
    {
        return Ok(None);
    }
    let mut body = serde_json::to_value(&claims).map_err(OAuthError::internal)?;
    body["active"] = true.into();
    body["token_type"] = "Bearer".into();
    Ok(Some(body))
}

/// The token's client is still registered and not disabled: a disabled client's tokens are not
/// active.
async fn is_client_active(state: &Shared, client_id: &str) -> Result<bool, OAuthError> {
    let client = state.clients.get(client_id).await.map_err(OAuthError::internal)?;
    Ok(client.is_some_and(|c| c.client.status == ClientStatus::Active))
}

/// Revoked by `jti`, with every token of its client, or through the grant it was issued under.
async fn is_revoked(state: &Shared, claims: &AccessTokenClaims) -> Result<bool, OAuthError> {
    let store = &state.store;
    if store
        .is_token_revoked(&claims.jti)
        .await
        .map_err(OAuthError::internal)?
    {
        return Ok(true);
    }
    let client_revoked = store
        .client_tokens_revoked_at(&claims.client_id)
        .await
        .map_err(OAuthError::internal)?;
    if client_revoked.is_some_and(|at| claims.iat <= at) {
        return Ok(true);
    }
    let Some(grant_id) = &claims.grant_id else {
        return Ok(false);
    };
    let grant = state.store.grant(grant_id).await.map_err(OAuthError::internal)?;
    Ok(grant.is_none_or(|g| g.revoked_at.is_some()))
}

async fn refresh_token(state: &Shared, client: &VerifiedClient, token: &str) -> Result<Option<Value>, OAuthError> {
    let Some(entry) = state
        .refresh_tokens
        .get(&hash(token))
        .await
        .map_err(OAuthError::internal)?
    else {
        return Ok(None);
    };
    let grant = &entry.grant;
    if !may_see(client, &grant.client_id)
        || !grant.is_live(crate::now())
        || !is_client_active(state, &grant.client_id).await?
    {
        return Ok(None);
    }
    let mut body = json!({
        "active": true,
        "client_id": grant.client_id,
        "sub": grant.customer_id,
        "scope": grant.scopes.join(" "),
        "iss": state.issuer(),
        "iat": grant.created_at,
        "exp": grant.expires_at,
        "grant_id": grant.id,
    });
    if !grant.details.is_empty() {
        body["authorization_details"] = grant.details.clone().into();
    }
    Ok(Some(body))
}

fn may_see(client: &VerifiedClient, token_client_id: &str) -> bool {
    client.client().can_introspect || token_client_id == client.id()
}
