//! `POST /token` (RFC 6749 §3.2): authenticate the client, then hand over to the grant type's
//! own file.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::client_auth::{self, Presented, VerifiedClient};
use super::dpop::{self, DpopHeader};
use super::{
    authorization_code, client_credentials, refresh_token, sender_constraint, AppState, OAuthError, OAuthForm,
};
use crate::domain::{Confirmation, GrantType, Jkt};
use crate::tls::PeerCertificate;

pub async fn handle(
    State(state): State<AppState>,
    presented: Presented,
    dpop: DpopHeader,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    let grant_type = form.require("grant_type", "grant_type is required")?;
    if let Some(audit) = &presented.audit {
        audit.grant_type(grant_type);
    }
    let now = crate::now();
    let proof = dpop::check(&state, &dpop, "/token", now)?;
    let client = client_auth::authenticate(&state, &presented, &form).await?;
    let grant_type = check_grant_supported(grant_type)?;
    check_client_may_use_grant(&client, grant_type)?;
    let request = TokenRequest {
        client: &client,
        certificate: &presented.certificate,
        dpop_key: dpop::first_use(&state, proof).await?,
        form: &form,
    };
    let response = match grant_type {
        GrantType::ClientCredentials => client_credentials::exchange(&state, &request)?,
        GrantType::AuthorizationCode => authorization_code::exchange(&state, &request).await?,
        GrantType::RefreshToken => refresh_token::exchange(&state, &request).await?,
    };
    let mut response = response.into_response();
    if dpop.0.is_some() {
        state.dpop_nonces.attach(&mut response, now);
    }
    Ok(response)
}

/// What a grant works from: the authenticated client, the certificate on the connection, the
/// key of a verified DPoP proof, and the form.
pub struct TokenRequest<'a> {
    pub client: &'a VerifiedClient,
    pub certificate: &'a PeerCertificate,
    pub dpop_key: Option<Jkt>,
    pub form: &'a OAuthForm,
}

impl TokenRequest<'_> {
    /// What the access token will be bound to.
    pub fn confirmation(&self) -> Result<Option<Confirmation>, OAuthError> {
        sender_constraint::confirmation(self.client, self.certificate, self.dpop_key)
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
