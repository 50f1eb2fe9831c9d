//! The audit trail's tables: batched appends, filtered reads newest first, export in time order,
//! and retention. Nothing here updates or deletes an event but retention.
//!
//! A row is kept lean, for the writer to keep up with a busy token endpoint: a certificate is
//! written once to `audit_certificates` and named by its thumbprint; the grant type and status
//! are columns, `detail` JSON only what else there is; the key is a sequence number the
//! database assigns. [`row`] turns events into columns and back; [`writer`] appends them.

mod client_index;
mod row;
mod writer;

use std::time::Duration;

use row::event;

use super::{Backend, Store, StoreError};
use crate::domain::{AuditEvent, AuditKind, AuditOutcome, AuditedCertificate};

pub use writer::AuditWriter;

/// What reads select: the event's columns and its certificate's.
const SELECT: &str = "SELECT e.seq, e.at, e.kind, e.outcome, e.failed_check, e.endpoint, e.client_id, \
                      e.cert_thumbprint, e.cert_source, e.peer, e.listener, e.actor, e.grant_type, e.status, \
                      e.detail, c.subject, c.issuer, c.serial, c.not_after \
                      FROM audit_events e LEFT JOIN audit_certificates c ON c.thumbprint = e.cert_thumbprint";
/// How often a writer refreshes a certificate's `seen_at` while events keep naming it.
const CERTIFICATE_REFRESH: Duration = Duration::from_secs(3600);
/// Retention keeps a certificate this long (ms) past its `seen_at`, well beyond the refresh
/// interval, so no remaining event names a certificate removed.
const CERTIFICATE_MARGIN_MS: i64 = 86_400_000;

/// Spans read per query when reading one client's rows.
const SPANS_PER_QUERY: i64 = 512;

/// The spans of `client_id` whose last row lies in `from..below`.
#[derive(Clone, Copy)]
struct SpanPage<'a> {
    client_id: &'a str,
    from: i64,
    below: i64,
}

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
    /// Rows matching `filter`, newest first, at most `limit`.
    pub async fn audit_events(&self, filter: &AuditFilter, limit: i64) -> Result<Vec<AuditEvent>, StoreError> {
        match &filter.client_id {
            None => self.audit_events_where(filter, None, limit).await,
            Some(client_id) => self.client_audit_events(client_id, filter, limit).await,
        }
    }

    /// One client's rows: its spans are read newest first, a page at a time, and the rows in a
    /// page's spans found in one query, until `limit` rows are found or the spans run out.
    async fn client_audit_events(
        &self,
        client_id: &str,
        filter: &AuditFilter,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut events = Vec::new();
        let mut below = i64::MAX;
        while (events.len() as i64) < limit {
            let oldest: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(last_seq) FROM (SELECT last_seq FROM audit_client_spans \
                 WHERE client_id = $1 AND last_seq < $2 ORDER BY last_seq DESC LIMIT $3) page",
            )
            .bind(client_id)
            .bind(below)
            .bind(SPANS_PER_QUERY)
            .fetch_one(self.pool())
            .await?;
            let Some(oldest) = oldest else {
                break;
            };
            let page = SpanPage {
                client_id,
                from: oldest,
                below,
            };
            let found = self
                .audit_events_where(filter, Some(page), limit - events.len() as i64)
                .await?;
            events.extend(found);
            below = oldest;
        }
        Ok(events)
    }

    /// Rows matching `filter` (and within `page`'s spans), newest first, at most `limit`.
    async fn audit_events_where(
        &self,
        filter: &AuditFilter,
        page: Option<SpanPage<'_>>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut clauses = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        let spans = match page {
            Some(_) => {
                let (client, from, below) = (next(), next(), next());
                clauses.push(format!("e.client_id = {client}"));
                format!(
                    "JOIN audit_client_spans s ON s.client_id = {client} AND s.last_seq >= {from} \
                     AND s.last_seq < {below} AND e.seq BETWEEN s.first_seq AND s.last_seq"
                )
            }
            None => String::new(),
        };
        if filter.kind.is_some() {
            clauses.push(format!("e.kind = {}", next()));
        }
        if filter.outcome.is_some() {
            clauses.push(format!("e.outcome = {}", next()));
        }
        if filter.failed_check.is_some() {
            clauses.push(format!("e.failed_check = {}", next()));
        }
        if filter.since.is_some() {
            clauses.push(format!("e.at >= {}", next()));
        }
        if filter.until.is_some() {
            clauses.push(format!("e.at < {}", next()));
        }
        let limit_param = next();
        let condition = match clauses.is_empty() {
            true => String::new(),
            false => format!("WHERE {}", clauses.join(" AND ")),
        };
        let sql = format!("{SELECT} {spans} {condition} ORDER BY e.seq DESC LIMIT {limit_param}");
        let mut query = sqlx::query(&sql);
        if let Some(page) = page {
            query = query.bind(page.client_id).bind(page.from).bind(page.below);
        }
        if let Some(v) = filter.kind {
            query = query.bind(v.as_str());
        }
        if let Some(v) = filter.outcome {
            query = query.bind(v.as_str());
        }
        if let Some(v) = &filter.failed_check {
            query = query.bind(v.as_str());
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

    /// Rows at or after `since` (milliseconds) in the order they were written, after the row
    /// `after` if given: one page of an export.
    pub async fn audit_events_after(
        &self,
        since: i64,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let sql = format!("{SELECT} WHERE e.seq > $1 AND e.at >= $2 ORDER BY e.seq LIMIT $3");
        let rows = sqlx::query(&sql)
            .bind(after.unwrap_or(0))
            .bind(since)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(event).collect()
    }

    /// The certificate of the client's latest successful authentication the trail still holds.
    pub async fn last_seen_certificate(&self, client_id: &str) -> Result<Option<AuditedCertificate>, StoreError> {
        let latest = self.latest_authentication(client_id, AuditOutcome::Success).await?;
        Ok(latest.and_then(|e| e.certificate).map(|c| c.as_ref().clone()))
    }

    /// The client's latest authentication (at the token endpoint or another) with `outcome`
    /// the trail still holds; administrative changes do not count.
    pub async fn latest_authentication(
        &self,
        client_id: &str,
        outcome: AuditOutcome,
    ) -> Result<Option<AuditEvent>, StoreError> {
        let sql =
            format!("{SELECT} JOIN audit_client_latest l ON l.seq = e.seq WHERE l.client_id = $1 AND l.outcome = $2");
        let row = sqlx::query(&sql)
            .bind(client_id)
            .bind(outcome.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(event).transpose()
    }

    /// Retention: removes rows older than `before` (milliseconds), and the certificates no
    /// remaining row can name; returns how many rows.
    pub async fn purge_audit_events_before(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .bind(before)
            .execute(self.pool())
            .await?;
        for table in ["audit_client_spans WHERE last_seq", "audit_client_latest WHERE seq"] {
            let sql = format!("DELETE FROM {table} < (SELECT COALESCE(MIN(seq), $1) FROM audit_events)");
            sqlx::query(&sql).bind(i64::MAX).execute(self.pool()).await?;
        }
        sqlx::query("DELETE FROM audit_certificates WHERE seen_at < $1")
            .bind(before.saturating_sub(CERTIFICATE_MARGIN_MS))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

/// `rows` parenthesised groups of `columns` parameters. SQLite gets anonymous `?`: its driver
/// looks a numbered `$n` up by a linear scan of the statement's parameter names, which made
/// binding a multi-row INSERT quadratic (12 % of the server's CPU, profiled). PostgreSQL needs
/// `$n`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_placeholders_are_anonymous_and_postgres_ones_numbered() {
        assert_eq!(placeholders(Backend::Sqlite, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(placeholders(Backend::Postgres, 2, 2), "($1, $2), ($3, $4)");
    }
}
