//! `POST /token` (RFC 6749 §3.2): authenticate the client, then hand over to the grant type's
//! own file.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::client_auth::{self, Presented, VerifiedClient};
use super::{authorization_code, client_credentials, refresh_token, AppState, OAuthError, OAuthForm};
use crate::domain::GrantType;

pub async fn handle(
    State(state): State<AppState>,
    presented: Presented,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    let grant_type = form.require("grant_type", "grant_type is required")?;
    let client = client_auth::authenticate(&state, &presented, &form).await?;
    let grant_type = check_grant_supported(grant_type)?;
    check_client_may_use_grant(&client, grant_type)?;
    let response = match grant_type {
        GrantType::ClientCredentials => client_credentials::exchange(&state, &client, &presented.certificate, &form)?,
        GrantType::AuthorizationCode => {
            authorization_code::exchange(&state, &client, &presented.certificate, &form).await?
        }
        GrantType::RefreshToken => refresh_token::exchange(&state, &client, &presented.certificate, &form).await?,
    };
    Ok(response.into_response())
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
