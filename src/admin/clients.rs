//! The clients: a list with search and filters, a page with everything a registration holds and
//! how the client last authenticated, and the status changes (disable, enable, delete).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use std::collections::HashSet;

use super::changes::{record, Change};
use super::expiring;
use super::form::AdminForm;
use super::session::AdminSession;
use super::view::{segment, when, Nav};
use super::AdminError;
use crate::domain::{AuditEvent, AuditOutcome, AuthMethod, Client, ClientStatus};
use crate::oauth::{AppState, Shared};
use crate::store::audit::AuditFilter;
use crate::tls::ClientAddr;
use crate::web::{render, see_other};

/// `?q=&auth=&status=`: every one given narrows the list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    auth: String,
    #[serde(default)]
    status: String,
    /// Days: only clients with a known certificate expiring within them.
    #[serde(default)]
    expiring: String,
}

impl ListQuery {
    /// The clients with a certificate expiring within the days asked for, if asked.
    async fn expiring_clients(&self, state: &Shared) -> Result<Option<HashSet<String>>, AdminError> {
        let Ok(days) = self.expiring.trim().parse::<i64>() else {
            return Ok(None);
        };
        let known = expiring::known_certificates(&state.store).await?;
        let soon = expiring::expiring_within(known, crate::now(), days.clamp(0, 3650));
        Ok(Some(soon.into_iter().map(|c| c.client_id).collect()))
    }

    /// Deleted clients show only when asked for.
    fn admits(&self, c: &Client) -> bool {
        let q = self.q.trim().to_lowercase();
        let found = q.is_empty() || c.client_id.to_lowercase().contains(&q) || c.name.to_lowercase().contains(&q);
        let auth = self.auth.is_empty() || c.auth_method.as_str() == self.auth;
        let status = match self.status.as_str() {
            "" => c.status != ClientStatus::Deleted,
            wanted => c.status.as_str() == wanted,
        };
        found && auth && status
    }
}

pub struct ClientRow {
    pub path: String,
    pub client_id: String,
    pub name: String,
    pub auth_method: &'static str,
    pub status: &'static str,
    pub subject: String,
    pub created: String,
}

impl ClientRow {
    fn of(c: &Client) -> Self {
        Self {
            path: format!("/admin/clients/{}", segment(&c.client_id)),
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            auth_method: c.auth_method.as_str(),
            status: c.status.as_str(),
            subject: subject_of(c),
            created: when(c.created_at),
        }
    }
}

fn subject_of(c: &Client) -> String {
    match (&c.subject, c.auth_method) {
        (Some(s), _) => s.parts().1,
        (None, AuthMethod::SelfSignedTlsClientAuth) => "registered certificates".into(),
        (None, _) => String::new(),
    }
}

#[derive(Template)]
#[template(path = "admin/clients.html")]
struct ListPage<'a> {
    nav: Nav,
    rows: Vec<ClientRow>,
    query: &'a ListQuery,
    methods: [&'static str; 3],
    total: usize,
}

/// `GET /admin/clients`.
pub async fn list(
    State(state): State<AppState>,
    session: AdminSession,
    Query(query): Query<ListQuery>,
) -> Result<Response, AdminError> {
    let clients = state.store.list_clients().await?;
    let total = clients.len();
    let expiring = query.expiring_clients(&state).await?;
    let rows = clients
        .iter()
        .filter(|c| query.admits(c))
        .filter(|c| expiring.as_ref().is_none_or(|ids| ids.contains(&c.client_id)))
        .map(ClientRow::of)
        .collect();
    let page = ListPage {
        nav: Nav::new(&state, &session, "clients"),
        rows,
        query: &query,
        methods: AuthMethod::ALL.map(AuthMethod::as_str),
        total,
    };
    Ok(render(&page, StatusCode::OK, None))
}

/// One audit row as the client page shows it.
pub struct EventRow {
    pub at: String,
    pub endpoint: String,
    pub outcome: &'static str,
    pub check: String,
    pub subject: String,
    pub issuer: String,
    pub thumbprint: String,
    /// When the certificate expires, if known.
    pub expires: String,
    pub peer: String,
}

impl EventRow {
    pub fn of(e: &AuditEvent) -> Self {
        let cert = e.certificate.as_ref();
        Self {
            at: when(e.at / 1000),
            endpoint: e.endpoint.clone(),
            outcome: e.outcome.as_str(),
            check: e.failed_check.clone().unwrap_or_default(),
            subject: cert.map(|c| c.subject.clone()).unwrap_or_default(),
            issuer: cert.map(|c| c.issuer.clone()).unwrap_or_default(),
            expires: cert.and_then(|c| c.not_after).map(when).unwrap_or_default(),
            thumbprint: cert.map(|c| c.thumbprint.clone()).unwrap_or_default(),
            peer: e.peer.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/client.html")]
struct DetailPage {
    nav: Nav,
    row: ClientRow,
    client: Client,
    document: String,
    updated: String,
    last_success: Option<EventRow>,
    last_failure: Option<EventRow>,
    recent: Vec<EventRow>,
}

/// `GET /admin/clients/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    session: AdminSession,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let client = state
        .store
        .get_client(&id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("client {id}")))?;
    let last = |outcome| state.store.latest_authentication(&id, outcome);
    let last_success = last(AuditOutcome::Success).await?.as_ref().map(EventRow::of);
    let last_failure = last(AuditOutcome::Failure).await?.as_ref().map(EventRow::of);
    let of_client = AuditFilter {
        client_id: Some(id.clone()),
        ..AuditFilter::default()
    };
    let recent = state.store.audit_events(&of_client, 20).await?;
    let page = DetailPage {
        nav: Nav::new(&state, &session, "clients"),
        row: ClientRow::of(&client),
        document: serde_json::to_string_pretty(&client.registration_document()).map_err(AdminError::internal)?,
        updated: when(client.updated_at),
        client,
        last_success,
        last_failure,
        recent: recent.iter().map(EventRow::of).collect(),
    };
    Ok(render(&page, StatusCode::OK, None))
}

/// A client that may still be changed: known and not deleted.
pub(super) async fn existing(state: &Shared, id: &str) -> Result<Client, AdminError> {
    match state.store.get_client(id).await? {
        Some(c) if c.status != ClientStatus::Deleted => Ok(c),
        _ => Err(AdminError::NotFound(format!("client {id}"))),
    }
}

/// `POST /admin/clients/{id}/status` with `status=disabled|active`.
pub async fn set_status(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    session: AdminSession,
    Path(id): Path<String>,
    AdminForm(form): AdminForm,
) -> Result<Response, AdminError> {
    session.check_change(&form)?;
    let status = match form.get("status") {
        Some("active") => ClientStatus::Active,
        Some("disabled") => ClientStatus::Disabled,
        _ => return Err(AdminError::BadRequest("status is active or disabled")),
    };
    let before = existing(&state, &id).await?;
    state.store.set_client_status(&id, status).await?;
    let action = match status {
        ClientStatus::Active => "admin.client.enable",
        _ => "admin.client.disable",
    };
    let after = state.store.get_client(&id).await?.map(|c| c.registration_document());
    let change = Change::client(
        session.username(),
        action,
        &id,
        Some(before.registration_document()),
        after,
    );
    record(&state, change.from(peer));
    Ok(see_other(&format!("/admin/clients/{}", segment(&id))))
}

#[derive(Template)]
#[template(path = "admin/delete.html")]
struct DeletePage {
    nav: Nav,
    row: ClientRow,
}

/// `GET /admin/clients/{id}/delete`: the confirmation, after the password again.
pub async fn confirm_delete(
    State(state): State<AppState>,
    session: AdminSession,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    session.check_may_change()?;
    let path = format!("/admin/clients/{}/delete", segment(&id));
    session.check_recent_authentication(&path, crate::now())?;
    let client = existing(&state, &id).await?;
    let page = DeletePage {
        nav: Nav::new(&state, &session, "clients"),
        row: ClientRow::of(&client),
    };
    Ok(render(&page, StatusCode::OK, None))
}

/// `POST /admin/clients/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    session: AdminSession,
    Path(id): Path<String>,
    AdminForm(form): AdminForm,
) -> Result<Response, AdminError> {
    session.check_change(&form)?;
    let path = format!("/admin/clients/{}/delete", segment(&id));
    session.check_recent_authentication(&path, crate::now())?;
    let before = existing(&state, &id).await?;
    state.store.delete_client(&id).await?;
    let change = Change::client(
        session.username(),
        "admin.client.delete",
        &id,
        Some(before.registration_document()),
        None,
    );
    record(&state, change.from(peer));
    Ok(see_other("/admin/clients"))
}
