//! Certificates expiring soon: every client certificate the server knows, sorted by expiry, so
//! operators can warn TPPs before their tokens stop. Known means registered (a self-signed
//! client's JWKS `x5c`) or seen (the certificate of a client's latest authentication in the
//! audit trail).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use rustls_pki_types::CertificateDer;
use serde::Deserialize;

use super::session::AdminSession;
use super::view::{segment, when, Nav};
use super::{AdminError, Console};
use crate::domain::client::jwks_certificates;
use crate::domain::{Client, ClientStatus};
use crate::oauth::{AppState, Shared};
use crate::pki::ClientCertificate;
use crate::store::{Store, StoreError};

/// One certificate and the client it belongs to.
#[derive(Debug, Clone)]
pub struct KnownCertificate {
    pub client_id: String,
    pub client_name: String,
    /// `registered` or `last seen`.
    pub source: &'static str,
    pub subject: String,
    pub thumbprint: String,
    pub not_after: i64,
}

/// Every certificate the server knows for clients that are not deleted, soonest expiry first.
pub async fn known_certificates(store: &Store) -> Result<Vec<KnownCertificate>, StoreError> {
    let clients: Vec<Client> = store
        .list_clients()
        .await?
        .into_iter()
        .filter(|c| c.status != ClientStatus::Deleted)
        .collect();
    let mut found: HashMap<String, KnownCertificate> = HashMap::new();
    for c in &clients {
        for der in jwks_certificates(c.jwks.as_ref()) {
            if let Ok(cert) = ClientCertificate::from_chain(vec![CertificateDer::from(der)]) {
                let known = known(c, "registered", &cert);
                found.insert(format!("{}/{}", c.client_id, known.thumbprint), known);
            }
        }
        let seen = store.last_seen_certificate(&c.client_id).await?;
        if let Some((cert, not_after)) = seen.and_then(|s| s.not_after.map(|at| (s, at))) {
            found
                .entry(format!("{}/{}", c.client_id, cert.thumbprint))
                .or_insert(KnownCertificate {
                    client_id: c.client_id.clone(),
                    client_name: c.name.clone(),
                    source: "last seen",
                    subject: cert.subject,
                    thumbprint: cert.thumbprint,
                    not_after,
                });
        }
    }
    let mut all: Vec<_> = found.into_values().collect();
    all.sort_by(|a, b| (a.not_after, &a.client_id).cmp(&(b.not_after, &b.client_id)));
    Ok(all)
}

fn known(c: &Client, source: &'static str, cert: &ClientCertificate) -> KnownCertificate {
    KnownCertificate {
        client_id: c.client_id.clone(),
        client_name: c.name.clone(),
        source,
        subject: cert.subject().to_string(),
        thumbprint: cert.thumbprint().to_base64url(),
        not_after: cert.not_after(),
    }
}

/// Those of `all` that expire within `days` of `now` (the expired included).
pub fn expiring_within(all: Vec<KnownCertificate>, now: i64, days: i64) -> Vec<KnownCertificate> {
    all.into_iter().filter(|c| c.not_after <= now + days * 86_400).collect()
}

pub struct Row {
    pub client_path: String,
    pub client_id: String,
    pub client_name: String,
    pub source: &'static str,
    pub subject: String,
    pub thumbprint: String,
    pub not_after: String,
    pub days_left: i64,
}

#[derive(Template)]
#[template(path = "admin/expiring.html")]
struct ExpiringPage {
    nav: Nav,
    days: i64,
    rows: Vec<Row>,
}

#[derive(Debug, Deserialize)]
pub struct DaysQuery {
    days: Option<i64>,
}

/// `GET /admin/certificates?days=N` (default: the configured `[admin] expiring_within_days`).
pub async fn list(
    State(state): State<AppState>,
    Extension(console): Extension<std::sync::Arc<Console>>,
    session: AdminSession,
    Query(query): Query<DaysQuery>,
) -> Result<Response, AdminError> {
    let days = query.days.unwrap_or(console.expiring_within_days).clamp(0, 3650);
    page(&state, &session, days).await
}

async fn page(state: &Shared, session: &AdminSession, days: i64) -> Result<Response, AdminError> {
    let now = crate::now();
    let certificates = expiring_within(known_certificates(&state.store).await?, now, days);
    let rows = certificates
        .into_iter()
        .map(|c| Row {
            client_path: format!("/admin/clients/{}", segment(&c.client_id)),
            days_left: (c.not_after - now).div_euclid(86_400),
            not_after: when(c.not_after),
            client_id: c.client_id,
            client_name: c.client_name,
            source: c.source,
            subject: c.subject,
            thumbprint: c.thumbprint,
        })
        .collect();
    let page = ExpiringPage {
        nav: Nav::new(state, session, "certificates"),
        days,
        rows,
    };
    Ok(render(&page))
}

fn render(page: &ExpiringPage) -> Response {
    crate::web::render(page, StatusCode::OK, None)
}
