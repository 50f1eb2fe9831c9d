//! The refresh token grant (RFC 6749 §6): new access tokens under the same grant, for the client
//! it was issued to, while the grant is live and its customer active. No rotation (FAPI 2.0 SP
//! §5.3.2.1): the response carries no new refresh token.

use super::client_auth::VerifiedClient;
use super::issue::TokenResponse;
use super::refresh_tokens::RefreshEntry;
use super::token::TokenRequest;
use super::{authorization_details, params, OAuthError, OAuthForm, Shared};
use crate::domain::{CustomerStatus, Jkt};
use crate::web::cookies::hash;

pub async fn exchange(state: &Shared, request: &TokenRequest<'_>) -> Result<TokenResponse, OAuthError> {
    let (client, form) = (request.client, request.form);
    let token = form.require("refresh_token", "refresh_token is required")?;
    let entry = state
        .refresh_tokens
        .get(&hash(token))
        .await
        .map_err(OAuthError::internal)?
        .ok_or(OAuthError::InvalidGrant("unknown refresh token"))?;
    check_same_client(&entry, client)?;
    check_grant_live(&entry, crate::now())?;
    check_customer_active(&entry)?;
    check_dpop_key(&entry, request.dpop_key.as_ref())?;
    let grant = &entry.grant;
    let authorization = grant.authorization(
        params::granted_scope(&grant.scopes, form.get("scope"))?,
        check_resources_within_grant(form, &grant.audience)?,
        authorization_details::narrowed(&grant.details, form)?,
    );
    let cnf = request.confirmation()?;
    TokenResponse::new(state, client, &authorization, cnf.as_ref())
}

/// RFC 6749 §6: the refresh token was issued to the authenticated client.
fn check_same_client(entry: &RefreshEntry, client: &VerifiedClient) -> Result<(), OAuthError> {
    if entry.grant.client_id == client.id() {
        Ok(())
    } else {
        Err(OAuthError::InvalidGrant("refresh token of another client"))
    }
}

fn check_grant_live(entry: &RefreshEntry, now: i64) -> Result<(), OAuthError> {
    if entry.grant.is_live(now) {
        Ok(())
    } else {
        Err(OAuthError::InvalidGrant("the grant was revoked or has expired"))
    }
}

fn check_customer_active(entry: &RefreshEntry) -> Result<(), OAuthError> {
    match entry.customer_status {
        CustomerStatus::Active => Ok(()),
        CustomerStatus::Disabled | CustomerStatus::Deleted => Err(OAuthError::InvalidGrant("the customer is disabled")),
    }
}

/// RFC 9449 §5.0: the refresh token of a DPoP-bound grant is used with a proof of the same key.
fn check_dpop_key(entry: &RefreshEntry, presented: Option<&Jkt>) -> Result<(), OAuthError> {
    match (&entry.grant.dpop_jkt, presented) {
        (None, _) => Ok(()),
        (Some(bound), Some(presented)) if bound == presented => Ok(()),
        _ => Err(OAuthError::InvalidGrant(
            "the refresh token is bound to another DPoP key",
        )),
    }
}

/// RFC 8707 §2.2: a refresh may narrow the audience to resources the grant already has.
fn check_resources_within_grant(form: &OAuthForm, granted: &[String]) -> Result<Vec<String>, OAuthError> {
    let requested = params::requested_audience(form)?;
    if requested.is_empty() {
        return Ok(granted.to_vec());
    }
    if requested.iter().all(|r| granted.contains(r)) {
        Ok(requested)
    } else {
        Err(OAuthError::InvalidTarget("a resource outside the grant"))
    }
}
