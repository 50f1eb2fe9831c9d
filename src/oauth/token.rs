//! `POST /token` (RFC 6749 §3.2): authenticate the client, then hand over to the grant.

use axum::extract::State;
use axum::response::Response;

use super::client_auth::{self, VerifiedClient};
use super::{client_credentials, AppState, OAuthError, OAuthForm};
use crate::domain::GrantType;
use crate::tls::PeerCertificate;

pub async fn handle(
    State(state): State<AppState>,
    peer: PeerCertificate,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    let grant_type = form.require("grant_type", "grant_type is required")?;
    let client = client_auth::authenticate(&state, &peer, &form).await?;
    let grant_type = check_grant_supported(grant_type)?;
    check_client_may_use_grant(&client, grant_type)?;
    match grant_type {
        GrantType::ClientCredentials => client_credentials::grant(&state, &client, &form),
    }
}

fn check_grant_supported(grant_type: &str) -> Result<GrantType, OAuthError> {
    grant_type.parse().map_err(|_| OAuthError::UnsupportedGrantType)
}

/// RFC 6749 §5.2 `unauthorized_client`: the grant exists but this client is not registered for it.
fn check_client_may_use_grant(client: &VerifiedClient, grant_type: GrantType) -> Result<(), OAuthError> {
    if client.client().may_use(grant_type) {
        Ok(())
    } else {
        Err(OAuthError::UnauthorizedClient(
            "the client is not registered for this grant type",
        ))
    }
}
