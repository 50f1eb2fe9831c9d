//! Signed-in administrators' sessions, keyed by the SHA-256 of the browser's cookie.

use sqlx::any::AnyRow;

use super::{int, text, Store, StoreError};

/// A session as stored; timeouts are the console's business.
#[derive(Debug, Clone)]
pub struct AdminSessionRow {
    pub id_hash: String,
    pub username: String,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub reauthenticated_at: i64,
}

const COLUMNS: &str = "id_hash, username, csrf_token, created_at, last_seen_at, reauthenticated_at";

impl Store {
    pub async fn insert_admin_session(&self, s: &AdminSessionRow) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO admin_sessions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)");
        sqlx::query(&sql)
            .bind(&s.id_hash)
            .bind(&s.username)
            .bind(&s.csrf_token)
            .bind(s.created_at)
            .bind(s.last_seen_at)
            .bind(s.reauthenticated_at)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn admin_session(&self, id_hash: &str) -> Result<Option<AdminSessionRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM admin_sessions WHERE id_hash = $1");
        let row = sqlx::query(&sql).bind(id_hash).fetch_optional(self.pool()).await?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// Marks the session used at `now` (the idle timeout counts from here).
    pub async fn touch_admin_session(&self, id_hash: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE admin_sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(now)
            .bind(id_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The administrator typed the password again at `now`.
    pub async fn reauthenticate_admin_session(&self, id_hash: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE admin_sessions SET reauthenticated_at = $1, last_seen_at = $1 WHERE id_hash = $2")
            .bind(now)
            .bind(id_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn delete_admin_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM admin_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Removes sessions created before `created_before` or idle since before `idle_before`.
    pub async fn purge_admin_sessions(&self, created_before: i64, idle_before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM admin_sessions WHERE created_at < $1 OR last_seen_at < $2")
            .bind(created_before)
            .bind(idle_before)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

fn session_from_row(row: &AnyRow) -> Result<AdminSessionRow, StoreError> {
    Ok(AdminSessionRow {
        id_hash: text(row, "id_hash")?,
        username: text(row, "username")?,
        csrf_token: text(row, "csrf_token")?,
        created_at: int(row, "created_at")?,
        last_seen_at: int(row, "last_seen_at")?,
        reauthenticated_at: int(row, "reauthenticated_at")?,
    })
}
