//! The client credentials grant (RFC 6749 §4.4), with RFC 8707 resource indicators.

use super::client_auth::VerifiedClient;
use super::issue::TokenResponse;
use super::{params, sender_constraint};
use super::{OAuthError, OAuthForm, Shared};
use crate::domain::{Authorization, Subject};
use crate::tls::PeerCertificate;

pub fn exchange(
    state: &Shared,
    client: &VerifiedClient,
    peer: &PeerCertificate,
    form: &OAuthForm,
) -> Result<TokenResponse, OAuthError> {
    let authorization = Authorization {
        subject: Subject::Client,
        scope: params::granted_scope(&client.client().scopes, form.get("scope"))?,
        audience: params::requested_audience(form)?,
        accounts: Vec::new(),
    };
    let cnf = sender_constraint::confirmation(client, peer)?;
    TokenResponse::bearer(state, client, &authorization, cnf.as_ref())
}
