//! The audit trail in the console: the newest rows first, filtered by client, kind, outcome,
//! failed check and time range (UTC).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::session::AdminSession;
use super::view::{when, Nav};
use super::AdminError;
use crate::domain::{AuditEvent, AuditKind, AuditOutcome};
use crate::oauth::AppState;
use crate::store::audit::AuditFilter;
use crate::web::render;

/// Rows shown at most; narrow the filters (or export with the CLI) for more.
const LIMIT: i64 = 200;

/// The filter form's fields, as typed; empty ones do not narrow.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    check: String,
    /// `YYYY-MM-DDTHH:MM`, UTC (what `<input type=datetime-local>` sends).
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
}

impl AuditQuery {
    fn filter(&self) -> Result<AuditFilter, &'static str> {
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(AuditFilter {
            client_id: text(&self.client_id),
            kind: text(&self.kind)
                .map(|k| k.parse::<AuditKind>())
                .transpose()
                .map_err(|_| "Unknown kind.")?,
            outcome: text(&self.outcome)
                .map(|o| o.parse::<AuditOutcome>())
                .transpose()
                .map_err(|_| "Unknown outcome.")?,
            failed_check: text(&self.check),
            since: millis(&self.since)?,
            until: millis(&self.until)?,
        })
    }
}

/// `YYYY-MM-DDTHH:MM` (seconds optional) in UTC, as milliseconds.
fn millis(s: &str) -> Result<Option<i64>, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bad = "Times are YYYY-MM-DDTHH:MM, in UTC.";
    let format = match s.len() {
        16 => "[year]-[month]-[day]T[hour]:[minute]",
        19 => "[year]-[month]-[day]T[hour]:[minute]:[second]",
        _ => return Err(bad),
    };
    let format = time::format_description::parse_borrowed::<1>(format).map_err(|_| bad)?;
    let at = time::PrimitiveDateTime::parse(s, &format).map_err(|_| bad)?;
    Ok(Some(at.assume_utc().unix_timestamp() * 1000))
}

/// One row as the table shows it.
pub struct Row {
    pub at: String,
    pub kind: &'static str,
    pub endpoint: String,
    pub outcome: &'static str,
    pub check: String,
    pub client_id: String,
    pub actor: String,
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub thumbprint: String,
    pub source: &'static str,
    pub peer: String,
    pub detail: String,
}

impl Row {
    fn of(e: &AuditEvent) -> Self {
        let cert = e.certificate.as_deref();
        let field = |f: fn(&crate::domain::AuditedCertificate) -> &String| cert.map(f).cloned().unwrap_or_default();
        Self {
            at: when(e.at / 1000),
            kind: e.kind.as_str(),
            endpoint: e.endpoint.clone(),
            outcome: e.outcome.as_str(),
            check: e.failed_check.clone().unwrap_or_default(),
            client_id: e.client_id.clone().unwrap_or_default(),
            actor: e.actor.clone().unwrap_or_default(),
            subject: field(|c| &c.subject),
            issuer: field(|c| &c.issuer),
            serial: field(|c| &c.serial),
            thumbprint: field(|c| &c.thumbprint),
            source: e.certificate_source.map_or("", |s| s.as_str()),
            peer: e.peer.clone().unwrap_or_default(),
            detail: e.detail_shown().map(|d| d.to_string()).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage<'a> {
    nav: Nav,
    query: &'a AuditQuery,
    rows: Vec<Row>,
    error: Option<&'a str>,
    limit: i64,
}

/// `GET /admin/audit`.
pub async fn list(
    State(state): State<AppState>,
    session: AdminSession,
    Query(query): Query<AuditQuery>,
) -> Result<Response, AdminError> {
    let (rows, error) = match query.filter() {
        Ok(filter) => {
            let events = state.store.audit_events(&filter, LIMIT).await?;
            (events.iter().map(Row::of).collect(), None)
        }
        Err(message) => (Vec::new(), Some(message)),
    };
    let status = match error {
        Some(_) => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    let page = AuditPage {
        nav: Nav::new(&state, &session, "audit"),
        query: &query,
        rows,
        error,
        limit: LIMIT,
    };
    Ok(render(&page, status, None))
}

#[cfg(test)]
mod tests {
    use super::millis;

    #[test]
    fn reads_utc_times() {
        assert_eq!(millis(""), Ok(None));
        assert_eq!(millis("1970-01-01T00:01"), Ok(Some(60_000)));
        assert_eq!(millis("1970-01-01T00:00:02"), Ok(Some(2_000)));
        assert!(millis("yesterday").is_err());
        assert!(millis("1970-13-01T00:00").is_err());
    }
}
