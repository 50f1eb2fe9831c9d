//! `POST /revoke` (RFC 7009). A client revokes its own tokens. An access token is refused by
//! `jti` until it would have expired; a refresh token revokes its whole grant, with every access
//! token issued under it (RFC 7009 §2.1). Unknown, invalid or foreign tokens get the same 200 as
//! a revoked one (§2.2), so the endpoint cannot be used to probe tokens.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::client_auth::{self, Presented, VerifiedClient};
use super::error::no_store;
use super::introspect::looks_like_jwt;
use super::{AppState, OAuthError, OAuthForm, Shared};
use crate::domain::AccessTokenClaims;
use crate::web::cookies::hash;

pub async fn handle(
    State(state): State<AppState>,
    presented: Presented,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    let token = form.require("token", "token is required")?;
    let client = client_auth::authenticate(&state, &presented, &form).await?;
    if looks_like_jwt(token) {
        revoke_access_token(&state, &client, token).await?;
    } else {
        revoke_refresh_token(&state, &client, token).await?;
    }
    let mut response = StatusCode::OK.into_response();
    no_store(&mut response);
    Ok(response)
}

async fn revoke_access_token(state: &Shared, client: &VerifiedClient, token: &str) -> Result<(), OAuthError> {
    match state.keys().verify::<AccessTokenClaims>(token, state.issuer()) {
        Ok(claims) if claims.client_id == client.id() => {
            state
                .store
                .revoke_token(&claims.jti, &claims.client_id, claims.exp)
                .await
                .map_err(OAuthError::internal)?;
            tracing::info!(client_id = client.id(), jti = %claims.jti, "access token revoked");
        }
        Ok(_) => tracing::warn!(client_id = client.id(), "refused to revoke another client's token"),
        Err(reason) => tracing::debug!(client_id = client.id(), %reason, "revocation of an invalid token"),
    }
    Ok(())
}

async fn revoke_refresh_token(state: &Shared, client: &VerifiedClient, token: &str) -> Result<(), OAuthError> {
    let entry = state
        .refresh_tokens
        .get(&hash(token))
        .await
        .map_err(OAuthError::internal)?;
    match entry {
        Some(entry) if entry.grant.client_id == client.id() => {
            state
                .store
                .revoke_grant(&entry.grant.id, crate::now())
                .await
                .map_err(OAuthError::internal)?;
            state.refresh_tokens.clear();
            tracing::info!(client_id = client.id(), grant_id = %entry.grant.id, "refresh token revoked with its grant");
        }
        Some(_) => tracing::warn!(
            client_id = client.id(),
            "refused to revoke another client's refresh token"
        ),
        None => tracing::debug!(client_id = client.id(), "revocation of an unknown token"),
    }
    Ok(())
}
