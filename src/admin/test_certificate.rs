//! "Test a certificate against this client": an operator uploads a certificate and sees each
//! check the token endpoint would run on it for this client, named as in the audit trail.
//! Nothing is stored, so viewers may use it too.

use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::certificate::{self, Facts};
use super::session::AdminSession;
use super::view::{segment, Nav};
use super::AdminError;
use crate::oauth::client_auth::diagnose::{certificate_checks, CheckOutcome};
use crate::oauth::clients::CachedClient;
use crate::oauth::{AppState, Shared};
use crate::web::render;

/// What the page shows below the form: nothing yet, the checks' outcomes, or why the upload
/// could not be read.
enum Tested<'a> {
    Nothing,
    Checked(Box<Facts>, Vec<CheckOutcome>),
    Unreadable(&'a str),
}

#[derive(Template)]
#[template(path = "admin/test_certificate.html")]
struct TestPage<'a> {
    nav: Nav,
    path: String,
    client_id: &'a str,
    name: &'a str,
    auth_method: &'static str,
    facts: Option<Box<Facts>>,
    outcomes: Vec<CheckOutcome>,
    passed: bool,
    error: Option<&'a str>,
}

/// The registration as stored now, not as a node's cache last loaded it.
async fn client(state: &Shared, id: &str) -> Result<CachedClient, AdminError> {
    let client = state
        .store
        .get_client(id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("client {id}")))?;
    Ok(CachedClient::new(client))
}

fn page(state: &Shared, session: &AdminSession, client: &CachedClient, tested: Tested<'_>) -> Response {
    let (facts, outcomes, error, status) = match tested {
        Tested::Nothing => (None, Vec::new(), None, StatusCode::OK),
        Tested::Checked(facts, outcomes) => (Some(facts), outcomes, None, StatusCode::OK),
        Tested::Unreadable(message) => (None, Vec::new(), Some(message), StatusCode::UNPROCESSABLE_ENTITY),
    };
    let c = &client.client;
    let page = TestPage {
        nav: Nav::new(state, session, "clients"),
        path: format!("/admin/clients/{}", segment(&c.client_id)),
        client_id: &c.client_id,
        name: &c.name,
        auth_method: c.auth_method.as_str(),
        passed: !outcomes.is_empty() && outcomes.iter().all(CheckOutcome::passed),
        facts,
        outcomes,
        error,
    };
    render(&page, status, None)
}

/// `GET /admin/clients/{id}/test`.
pub async fn form(
    State(state): State<AppState>,
    session: AdminSession,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let client = client(&state, &id).await?;
    Ok(page(&state, &session, &client, Tested::Nothing))
}

/// `POST /admin/clients/{id}/test` (multipart: `csrf`, `file` and/or `pem`).
pub async fn run(
    State(state): State<AppState>,
    session: AdminSession,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Result<Response, AdminError> {
    let (csrf, upload) = certificate::upload(multipart).await?;
    session.check_csrf_token(csrf.as_deref())?;
    let client = client(&state, &id).await?;
    let cert = match certificate::read(&upload) {
        Ok(cert) => cert,
        Err(message) => return Ok(page(&state, &session, &client, Tested::Unreadable(message))),
    };
    let now = crate::now();
    let outcomes = certificate_checks(&state.trust, &client, &cert, now);
    let facts = Box::new(Facts::of(&cert, &state.trust, now));
    Ok(page(&state, &session, &client, Tested::Checked(facts, outcomes)))
}
