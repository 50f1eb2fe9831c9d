//! The customer's side of the authorization endpoint: sign in ([`login`]), then approve or deny
//! ([`consent`]), at `/interaction/{id}`. An interaction belongs to the browser session that
//! started it at `/authorize` and every form carries its CSRF token; both are checked before
//! anything else.

mod asked;
pub mod consent;
pub mod login;
pub mod permissions;
mod throttle;

/// How far back failed sign-ins count; older ones may be purged.
pub use throttle::WINDOW as SIGN_IN_WINDOW;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::authorization_request::AuthorizationRequest;
use super::clients::CachedClient;
use super::form::OAuthForm;
use super::{AppState, Shared};
use crate::domain::ClientStatus;
use crate::store::interactions::InteractionRow;
use crate::web::{cookies, PageError};

/// An open interaction of this browser, with the request it serves and its client.
pub(crate) struct Interaction {
    row: InteractionRow,
    request: AuthorizationRequest,
    client: Arc<CachedClient>,
}

impl Interaction {
    fn path(&self) -> String {
        format!("/interaction/{}", self.row.id)
    }

    fn client_name(&self) -> &str {
        &self.client.client.name
    }
}

/// `GET /interaction/{id}`: the sign-in page, or once signed in, the consent page.
pub async fn show(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let interaction = match load(&state, &id, &headers).await {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    match &interaction.row.customer_id {
        None => login::page(&state, &interaction, "", None),
        Some(customer_id) => match state.store.customer(customer_id).await {
            Ok(Some(customer)) if customer.is_active() => consent::page(&state, &interaction, &customer, None).await,
            Ok(_) => PageError::InvalidLink("the customer is unknown or disabled").into_response(),
            Err(e) => PageError::internal(e).into_response(),
        },
    }
}

/// Loads an interaction through its checks.
async fn load(state: &Shared, id: &str, headers: &HeaderMap) -> Result<Interaction, PageError> {
    check_id_format(id)?;
    let row = state
        .store
        .interaction(id)
        .await
        .map_err(PageError::internal)?
        .ok_or(PageError::InvalidLink("unknown interaction"))?;
    check_open(&row, crate::now())?;
    check_same_session(&row, headers)?;
    let request: AuthorizationRequest = serde_json::from_str(&row.request).map_err(PageError::internal)?;
    let client = check_client_active(state, &row.client_id).await?;
    Ok(Interaction { row, request, client })
}

/// Ids are 43 base64url characters; anything else is not worth a database read.
fn check_id_format(id: &str) -> Result<(), PageError> {
    let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if id.len() == 43 && id.bytes().all(base64url) {
        Ok(())
    } else {
        Err(PageError::InvalidLink("malformed interaction id"))
    }
}

/// Not expired, not already finished with a redirect.
fn check_open(row: &InteractionRow, now: i64) -> Result<(), PageError> {
    if row.completed_at.is_some() {
        return Err(PageError::InvalidLink("interaction already finished"));
    }
    if now > row.expires_at {
        return Err(PageError::InvalidLink("interaction expired"));
    }
    Ok(())
}

/// The browser presents the session cookie the interaction was started (or signed in) with.
fn check_same_session(row: &InteractionRow, headers: &HeaderMap) -> Result<(), PageError> {
    let presented = cookies::get(headers, cookies::SESSION).map(cookies::hash);
    match presented {
        Some(hash) if bool::from(hash.as_bytes().ct_eq(row.session_hash.as_bytes())) => Ok(()),
        _ => Err(PageError::WrongSession),
    }
}

async fn check_client_active(state: &Shared, client_id: &str) -> Result<Arc<CachedClient>, PageError> {
    match state.clients.get(client_id).await.map_err(PageError::internal)? {
        Some(c) if c.client.status == ClientStatus::Active => Ok(c),
        _ => Err(PageError::InvalidLink("the client is unknown or disabled")),
    }
}

/// Every form posts back the interaction's CSRF token; compared in constant time.
fn check_csrf(interaction: &Interaction, form: &OAuthForm) -> Result<(), PageError> {
    let expected = interaction.row.csrf_token.as_bytes();
    match form.get("csrf") {
        Some(token) if bool::from(token.as_bytes().ct_eq(expected)) => Ok(()),
        _ => Err(PageError::Csrf),
    }
}
