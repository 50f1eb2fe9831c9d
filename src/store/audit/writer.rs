//! Appending audit events: the write every token request causes, so it is made cheap.
//!
//! On a SQLite file the writer keeps a connection of its own (rusqlite) and binds each row to
//! one prepared INSERT, in place, on a blocking thread: sqlx's driver hands every statement to
//! its worker thread and copies every bound value twice on the way, and building its `Any`
//! arguments alone cost more than the whole row's B-tree work (profiled; docs/performance.md).
//! On PostgreSQL, and on an in-memory SQLite database that only the pool can reach, rows go
//! through the pool in multi-row INSERTs.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{params, TransactionBehavior};
use sqlx::Row;

use super::client_index::{ClientIndex, INSERT_LATEST, INSERT_SPAN, LATEST_IF_LATER};
use super::{placeholders, CERTIFICATE_REFRESH};
use crate::domain::{AuditEvent, AuditKind, AuditOutcome, AuditedCertificate};
use crate::store::{Backend, Store, StoreError};

/// The statements, up to their values: the same for both ways of writing.
macro_rules! insert_event {
    () => {
        "INSERT INTO audit_events (at, kind, outcome, failed_check, endpoint, client_id, cert_thumbprint, \
         cert_source, peer, listener, actor, grant_type, status, detail) VALUES "
    };
}
macro_rules! insert_certificate {
    () => {
        "INSERT INTO audit_certificates (thumbprint, subject, issuer, serial, not_after, seen_at) VALUES "
    };
}
/// A certificate already stored only has its `seen_at` moved forward.
macro_rules! certificate_seen_again {
    () => {
        " ON CONFLICT (thumbprint) DO UPDATE SET seen_at = excluded.seen_at \
         WHERE excluded.seen_at > audit_certificates.seen_at"
    };
}

const INSERT_EVENT: &str = concat!(
    insert_event!(),
    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
);
const EVENT_COLUMNS: usize = 14;
/// Taken by every PostgreSQL writer for its batch: batches are written one at a time, so the
/// seq of a batch's rows are consecutive and a client's spans never overlap.
const POSTGRES_LOCK: &str = "SELECT pg_advisory_xact_lock(8705001)";
const UPSERT_CERTIFICATE: &str = concat!(
    insert_certificate!(),
    "(?1, ?2, ?3, ?4, ?5, ?6)",
    certificate_seen_again!()
);
/// Rows per INSERT through the pool: few round trips, far below either database's limit on
/// parameters per statement.
const ROWS_PER_STATEMENT: usize = 100;
/// How long the writer's own SQLite connection waits for another writer (the server's pool,
/// the CLI) before a batch fails and is retried.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Appends batches of events; one per audit log.
pub struct AuditWriter {
    target: Target,
    written: WrittenCertificates,
}

enum Target {
    /// `None` only while a batch is being written on a blocking thread.
    Sqlite(Option<rusqlite::Connection>),
    Pool(Store),
}

impl Store {
    /// A writer for the audit trail: on a SQLite file, with a connection of its own.
    pub fn audit_writer(&self) -> Result<AuditWriter, StoreError> {
        let target = match &self.sqlite_file {
            Some(file) => Target::Sqlite(Some(open(file)?)),
            None => Target::Pool(self.clone()),
        };
        Ok(AuditWriter {
            target,
            written: WrittenCertificates::default(),
        })
    }

    /// Appends events in one transaction: all of them or, on error, none.
    pub async fn append_audit_events(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.audit_writer()?.append(&mut events.to_vec()).await
    }
}

fn open(file: &Path) -> Result<rusqlite::Connection, StoreError> {
    let connection = rusqlite::Connection::open(file)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    Ok(connection)
}

impl AuditWriter {
    /// Appends `events` in one transaction: all of them or, on error, none. `events` is given
    /// back as it was.
    pub async fn append(&mut self, events: &mut Vec<AuditEvent>) -> Result<(), StoreError> {
        let mut due = self.written.due(events);
        match &mut self.target {
            Target::Pool(store) => append_through_pool(store, events, &due).await?,
            Target::Sqlite(slot) => {
                let mut connection = slot
                    .take()
                    .ok_or_else(|| StoreError::Unavailable("the audit writer lost its connection".into()))?;
                let batch = std::mem::take(events);
                let (connection, batch, certificates, result) = tokio::task::spawn_blocking(move || {
                    let result = append_to_sqlite(&mut connection, &batch, &due);
                    (connection, batch, due, result)
                })
                .await
                .map_err(|e| StoreError::Unavailable(format!("the audit writer's thread: {e}")))?;
                *slot = Some(connection);
                *events = batch;
                due = certificates;
                result?;
            }
        }
        self.written.stored(due);
        Ok(())
    }
}

fn append_to_sqlite(
    connection: &mut rusqlite::Connection,
    events: &[AuditEvent],
    due: &[(Arc<AuditedCertificate>, i64)],
) -> rusqlite::Result<()> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut certificate = tx.prepare_cached(UPSERT_CERTIFICATE)?;
        for (c, seen_at) in due {
            certificate.execute(params![
                c.thumbprint,
                c.subject,
                c.issuer,
                c.serial,
                c.not_after,
                seen_at
            ])?;
        }
        let mut insert = tx.prepare_cached(INSERT_EVENT)?;
        let mut index = ClientIndex::default();
        for e in events {
            insert.execute(params![
                e.at,
                e.kind.as_str(),
                e.outcome.as_str(),
                e.failed_check,
                e.endpoint,
                e.client_id,
                e.certificate.as_deref().map(|c| c.thumbprint.as_str()),
                e.certificate_source.map(|s| s.as_str()),
                e.peer,
                e.listener,
                e.actor,
                e.grant_type,
                e.status,
                e.detail.as_ref().map(|d| d.to_string()),
            ])?;
            index.add(e.client_id.as_deref(), e.kind, e.outcome, tx.last_insert_rowid());
        }
        let mut span = tx.prepare_cached(&format!("{INSERT_SPAN}(?1, ?2, ?3)"))?;
        for (client_id, first, last) in index.spans() {
            span.execute(params![client_id, last, first])?;
        }
        let mut latest = tx.prepare_cached(&format!("{INSERT_LATEST}(?1, ?2, ?3){LATEST_IF_LATER}"))?;
        for (client_id, outcome, seq) in index.latest() {
            latest.execute(params![client_id, outcome.as_str(), seq])?;
        }
    }
    tx.commit()
}

async fn append_through_pool(
    store: &Store,
    events: &[AuditEvent],
    due: &[(Arc<AuditedCertificate>, i64)],
) -> Result<(), StoreError> {
    let backend = store.backend();
    let mut tx = store.begin().await?;
    if backend == Backend::Postgres {
        sqlx::query(POSTGRES_LOCK).execute(&mut *tx).await?;
    }
    for chunk in due.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "{}{}{}",
            insert_certificate!(),
            placeholders(backend, chunk.len(), 6),
            certificate_seen_again!()
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
    let mut written = Vec::with_capacity(events.len());
    for chunk in events.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "{}{} RETURNING seq, client_id, kind, outcome",
            insert_event!(),
            placeholders(backend, chunk.len(), EVENT_COLUMNS)
        );
        let mut query = sqlx::query(&sql);
        for e in chunk {
            query = query
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
                .bind(e.grant_type.as_deref())
                .bind(e.status.map(i64::from))
                .bind(e.detail.as_ref().map(|d| d.to_string()));
        }
        for row in query.fetch_all(&mut *tx).await? {
            let corrupt = |e: String| StoreError::Corrupt(format!("audit event written: {e}"));
            written.push((
                row.try_get::<i64, _>("seq")?,
                row.try_get::<Option<String>, _>("client_id")?,
                row.try_get::<String, _>("kind")?
                    .parse::<AuditKind>()
                    .map_err(corrupt)?,
                row.try_get::<String, _>("outcome")?
                    .parse::<AuditOutcome>()
                    .map_err(corrupt)?,
            ));
        }
    }
    let mut index = ClientIndex::default();
    for (seq, client_id, kind, outcome) in &written {
        index.add(client_id.as_deref(), *kind, *outcome, *seq);
    }
    for chunk in index.spans().chunks(ROWS_PER_STATEMENT) {
        let sql = format!("{INSERT_SPAN}{}", placeholders(backend, chunk.len(), 3));
        let mut query = sqlx::query(&sql);
        for (client_id, first, last) in chunk {
            query = query.bind(*client_id).bind(*last).bind(*first);
        }
        query.execute(&mut *tx).await?;
    }
    for chunk in index.latest().chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "{INSERT_LATEST}{}{LATEST_IF_LATER}",
            placeholders(backend, chunk.len(), 3)
        );
        let mut query = sqlx::query(&sql);
        for (client_id, outcome, seq) in chunk {
            query = query.bind(*client_id).bind(outcome.as_str()).bind(*seq);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The certificates one writer has stored, and when: each is written once, then refreshed
/// hourly, rather than with every event.
#[derive(Debug, Default)]
struct WrittenCertificates(HashMap<String, Instant>);

impl WrittenCertificates {
    /// The certificates `events` name that are not stored or are due a refresh, each with the
    /// time of the latest event naming it.
    fn due(&self, events: &[AuditEvent]) -> Vec<(Arc<AuditedCertificate>, i64)> {
        let mut due: HashMap<&str, (&Arc<AuditedCertificate>, i64)> = HashMap::new();
        for e in events {
            let Some(cert) = &e.certificate else {
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
        due.into_values().map(|(c, at)| (c.clone(), at)).collect()
    }

    fn stored(&mut self, certificates: Vec<(Arc<AuditedCertificate>, i64)>) {
        let now = Instant::now();
        for (c, _) in certificates {
            self.0.insert(c.thumbprint.clone(), now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_insert_has_a_parameter_per_column() {
        assert_eq!(INSERT_EVENT.matches('?').count(), EVENT_COLUMNS);
        assert_eq!(
            placeholders(Backend::Postgres, 1, EVENT_COLUMNS).matches('$').count(),
            EVENT_COLUMNS
        );
    }
}
