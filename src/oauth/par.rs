//! `POST /par` (RFC 9126, FAPI 2.0 SP §5.3.2.2): a client pushes its authorization request over
//! its authenticated channel, everything is validated here, and it gets back a one-time
//! `request_uri` that is all the browser will carry. The request comes as form parameters or as
//! a signed request object (RFC 9101), and may bind the code to a DPoP key (RFC 9449 §10).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::authorization_request::{AuthorizationRequest, REQUEST_URI_PREFIX};
use super::client_auth::{self, Presented, VerifiedClient};
use super::dpop::{self, DpopHeader};
use super::error::no_store;
use super::{authorization_details, params, request_object, AppState, OAuthError, OAuthForm};
use crate::domain::{GrantType, Jkt};
use crate::web::cookies::{hash, random_token};

/// Seconds a `request_uri` lives (FAPI 2.0 SP: under 600; the customer's browser follows it at
/// once).
pub const REQUEST_URI_TTL: i64 = 60;
/// Longest `state` or `nonce` accepted.
const MAX_OPAQUE_LEN: usize = 512;

pub async fn handle(
    State(state): State<AppState>,
    presented: Presented,
    proof: DpopHeader,
    outer: OAuthForm,
) -> Result<Response, OAuthError> {
    let now = crate::now();
    let checked_proof = dpop::check(&state, &proof, "/par", now)?;
    let client = client_auth::authenticate(&state, &presented, &outer).await?;
    let proof_key = dpop::first_use(&state, checked_proof).await?;
    check_no_request_uri(&outer)?;
    let signed = request_object::read(&state, &client, &outer).await?;
    let form = signed.as_ref().unwrap_or(&outer);
    check_client_may_use_code_flow(&client)?;
    let dpop_jkt = check_dpop_jkt(form, proof_key)?;
    check_response_type(form)?;
    check_response_mode(form)?;
    let request = AuthorizationRequest {
        client_id: client.id().to_string(),
        redirect_uri: check_redirect_uri(&client, form)?,
        scope: params::granted_scope(&client.client().scopes, form.get("scope"))?,
        audience: params::requested_audience(form)?,
        state: check_opaque(form, "state")?,
        nonce: check_opaque(form, "nonce")?,
        code_challenge: check_pkce_challenge(form)?,
        dpop_jkt: dpop_jkt.map(|k| k.to_base64url()),
        authorization_details: authorization_details::requested(&state, &client, form, now).await?,
    };
    let id = random_token();
    let serialized = serde_json::to_string(&request).map_err(OAuthError::internal)?;
    state
        .store
        .insert_pushed_request(&hash(&id), client.id(), &serialized, now + REQUEST_URI_TTL)
        .await
        .map_err(OAuthError::internal)?;
    let body = json!({ "request_uri": format!("{REQUEST_URI_PREFIX}{id}"), "expires_in": REQUEST_URI_TTL });
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    no_store(&mut response);
    if proof.0.is_some() {
        state.dpop_nonces.attach(&mut response, now);
    }
    Ok(response)
}

/// RFC 9126 §2.1: a pushed request must not itself point to a request_uri.
fn check_no_request_uri(form: &OAuthForm) -> Result<(), OAuthError> {
    match form.get("request_uri") {
        Some(_) => Err(OAuthError::InvalidRequest(
            "request_uri is not allowed in a pushed request",
        )),
        None => Ok(()),
    }
}

/// RFC 9449 §10: the code is bound to a DPoP key named by `dpop_jkt`, by the PAR request's own
/// proof, or by both when they agree.
fn check_dpop_jkt(form: &OAuthForm, proof_key: Option<Jkt>) -> Result<Option<Jkt>, OAuthError> {
    let named = match form.get("dpop_jkt") {
        None => None,
        Some(text) => Some(Jkt::from_base64url(text).ok_or(OAuthError::InvalidRequest(
            "dpop_jkt must be a base64url SHA-256 JWK thumbprint",
        ))?),
    };
    match (named, proof_key) {
        (Some(named), Some(proven)) if named != proven => Err(OAuthError::InvalidDpopProof(
            "dpop_jkt is not the thumbprint of the DPoP proof's key",
        )),
        (named, proven) => Ok(named.or(proven)),
    }
}

fn check_client_may_use_code_flow(client: &VerifiedClient) -> Result<(), OAuthError> {
    if client.client().may_use(GrantType::AuthorizationCode) {
        Ok(())
    } else {
        Err(OAuthError::UnauthorizedClient(
            "the client is not registered for the authorization code grant",
        ))
    }
}

/// FAPI 2.0: the code flow only.
fn check_response_type(form: &OAuthForm) -> Result<(), OAuthError> {
    match form.get("response_type") {
        Some("code") => Ok(()),
        Some(_) => Err(OAuthError::UnsupportedResponseType),
        None => Err(OAuthError::InvalidRequest("response_type is required")),
    }
}

/// The response comes back in the query; a fragment or a form post is refused.
fn check_response_mode(form: &OAuthForm) -> Result<(), OAuthError> {
    match form.get("response_mode") {
        None | Some("query") => Ok(()),
        Some(_) => Err(OAuthError::InvalidRequest("only response_mode=query is supported")),
    }
}

/// Required, and exactly one of the client's registered redirect URIs (no pattern, no prefix).
fn check_redirect_uri(client: &VerifiedClient, form: &OAuthForm) -> Result<String, OAuthError> {
    let uri = form.require("redirect_uri", "redirect_uri is required")?;
    if client.client().redirect_uris.iter().any(|r| r == uri) {
        Ok(uri.to_string())
    } else {
        Err(OAuthError::InvalidRequest(
            "redirect_uri is not registered for this client",
        ))
    }
}

/// RFC 7636 with FAPI 2.0's S256 only: the method must be given (its default, `plain`, is
/// refused) and the challenge is a base64url SHA-256, 43 characters.
fn check_pkce_challenge(form: &OAuthForm) -> Result<String, OAuthError> {
    let challenge = form.require("code_challenge", "code_challenge is required (PKCE)")?;
    match form.get("code_challenge_method") {
        Some("S256") => {}
        Some(_) => return Err(OAuthError::InvalidRequest("code_challenge_method must be S256")),
        None => return Err(OAuthError::InvalidRequest("code_challenge_method S256 is required")),
    }
    let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if challenge.len() != 43 || !challenge.bytes().all(base64url) {
        return Err(OAuthError::InvalidRequest(
            "code_challenge must be 43 characters of base64url",
        ));
    }
    Ok(challenge.to_string())
}

/// `state` and `nonce`: opaque to us, carried through; printable ASCII (RFC 6749 Appendix A.5)
/// and bounded.
fn check_opaque(form: &OAuthForm, name: &'static str) -> Result<Option<String>, OAuthError> {
    let Some(value) = form.get(name) else { return Ok(None) };
    if value.len() > MAX_OPAQUE_LEN || !value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(OAuthError::InvalidRequest(
            "state and nonce must be printable ASCII, at most 512 characters",
        ));
    }
    Ok(Some(value.to_string()))
}
