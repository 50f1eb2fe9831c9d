//! The audit trail's tables: batched appends, filtered reads newest first, export in time order,
//! and retention. Nothing here updates or deletes an event but retention.
//!
//! A row is kept lean, for the writer to keep up with a busy token endpoint: a certificate is
//! written once to `audit_certificates` and named by its thumbprint; the grant type and status
//! are columns, `detail` JSON only what else there is; the id, which starts with the time, is
//! the only index on time. [`row`] turns events into columns and back.

mod row;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sqlx::Row;

use row::{event, split_detail};

use super::{text, Backend, Store, StoreError};
use crate::domain::{AuditEvent, AuditKind, AuditOutcome, AuditedCertificate};

const COLUMNS: &str = "id, at, kind, outcome, failed_check, endpoint, client_id, cert_thumbprint, cert_source, \
                       peer, listener, actor, grant_type, status, detail";
const COLUMN_COUNT: usize = 15;
/// What reads select: the event's columns and its certificate's.
const SELECT: &str = "SELECT e.id, e.at, e.kind, e.outcome, e.failed_check, e.endpoint, e.client_id, \
                      e.cert_thumbprint, e.cert_source, e.peer, e.listener, e.actor, e.grant_type, e.status, \
                      e.detail, c.subject, c.issuer, c.serial, c.not_after \
                      FROM audit_events e LEFT JOIN audit_certificates c ON c.thumbprint = e.cert_thumbprint";
/// Rows per INSERT statement: few round trips, and far below either database's limit on
/// parameters per statement.
const ROWS_PER_STATEMENT: usize = 100;
/// How often a writer refreshes a certificate's `seen_at` while events keep naming it.
const CERTIFICATE_REFRESH: Duration = Duration::from_secs(3600);
/// Retention keeps a certificate this long (ms) past its `seen_at`, well beyond the refresh
/// interval, so no remaining event names a certificate removed.
const CERTIFICATE_MARGIN_MS: i64 = 86_400_000;

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

/// The certificates one writer has stored, and when: each is written once, then refreshed
/// hourly, rather than with every event.
#[derive(Debug, Default)]
pub struct WrittenCertificates(HashMap<String, Instant>);

impl WrittenCertificates {
    /// The certificates `events` name that are not stored or are due a refresh, each with the
    /// time of the latest event naming it.
    fn due<'a>(&self, events: &'a [AuditEvent]) -> Vec<(&'a AuditedCertificate, i64)> {
        let mut due: HashMap<&str, (&AuditedCertificate, i64)> = HashMap::new();
        for e in events {
            let Some(cert) = e.certificate.as_deref() else {
                continue;
            };
            if self
                .0
                .get(&cert.thumbprint)
                .is_some_and(|at| at.elapsed() < CERTIFICATE_REFRESH)
            {
                continue;
            }
            let seen = due.entry(&cert.thumbprint).or_insert((cert, e.at));
            seen.1 = seen.1.max(e.at);
        }
        due.into_values().collect()
    }
}

impl Store {
    /// Appends events in one transaction: all of them or, on error, none.
    pub async fn append_audit_events(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.append_audit_batch(events, &mut WrittenCertificates::default())
            .await
    }

    /// [`Self::append_audit_events`] for a writer that remembers, in `written`, the certificates
    /// it has stored.
    pub async fn append_audit_batch(
        &self,
        events: &[AuditEvent],
        written: &mut WrittenCertificates,
    ) -> Result<(), StoreError> {
        let due = written.due(events);
        let mut tx = self.begin().await?;
        for chunk in due.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO audit_certificates (thumbprint, subject, issuer, serial, not_after, seen_at) VALUES {} \
                 ON CONFLICT (thumbprint) DO UPDATE SET seen_at = excluded.seen_at \
                 WHERE excluded.seen_at > audit_certificates.seen_at",
                placeholders(self.backend(), chunk.len(), 6)
            );
            let mut query = sqlx::query(&sql);
            for (c, seen_at) in chunk {
                query = query
                    .bind(c.thumbprint.as_str())
                    .bind(c.subject.as_str())
                    .bind(c.issuer.as_str())
                    .bind(c.serial.as_str())
                    .bind(c.not_after)
                    .bind(*seen_at);
            }
            query.execute(&mut *tx).await?;
        }
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            let sql = insert_sql(self.backend(), chunk.len());
            let mut query = sqlx::query(&sql);
            for e in chunk {
                let (grant_type, status, detail) = split_detail(e.detail.as_ref());
                query = query
                    .bind(e.id.as_str())
                    .bind(e.at)
                    .bind(e.kind.as_str())
                    .bind(e.outcome.as_str())
                    .bind(e.failed_check.as_deref())
                    .bind(e.endpoint.as_str())
                    .bind(e.client_id.as_deref())
                    .bind(e.certificate.as_deref().map(|c| c.thumbprint.as_str()))
                    .bind(e.certificate_source.map(|s| s.as_str()))
                    .bind(e.peer.as_deref())
                    .bind(e.listener.as_deref())
                    .bind(e.actor.as_deref())
                    .bind(grant_type)
                    .bind(status)
                    .bind(detail);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        let now = Instant::now();
        for (c, _) in due {
            written.0.insert(c.thumbprint.clone(), now);
        }
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
            clauses.push(format!("e.client_id = {}", next()));
        }
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
            clauses.push(format!("e.id >= {} AND e.at >= {}", next(), next()));
        }
        if filter.until.is_some() {
            clauses.push(format!("e.id < {} AND e.at < {}", next(), next()));
        }
        let limit_param = next();
        let condition = match clauses.is_empty() {
            true => String::new(),
            false => format!("WHERE {}", clauses.join(" AND ")),
        };
        let sql = format!("{SELECT} {condition} ORDER BY e.id DESC LIMIT {limit_param}");
        let mut query = sqlx::query(&sql);
        if let Some(v) = &filter.client_id {
            query = query.bind(v.as_str());
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
            query = query.bind(id_prefix(v)).bind(v);
        }
        if let Some(v) = filter.until {
            query = query.bind(id_prefix(v)).bind(v);
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
        let sql = format!("{SELECT} WHERE e.id >= $1 AND e.at >= $2 AND e.id > $3 ORDER BY e.id LIMIT $4");
        let rows = sqlx::query(&sql)
            .bind(id_prefix(since))
            .bind(since)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(event).collect()
    }

    /// Retention: removes rows older than `before` (milliseconds), and the certificates no
    /// remaining row can name; returns how many rows.
    /// The certificate of the client's latest successful authentication the trail still holds.
    pub async fn last_seen_certificate(&self, client_id: &str) -> Result<Option<AuditedCertificate>, StoreError> {
        let row = sqlx::query(
            "SELECT c.thumbprint, c.subject, c.issuer, c.serial, c.not_after FROM audit_events e \
             JOIN audit_certificates c ON c.thumbprint = e.cert_thumbprint \
             WHERE e.client_id = $1 AND e.outcome = 'success' ORDER BY e.at DESC, e.id DESC LIMIT 1",
        )
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(AuditedCertificate {
                thumbprint: text(&r, "thumbprint")?,
                subject: text(&r, "subject")?,
                issuer: text(&r, "issuer")?,
                serial: text(&r, "serial")?,
                not_after: r.try_get::<Option<i64>, _>("not_after")?,
            })
        })
        .transpose()
    }

    pub async fn purge_audit_events_before(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM audit_events WHERE id < $1 AND at < $2")
            .bind(id_prefix(before))
            .bind(before)
            .execute(self.pool())
            .await?;
        sqlx::query("DELETE FROM audit_certificates WHERE seen_at < $1")
            .bind(before.saturating_sub(CERTIFICATE_MARGIN_MS))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

/// Where ids from the millisecond `at` on sort: ids begin with it, in 13 digits.
fn id_prefix(at: i64) -> String {
    format!("{:013}", at.max(0))
}

/// The INSERT of `rows` events, built once for a full chunk. On SQLite `OR FAIL`: a row that
/// breaks a constraint stops the statement without undoing the rows before it, which spares a
/// statement journal (pages copied to a temporary file for every statement, profiled); the
/// transaction is rolled back whole anyway.
fn insert_sql(backend: Backend, rows: usize) -> Cow<'static, str> {
    static FULL: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];
    let build = || {
        let verb = match backend {
            Backend::Sqlite => "INSERT OR FAIL",
            Backend::Postgres => "INSERT",
        };
        let values = placeholders(backend, rows, COLUMN_COUNT);
        format!("{verb} INTO audit_events ({COLUMNS}) VALUES {values}")
    };
    match rows {
        ROWS_PER_STATEMENT => Cow::Borrowed(FULL[backend as usize].get_or_init(build)),
        _ => Cow::Owned(build()),
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
    fn ids_from_a_time_on_sort_after_its_prefix() {
        let id = |at: i64| format!("{at:013}-0a1b2c3d-{:012}", 7);
        assert!(id(1_000) >= id_prefix(1_000) && id(999) < id_prefix(1_000));
        assert!(id(1_764_658_000_000) < id_prefix(1_764_658_000_001));
        assert_eq!(id_prefix(-5), "0000000000000");
    }

    #[test]
    fn sqlite_placeholders_are_anonymous_and_postgres_ones_numbered() {
        assert_eq!(placeholders(Backend::Sqlite, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(placeholders(Backend::Postgres, 2, 2), "($1, $2), ($3, $4)");
        assert!(insert_sql(Backend::Sqlite, ROWS_PER_STATEMENT).starts_with("INSERT OR FAIL INTO"));
        assert_eq!(insert_sql(Backend::Postgres, 1).matches('$').count(), COLUMN_COUNT);
    }
}
