//! The audit trail's table: batched appends, filtered reads newest first, export in time order,
//! and retention. Nothing here updates or deletes a row but retention.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{opt_text, text, Backend, Store, StoreError};
use crate::domain::{AuditEvent, AuditKind, AuditOutcome, AuditedCertificate, CertificateSource};

const COLUMNS: &str = "id, at, kind, outcome, failed_check, endpoint, client_id, cert_subject, cert_issuer, \
                       cert_serial, cert_thumbprint, cert_source, peer, listener, actor, detail";
const COLUMN_COUNT: usize = 16;
/// Rows per INSERT statement: few round trips, and far below either database's limit on
/// parameters per statement.
const ROWS_PER_STATEMENT: usize = 100;

/// Which rows to read; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub client_id: Option<String>,
    pub kind: Option<AuditKind>,
    pub outcome: Option<AuditOutcome>,
    pub failed_check: Option<String>,
    /// Milliseconds, inclusive.
    pub since: Option<i64>,
    /// Milliseconds, exclusive.
    pub until: Option<i64>,
}

impl Store {
    /// Appends events in one transaction: all of them or, on error, none.
    pub async fn append_audit_events(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO audit_events ({COLUMNS}) VALUES {}",
                placeholders(self.backend(), chunk.len(), COLUMN_COUNT)
            );
            let mut query = sqlx::query(&sql);
            for e in chunk {
                let cert = e.certificate.as_deref();
                query = query
                    .bind(e.id.as_str())
                    .bind(e.at)
                    .bind(e.kind.as_str())
                    .bind(e.outcome.as_str())
                    .bind(e.failed_check.as_deref())
                    .bind(e.endpoint.as_str())
                    .bind(e.client_id.as_deref())
                    .bind(cert.map(|c| c.subject.as_str()))
                    .bind(cert.map(|c| c.issuer.as_str()))
                    .bind(cert.map(|c| c.serial.as_str()))
                    .bind(cert.map(|c| c.thumbprint.as_str()))
                    .bind(e.certificate_source.map(|s| s.as_str()))
                    .bind(e.peer.as_deref())
                    .bind(e.listener.as_deref())
                    .bind(e.actor.as_deref())
                    .bind(e.detail.as_ref().map(|d| d.to_string()));
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Rows matching `filter`, newest first, at most `limit`.
    pub async fn audit_events(&self, filter: &AuditFilter, limit: i64) -> Result<Vec<AuditEvent>, StoreError> {
        let mut clauses = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if filter.client_id.is_some() {
            clauses.push(format!("client_id = {}", next()));
        }
        if filter.kind.is_some() {
            clauses.push(format!("kind = {}", next()));
        }
        if filter.outcome.is_some() {
            clauses.push(format!("outcome = {}", next()));
        }
        if filter.failed_check.is_some() {
            clauses.push(format!("failed_check = {}", next()));
        }
        if filter.since.is_some() {
            clauses.push(format!("at >= {}", next()));
        }
        if filter.until.is_some() {
            clauses.push(format!("at < {}", next()));
        }
        let limit_param = next();
        let condition = match clauses.is_empty() {
            true => String::new(),
            false => format!("WHERE {}", clauses.join(" AND ")),
        };
        let sql = format!("SELECT {COLUMNS} FROM audit_events {condition} ORDER BY id DESC LIMIT {limit_param}");
        let mut query = sqlx::query(&sql);
        if let Some(v) = &filter.client_id {
            query = query.bind(v.clone());
        }
        if let Some(v) = filter.kind {
            query = query.bind(v.as_str());
        }
        if let Some(v) = filter.outcome {
            query = query.bind(v.as_str());
        }
        if let Some(v) = &filter.failed_check {
            query = query.bind(v.clone());
        }
        if let Some(v) = filter.since {
            query = query.bind(v);
        }
        if let Some(v) = filter.until {
            query = query.bind(v);
        }
        let rows = query.bind(limit).fetch_all(self.pool()).await?;
        rows.iter().map(event).collect()
    }

    /// Rows at or after `since` (milliseconds) in time order, after the row `after` if given:
    /// one page of an export.
    pub async fn audit_events_after(
        &self,
        since: i64,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM audit_events WHERE at >= $1 AND id > $2 ORDER BY id LIMIT $3");
        let rows = sqlx::query(&sql)
            .bind(since)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(event).collect()
    }

    /// Retention: removes rows older than `before` (milliseconds); returns how many.
    pub async fn purge_audit_events_before(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

/// `rows` parenthesised groups of `columns` parameters. SQLite gets anonymous `?`: its driver
/// looks a numbered `$n` up by a linear scan of the statement's parameter names, which makes
/// binding a multi-row INSERT quadratic (half the writer's time, profiled). PostgreSQL needs `$n`.
fn placeholders(backend: Backend, rows: usize, columns: usize) -> String {
    let group = |r: usize| -> String {
        let params: Vec<String> = (1..=columns)
            .map(|c| match backend {
                Backend::Sqlite => "?".to_string(),
                Backend::Postgres => format!("${}", r * columns + c),
            })
            .collect();
        format!("({})", params.join(", "))
    };
    (0..rows).map(group).collect::<Vec<_>>().join(", ")
}

fn event(row: &AnyRow) -> Result<AuditEvent, StoreError> {
    let corrupt = |what: String| StoreError::Corrupt(format!("audit event: {what}"));
    let certificate = match opt_text(row, "cert_thumbprint")? {
        Some(thumbprint) => Some(std::sync::Arc::new(AuditedCertificate {
            subject: opt_text(row, "cert_subject")?.unwrap_or_default(),
            issuer: opt_text(row, "cert_issuer")?.unwrap_or_default(),
            serial: opt_text(row, "cert_serial")?.unwrap_or_default(),
            thumbprint,
        })),
        None => None,
    };
    Ok(AuditEvent {
        id: text(row, "id")?,
        at: row.try_get::<i64, _>("at")?,
        kind: text(row, "kind")?.parse().map_err(corrupt)?,
        outcome: text(row, "outcome")?.parse().map_err(corrupt)?,
        failed_check: opt_text(row, "failed_check")?,
        endpoint: text(row, "endpoint")?,
        client_id: opt_text(row, "client_id")?,
        certificate,
        certificate_source: opt_text(row, "cert_source")?
            .map(|s| s.parse::<CertificateSource>())
            .transpose()
            .map_err(corrupt)?,
        peer: opt_text(row, "peer")?,
        listener: opt_text(row, "listener")?,
        actor: opt_text(row, "actor")?,
        detail: opt_text(row, "detail")?
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(|e| corrupt(e.to_string()))?,
    })
}
