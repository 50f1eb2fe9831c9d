//! The client credentials grant (RFC 6749 §4.4), with RFC 8707 resource indicators.

use super::issue::TokenResponse;
use super::params;
use super::token::TokenRequest;
use super::{OAuthError, Shared};
use crate::domain::{Authorization, Subject};

pub fn exchange(state: &Shared, request: &TokenRequest<'_>) -> Result<TokenResponse, OAuthError> {
    let authorization = Authorization {
        subject: Subject::Client,
        scope: params::granted_scope(&request.client.client().scopes, request.form.get("scope"))?,
        audience: params::requested_audience(request.form)?,
        accounts: Vec::new(),
        details: Vec::new(),
        not_after: None,
    };
    let cnf = request.confirmation()?;
    TokenResponse::new(state, request.client, &authorization, cnf.as_ref())
}
