//! Tokens and grants: every token of a client revoked at once, and customers' grants listed
//! (by client, by customer) and revoked one by one. A revoked grant's refresh token stops at
//! once and its access tokens join the revocation list resource servers poll.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::changes::{record, Change};
use super::form::AdminForm;
use super::session::AdminSession;
use super::view::{segment, when, Nav};
use super::AdminError;
use crate::domain::Grant;
use crate::oauth::AppState;
use crate::tls::ClientAddr;
use crate::web::{render, see_other};

/// `?client_id=&customer_id=`: each given narrows the list.
#[derive(Debug, Default, Deserialize)]
pub struct GrantQuery {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    customer_id: String,
}

pub struct GrantRow {
    pub id: String,
    pub client_id: String,
    pub client_path: String,
    pub customer_id: String,
    pub scopes: String,
    pub accounts: String,
    /// `active`, `revoked`, `expired` or `pending` (code not redeemed yet).
    pub state: &'static str,
    pub created: String,
    pub expires: String,
}

impl GrantRow {
    fn of(g: &Grant, now: i64) -> Self {
        Self {
            id: g.id.clone(),
            client_path: format!("/admin/clients/{}", segment(&g.client_id)),
            client_id: g.client_id.clone(),
            customer_id: g.customer_id.clone(),
            scopes: g.scopes.join(" "),
            accounts: g.accounts.join(", "),
            state: match (g.revoked_at, g.redeemed_at) {
                (Some(_), _) => "revoked",
                _ if g.expires_at <= now => "expired",
                (None, None) => "pending",
                (None, Some(_)) => "active",
            },
            created: when(g.created_at),
            expires: when(g.expires_at),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/grants.html")]
struct GrantsPage<'a> {
    nav: Nav,
    query: &'a GrantQuery,
    rows: Vec<GrantRow>,
    /// A client named in the filter that exists, for the "revoke every token" form.
    client: Option<(String, String)>,
    tokens_revoked_at: String,
}

/// `GET /admin/grants`.
pub async fn list(
    State(state): State<AppState>,
    session: AdminSession,
    Query(query): Query<GrantQuery>,
) -> Result<Response, AdminError> {
    let some = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(String::from);
    let (client_id, customer_id) = (some(&query.client_id), some(&query.customer_id));
    let grants = state
        .store
        .list_grants(customer_id.as_deref(), client_id.as_deref())
        .await?;
    let now = crate::now();
    let client = match &client_id {
        Some(id) => state.store.get_client(id).await?,
        None => None,
    };
    let tokens_revoked_at = match &client {
        Some(c) => state.store.client_tokens_revoked_at(&c.client_id).await?,
        None => None,
    };
    let page = GrantsPage {
        nav: Nav::new(&state, &session, "grants"),
        query: &query,
        rows: grants.iter().map(|g| GrantRow::of(g, now)).collect(),
        client: client.map(|c| (format!("/admin/clients/{}", segment(&c.client_id)), c.client_id)),
        tokens_revoked_at: tokens_revoked_at.map(when).unwrap_or_default(),
    };
    Ok(render(&page, StatusCode::OK, None))
}

fn back_to(client_id: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client_id)
        .finish();
    format!("/admin/grants?{query}")
}

/// `POST /admin/grants/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    session: AdminSession,
    Path(id): Path<String>,
    AdminForm(form): AdminForm,
) -> Result<Response, AdminError> {
    session.check_change(&form)?;
    let grant = state
        .store
        .grant(&id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("grant {id}")))?;
    state.store.revoke_grant(&id, crate::now()).await?;
    let before = json!({ "grant_id": id, "customer_id": grant.customer_id });
    let change = Change::client(
        session.username(),
        "admin.grant.revoke",
        &grant.client_id,
        Some(before),
        None,
    );
    record(&state, change.from(peer));
    Ok(see_other(&back_to(&grant.client_id)))
}

/// `POST /admin/clients/{id}/revoke-tokens`: every access token the client holds now is refused
/// from here on, and its grants (with their refresh tokens) are revoked.
pub async fn revoke_all(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    session: AdminSession,
    Path(id): Path<String>,
    AdminForm(form): AdminForm,
) -> Result<Response, AdminError> {
    session.check_change(&form)?;
    let now = crate::now();
    state.store.revoke_client_tokens(&id, now).await?;
    let after = json!({ "tokens_revoked_at": now });
    let change = Change::client(session.username(), "admin.client.revoke_tokens", &id, None, Some(after));
    record(&state, change.from(peer));
    Ok(see_other(&back_to(&id)))
}
