//! `POST /revoke` (RFC 7009). A client revokes its own access tokens; the `jti` is refused
//! (introspection says inactive) until the token would have expired. Unknown, invalid or
//! foreign tokens get the same 200 as a revoked one (RFC 7009 §2.2), so the endpoint cannot be
//! used to probe tokens.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::client_auth;
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
        Err(reason) => {
            tracing::debug!(client_id = client.id(), %reason, "revocation of an invalid token")
        }
    }
    let mut response = StatusCode::OK.into_response();
    no_store(&mut response);
    Ok(response)
}
