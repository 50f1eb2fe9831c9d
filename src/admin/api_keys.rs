//! A client's API keys: listed by their public prefix (never the key), issued (shown once, on
//! the page that answers the form, and stored only as a hash), rotated with an overlap during
//! which the older keys keep working, revoked, and bound to certificates.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::changes::{record, Change};
use super::form::AdminForm;
use super::session::AdminSession;
use super::view::{segment, when, Nav};
use super::AdminError;
use crate::domain::{Client, ClientStatus};
use crate::oauth::{AppState, OAuthForm, Shared};
use crate::pki::Thumbprint;
use crate::rs::api_keys::{issue, PREFIX};
use crate::store::api_keys::ApiKeyRow;
use crate::tls::ClientAddr;
use crate::web::{render, render_with_script, see_other};

/// Longest overlap a rotation may give the older keys (30 days, in seconds).
const MAX_OVERLAP: i64 = 30 * 24 * 60 * 60;

pub struct KeyRow {
    pub id: String,
    pub prefix: String,
    pub state: &'static str,
    pub bound: Vec<String>,
    pub created: String,
    pub expires: String,
    pub last_used: String,
}

impl KeyRow {
    fn of(row: &ApiKeyRow, now: i64) -> Self {
        Self {
            id: row.id.clone(),
            prefix: format!("{PREFIX}{}_…", row.id),
            state: row.state(now),
            bound: row.cert_thumbprints.clone(),
            created: when(row.created_at),
            expires: row.expires_at.map(when).unwrap_or_default(),
            last_used: row.last_used_at.map_or_else(|| "never".into(), when),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/api_keys.html")]
struct KeysPage<'a> {
    nav: Nav,
    path: String,
    client: &'a Client,
    keys: Vec<KeyRow>,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "admin/api_key_issued.html")]
struct IssuedPage<'a> {
    nav: Nav,
    path: String,
    client: &'a Client,
    key: &'a str,
    prefix: String,
}

async fn client(state: &Shared, id: &str) -> Result<Client, AdminError> {
    state
        .store
        .get_client(id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("client {id}")))
}

async fn keys_page(
    state: &Shared,
    session: &AdminSession,
    client: &Client,
    error: Option<&str>,
) -> Result<Response, AdminError> {
    let now = crate::now();
    let keys = state.store.list_api_keys(Some(&client.client_id)).await?;
    let page = KeysPage {
        nav: Nav::new(state, session, "clients"),
        path: format!("/admin/clients/{}", segment(&client.client_id)),
        client,
        keys: keys.iter().rev().map(|k| KeyRow::of(k, now)).collect(),
        error,
    };
    let status = match error {
        Some(_) => StatusCode::UNPROCESSABLE_ENTITY,
        None => StatusCode::OK,
    };
    Ok(render(&page, status, None))
}

/// `GET /admin/clients/{id}/api-keys`.
pub async fn list(
    State(state): State<AppState>,
    session: AdminSession,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let client = client(&state, &id).await?;
    keys_page(&state, &session, &client, None).await
}

/// Thumbprints to bind the key to, one per line (or space-separated).
fn bound_certificates(form: &OAuthForm) -> Result<Vec<Thumbprint>, String> {
    form.get("bind")
        .unwrap_or_default()
        .split_whitespace()
        .map(|t| Thumbprint::from_base64url(t).ok_or_else(|| format!("{t:?} is not an x5t#S256 thumbprint")))
        .collect()
}

/// `POST /admin/clients/{id}/api-keys`: issues a key (`overlap` seconds given: a rotation,
/// the client's other live keys expire after it). The answer is the one page that shows it.
pub async fn create(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    session: AdminSession,
    Path(id): Path<String>,
    AdminForm(form): AdminForm,
) -> Result<Response, AdminError> {
    session.check_change(&form)?;
    let client = client(&state, &id).await?;
    if client.status == ClientStatus::Deleted {
        return Err(AdminError::NotFound(format!("client {id}")));
    }
    let thumbprints = match bound_certificates(&form) {
        Ok(t) => t,
        Err(message) => return keys_page(&state, &session, &client, Some(&message)).await,
    };
    let overlap = match form.get("overlap").map(str::parse::<i64>) {
        None => None,
        Some(Ok(seconds)) if (0..=MAX_OVERLAP).contains(&seconds) => Some(seconds),
        Some(_) => {
            let message = "The overlap is a number of seconds, at most 30 days.";
            return keys_page(&state, &session, &client, Some(message)).await;
        }
    };
    let issued = issue(&id, &thumbprints);
    state
        .store
        .insert_api_key(&issued.row, overlap.map(|o| crate::now() + o))
        .await?;
    let action = match overlap {
        Some(_) => "admin.api_key.rotate",
        None => "admin.api_key.issue",
    };
    let after = json!({ "id": issued.row.id, "cert_thumbprints": issued.row.cert_thumbprints, "overlap": overlap });
    record(
        &state,
        Change::client(session.username(), action, &id, None, Some(after)).from(peer),
    );
    let page = IssuedPage {
        nav: Nav::new(&state, &session, "clients"),
        path: format!("/admin/clients/{}", segment(&id)),
        client: &client,
        key: &issued.key,
        prefix: format!("{PREFIX}{}_…", issued.row.id),
    };
    Ok(render_with_script(&page, StatusCode::CREATED))
}

/// `POST /admin/clients/{id}/api-keys/{key}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    session: AdminSession,
    Path((id, key)): Path<(String, String)>,
    AdminForm(form): AdminForm,
) -> Result<Response, AdminError> {
    session.check_change(&form)?;
    match state.store.get_api_key(&key).await? {
        Some(row) if row.client_id == id => {}
        _ => return Err(AdminError::NotFound(format!("API key {key} of {id}"))),
    }
    state.store.revoke_api_key(&key).await?;
    let before = json!({ "id": key });
    record(
        &state,
        Change::client(session.username(), "admin.api_key.revoke", &id, Some(before), None).from(peer),
    );
    Ok(see_other(&format!("/admin/clients/{}/api-keys", segment(&id))))
}
