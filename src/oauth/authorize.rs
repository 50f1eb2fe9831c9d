//! `GET|POST /authorize` (RFC 6749 §4.1.1 through RFC 9126 §4): the customer's browser arrives
//! with nothing but `client_id` and the `request_uri` the client pushed. Anything wrong here is
//! a page for the customer, never a redirect: no redirect URI is trusted until the pushed
//! request is found.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};

use super::authorization_request::REQUEST_URI_PREFIX;
use super::form::OAuthForm;
use super::{AppState, Shared};
use crate::domain::ClientStatus;
use crate::store::interactions::InteractionRow;
use crate::web::{cookies, see_other, PageError};

/// Seconds a customer has, from arriving here, to sign in and decide.
pub const INTERACTION_TTL: i64 = 600;

pub async fn get(State(state): State<AppState>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    respond(&state, query.unwrap_or_default().as_bytes(), &headers).await
}

/// The same with the parameters in a form body (RFC 6749 §3.1 allows POST).
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    respond(&state, &body, &headers).await
}

async fn respond(state: &Shared, params: &[u8], headers: &HeaderMap) -> Response {
    match start_interaction(state, params, headers).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn start_interaction(state: &Shared, params: &[u8], headers: &HeaderMap) -> Result<Response, PageError> {
    let params = OAuthForm::parse(params, &[]).map_err(|_| PageError::BadRequest("malformed parameters"))?;
    check_only_par_parameters(&params)?;
    let client_id = params
        .get("client_id")
        .ok_or(PageError::InvalidLink("client_id is missing"))?;
    let request_id = check_request_uri(&params)?;
    let request = state
        .store
        .take_pushed_request(&cookies::hash(request_id), client_id, crate::now())
        .await
        .map_err(PageError::internal)?
        .ok_or(PageError::InvalidLink(
            "request_uri unknown, expired, used, or of another client",
        ))?;
    check_client_active(state, client_id).await?;

    let (session, new_session) = match cookies::get(headers, cookies::SESSION) {
        Some(existing) => (existing.to_string(), false),
        None => (cookies::random_token(), true),
    };
    let interaction = InteractionRow {
        id: cookies::random_token(),
        session_hash: cookies::hash(&session),
        csrf_token: cookies::random_token(),
        client_id: client_id.to_string(),
        request,
        customer_id: None,
        auth_time: None,
        expires_at: crate::now() + INTERACTION_TTL,
        completed_at: None,
    };
    state
        .store
        .insert_interaction(&interaction)
        .await
        .map_err(PageError::internal)?;
    let mut response = see_other(&format!("/interaction/{}", interaction.id));
    if new_session {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, cookies::session_cookie(&session));
    }
    Ok(response)
}

/// FAPI 2.0 SP §5.3.2.2: every parameter comes through PAR; the front channel carries only
/// `client_id` and `request_uri`.
fn check_only_par_parameters(params: &OAuthForm) -> Result<(), PageError> {
    if params.names().all(|n| n == "client_id" || n == "request_uri") {
        Ok(())
    } else {
        Err(PageError::InvalidLink("parameters outside the pushed request"))
    }
}

/// The random part of a `urn:ietf:params:oauth:request_uri:` URI.
fn check_request_uri(params: &OAuthForm) -> Result<&str, PageError> {
    params
        .get("request_uri")
        .ok_or(PageError::InvalidLink("request_uri is missing"))?
        .strip_prefix(REQUEST_URI_PREFIX)
        .filter(|id| id.len() == 43)
        .ok_or(PageError::InvalidLink("request_uri is not one this server issued"))
}

/// A client disabled since it pushed the request gets no further.
async fn check_client_active(state: &Shared, client_id: &str) -> Result<(), PageError> {
    let client = state.clients.get(client_id).await.map_err(PageError::internal)?;
    match client {
        Some(c) if c.client.status == ClientStatus::Active => Ok(()),
        _ => Err(PageError::InvalidLink("the client is unknown or disabled")),
    }
}
