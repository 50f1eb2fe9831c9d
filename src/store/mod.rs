//! Persistence through sqlx: SQLite (the embedded default) or PostgreSQL, chosen by the
//! database URL, with the same portable migrations for both.

pub mod admin_sessions;
pub mod administrators;
pub mod api_keys;
pub mod audit;
pub mod clients;
pub mod consents;
pub mod customers;
pub mod grants;
pub mod interactions;
pub mod keys;
pub mod pushed_requests;
pub mod revocations;
pub mod seen_jtis;
pub mod sign_in;

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor, Row};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// From the audit writer's own SQLite connection.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL (use sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Unavailable(String),
    /// A write refused because what it would store could not be read back as meant.
    #[error("refused: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Migrations both databases share, in `migrations/`.
static SHARED: Migrator = sqlx::migrate!("./migrations");
/// Where the two must differ (the audit table's key), each has its own file under the same
/// version number.
static SQLITE_ONLY: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_ONLY: Migrator = sqlx::migrate!("./migrations/postgres");

/// The shared migrations and `backend`'s own, in version order.
fn migrator(backend: Backend) -> Migrator {
    let own = match backend {
        Backend::Sqlite => &SQLITE_ONLY,
        Backend::Postgres => &POSTGRES_ONLY,
    };
    let mut migrations: Vec<_> = SHARED.iter().chain(own.iter()).cloned().collect();
    migrations.sort_by_key(|m| m.version);
    Migrator {
        migrations: migrations.into(),
        ..Migrator::DEFAULT
    }
}

/// A connection pool plus the repositories' queries.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The database file, on SQLite unless in memory: the audit writer opens its own connection.
    sqlite_file: Option<std::path::PathBuf>,
}

impl Store {
    /// Connects and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        if backend == Backend::Sqlite {
            create_sqlite_parent_dir(url);
        }
        let options = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets the CLI write while a server reads; busy_timeout waits out
                        // the other writer instead of failing.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            });
        let pool = options.connect(url).await?;
        migrator(backend).run(&pool).await?;
        Ok(Self {
            pool,
            backend,
            sqlite_file: (backend == Backend::Sqlite).then(|| sqlite_file(url)).flatten(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A transaction. On SQLite it takes the write lock as it begins (`BEGIN IMMEDIATE`): a
    /// deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
    /// another connection committed in between, which the busy timeout does not cover; taking
    /// the lock first makes it wait its turn instead. Readers are not blocked (WAL).
    pub(crate) async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Readiness: the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Change counters for clients and keys, polled by every node to refresh its caches.
    pub async fn revisions(&self) -> Result<Revisions, StoreError> {
        let rows = sqlx::query("SELECT name, value FROM revisions")
            .fetch_all(&self.pool)
            .await?;
        let mut revisions = Revisions::default();
        for row in rows {
            let name: String = row.try_get("name")?;
            let value: i64 = row.try_get("value")?;
            match name.as_str() {
                "clients" => revisions.clients = value,
                "keys" => revisions.keys = value,
                "api_keys" => revisions.api_keys = value,
                "revocations" => revisions.revocations = value,
                "customers" => revisions.customers = value,
                _ => {}
            }
        }
        Ok(revisions)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Revisions {
    pub clients: i64,
    pub keys: i64,
    pub api_keys: i64,
    pub revocations: i64,
    pub customers: i64,
}

/// Bumps a change counter inside the writer's transaction.
async fn bump_revision(tx: &mut sqlx::Transaction<'_, sqlx::Any>, name: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE revisions SET value = value + 1 WHERE name = $1")
        .bind(name)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Ids the store answered "no such row" for, so a peer repeating made-up ids cannot turn every
/// request into a database read. Bounded: the oldest are forgotten first when full (never all at
/// once, which would let a flood of fresh ids reopen every old one), each is forgotten after
/// `TTL`, and all by the owner when the rows they stand for change.
#[derive(Debug, Default)]
pub struct UnknownIds(std::sync::RwLock<UnknownInner>);

#[derive(Debug, Default)]
struct UnknownInner {
    seen: std::collections::HashMap<std::sync::Arc<str>, std::time::Instant>,
    order: std::collections::VecDeque<std::sync::Arc<str>>,
}

impl UnknownIds {
    const MAX: usize = 10_000;
    const TTL: std::time::Duration = std::time::Duration::from_secs(600);

    pub fn contains(&self, id: &str) -> bool {
        let inner = self.0.read().unwrap_or_else(|e| e.into_inner());
        inner.seen.get(id).is_some_and(|at| at.elapsed() < Self::TTL)
    }

    pub fn remember(&self, id: &str) {
        let mut inner = self.0.write().unwrap_or_else(|e| e.into_inner());
        let id: std::sync::Arc<str> = id.into();
        if inner.seen.insert(id.clone(), std::time::Instant::now()).is_some() {
            return;
        }
        inner.order.push_back(id);
        while inner.order.len() > Self::MAX {
            if let Some(oldest) = inner.order.pop_front() {
                inner.seen.remove(&oldest);
            }
        }
    }

    pub fn clear(&self) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = UnknownInner::default();
    }

    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(|e| e.into_inner()).seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn create_sqlite_parent_dir(url: &str) {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            let _ = std::fs::create_dir_all(parent);
        }
    }
}

/// The file a SQLite URL names, as sqlx reads it; `None` for PostgreSQL and in-memory databases.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    use std::str::FromStr;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    let file = options.get_filename();
    let in_memory = url.contains(":memory:") || url.contains("mode=memory") || file.starts_with("file:");
    (!in_memory).then(|| file.to_path_buf())
}

fn text(row: &AnyRow, column: &str) -> Result<String, StoreError> {
    Ok(row.try_get::<String, _>(column)?)
}

fn opt_text(row: &AnyRow, column: &str) -> Result<Option<String>, StoreError> {
    Ok(row.try_get::<Option<String>, _>(column)?)
}

fn int(row: &AnyRow, column: &str) -> Result<i64, StoreError> {
    Ok(row.try_get::<i64, _>(column)?)
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[cfg(test)]
mod unknown_ids_tests {
    use super::UnknownIds;

    #[test]
    fn the_oldest_go_first_and_the_rest_stay() {
        let ids = UnknownIds::default();
        for i in 0..(UnknownIds::MAX + 100) {
            ids.remember(&format!("made-up-{i}"));
        }
        assert_eq!(ids.len(), UnknownIds::MAX);
        assert!(!ids.contains("made-up-0") && !ids.contains("made-up-99"));
        assert!(ids.contains("made-up-100") && ids.contains(&format!("made-up-{}", UnknownIds::MAX + 99)));
        ids.remember("made-up-100");
        assert_eq!(ids.len(), UnknownIds::MAX, "remembering twice takes one place");
        ids.clear();
        assert!(ids.is_empty());
    }
}
