//! `POST /token` (RFC 6749 §3.2): authenticate the client, then hand over to the grant.

use axum::extract::State;
use axum::response::Response;

use super::client_auth::{self, VerifiedClient};
use super::{client_credentials, AppState, OAuthError, OAuthForm, SUPPORTED_GRANT_TYPES};
use crate::tls::PeerCertificate;

pub async fn handle(
    State(state): State<AppState>,
    peer: PeerCertificate,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    let grant_type = form.require("grant_type", "grant_type is required")?;
    let client = client_auth::authenticate(&state, &peer, &form).await?;
    check_grant_supported(grant_type)?;
    check_client_may_use_grant(&client, grant_type)?;
    match grant_type {
        "client_credentials" => client_credentials::grant(&state, &client, &form),
        _ => Err(OAuthError::UnsupportedGrantType),
    }
}

fn check_grant_supported(grant_type: &str) -> Result<(), OAuthError> {
    if SUPPORTED_GRANT_TYPES.contains(&grant_type) {
        Ok(())
    } else {
        Err(OAuthError::UnsupportedGrantType)
    }
}

/// RFC 6749 §5.2 `unauthorized_client`: the grant exists but this client is not registered for it.
fn check_client_may_use_grant(client: &VerifiedClient, grant_type: &str) -> Result<(), OAuthError> {
    if client.client().grant_types.iter().any(|g| g == grant_type) {
        Ok(())
    } else {
        Err(OAuthError::UnauthorizedClient(
            "the client is not registered for this grant type",
        ))
    }
}
