//! Token signing keys: listed with algorithm, kid, state and age; rotated (the old public key
//! stays published until its tokens expire); a retired key purged at once when it leaked,
//! after the password again.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde_json::json;

use super::changes::{record, Change};
use super::form::AdminForm;
use super::session::AdminSession;
use super::view::{segment, when, Nav};
use super::{AdminError, Console};
use crate::oauth::signing_keys::{self, KeysError};
use crate::oauth::{AppState, Shared};
use crate::tls::ClientAddr;
use crate::web::{render, see_other};

pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    /// `active`, `retired` (still published for its tokens) or `expired`.
    pub state: &'static str,
    pub created: String,
    pub age_days: i64,
    pub retired: String,
}

#[derive(Template)]
#[template(path = "admin/signing_keys.html")]
struct KeysPage<'a> {
    nav: Nav,
    keys: Vec<KeyRow>,
    default_alg: &'static str,
    error: Option<&'a str>,
}

async fn keys_page(
    state: &Shared,
    session: &AdminSession,
    console: &Console,
    error: Option<&str>,
) -> Result<Response, AdminError> {
    let now = crate::now();
    let rows = state.store.list_signing_keys().await?;
    let keys = rows
        .iter()
        .rev()
        .map(|r| KeyRow {
            kid: r.kid.clone(),
            alg: r.alg.clone(),
            state: match r.retired_at {
                None => "active",
                Some(at) if at + console.access_token_ttl > now => "retired",
                Some(_) => "expired",
            },
            created: when(r.created_at),
            age_days: (now - r.created_at) / 86_400,
            retired: r.retired_at.map(when).unwrap_or_default(),
        })
        .collect();
    let page = KeysPage {
        nav: Nav::new(state, session, "keys"),
        keys,
        default_alg: console.signing_alg.as_str(),
        error,
    };
    let status = match error {
        Some(_) => StatusCode::CONFLICT,
        None => StatusCode::OK,
    };
    Ok(render(&page, status, None))
}

/// `GET /admin/signing-keys`.
pub async fn list(
    State(state): State<AppState>,
    Extension(console): Extension<Arc<Console>>,
    session: AdminSession,
) -> Result<Response, AdminError> {
    keys_page(&state, &session, &console, None).await
}

/// `POST /admin/signing-keys`: a new key in the configured algorithm; running nodes sign with it
/// within the reload interval.
pub async fn rotate(
    State(state): State<AppState>,
    Extension(console): Extension<Arc<Console>>,
    ClientAddr(peer): ClientAddr,
    session: AdminSession,
    AdminForm(form): AdminForm,
) -> Result<Response, AdminError> {
    session.check_change(&form)?;
    let kid = signing_keys::rotate(&state.store, &console.kek, console.signing_alg)
        .await
        .map_err(AdminError::internal)?;
    let after = json!({ "kid": kid, "alg": console.signing_alg.as_str() });
    record(
        &state,
        Change::keys(session.username(), "admin.signing_key.rotate", None, Some(after)).from(peer),
    );
    Ok(see_other("/admin/signing-keys"))
}

#[derive(Template)]
#[template(path = "admin/purge_key.html")]
struct PurgePage {
    nav: Nav,
    kid: String,
    path: String,
}

/// `GET /admin/signing-keys/{kid}/purge`: the confirmation, after the password again.
pub async fn confirm_purge(
    State(state): State<AppState>,
    session: AdminSession,
    Path(kid): Path<String>,
) -> Result<Response, AdminError> {
    session.check_may_change()?;
    let path = format!("/admin/signing-keys/{}/purge", segment(&kid));
    session.check_recent_authentication(&path, crate::now())?;
    let page = PurgePage {
        nav: Nav::new(&state, &session, "keys"),
        kid,
        path,
    };
    Ok(render(&page, StatusCode::OK, None))
}

/// `POST /admin/signing-keys/{kid}/purge`.
pub async fn purge(
    State(state): State<AppState>,
    Extension(console): Extension<Arc<Console>>,
    ClientAddr(peer): ClientAddr,
    session: AdminSession,
    Path(kid): Path<String>,
    AdminForm(form): AdminForm,
) -> Result<Response, AdminError> {
    session.check_change(&form)?;
    let path = format!("/admin/signing-keys/{}/purge", segment(&kid));
    session.check_recent_authentication(&path, crate::now())?;
    match signing_keys::purge_key(&state.store, &kid).await {
        Ok(()) => {}
        Err(KeysError::ActiveKey(_)) => {
            let message = "The active key cannot be purged: rotate first, then purge it.";
            return keys_page(&state, &session, &console, Some(message)).await;
        }
        Err(KeysError::UnknownKey(_)) => return Err(AdminError::NotFound(format!("signing key {kid}"))),
        Err(e) => return Err(AdminError::internal(e)),
    }
    let before = json!({ "kid": kid });
    record(
        &state,
        Change::keys(session.username(), "admin.signing_key.purge", Some(before), None).from(peer),
    );
    Ok(see_other("/admin/signing-keys"))
}
