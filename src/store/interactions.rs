//! A customer's interaction with the authorization endpoint: from the pushed request it came
//! from to the redirect back to the client.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{int, opt_text, text, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InteractionRow {
    pub id: String,
    /// SHA-256 of the session cookie of the browser it belongs to.
    pub session_hash: String,
    pub csrf_token: String,
    pub client_id: String,
    /// The validated authorization request, as the AS serialised it.
    pub request: String,
    /// Who signed in, once someone has.
    pub customer_id: Option<String>,
    pub auth_time: Option<i64>,
    pub expires_at: i64,
    pub completed_at: Option<i64>,
}

const COLUMNS: &str =
    "id, session_hash, csrf_token, client_id, request, customer_id, auth_time, expires_at, completed_at";

impl Store {
    pub async fn insert_interaction(&self, i: &InteractionRow) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO interactions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        sqlx::query(&sql)
            .bind(&i.id)
            .bind(&i.session_hash)
            .bind(&i.csrf_token)
            .bind(&i.client_id)
            .bind(&i.request)
            .bind(&i.customer_id)
            .bind(i.auth_time)
            .bind(i.expires_at)
            .bind(i.completed_at)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn interaction(&self, id: &str) -> Result<Option<InteractionRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM interactions WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(interaction_from_row).transpose()
    }

    /// Records who signed in, moving the interaction to the new session cookie issued at sign-in;
    /// false if it was completed meanwhile.
    pub async fn sign_in_interaction(
        &self,
        id: &str,
        session_hash: &str,
        customer_id: &str,
        auth_time: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE interactions SET session_hash = $1, customer_id = $2, auth_time = $3 \
             WHERE id = $4 AND completed_at IS NULL",
        )
        .bind(session_hash)
        .bind(customer_id)
        .bind(auth_time)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Ends an open interaction inside the caller's transaction; false if it had already ended, so of
/// two posts of one form only one goes on.
pub(super) async fn complete(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE interactions SET completed_at = $1 WHERE id = $2 AND completed_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

fn interaction_from_row(row: &AnyRow) -> Result<InteractionRow, StoreError> {
    Ok(InteractionRow {
        id: text(row, "id")?,
        session_hash: text(row, "session_hash")?,
        csrf_token: text(row, "csrf_token")?,
        client_id: text(row, "client_id")?,
        request: text(row, "request")?,
        customer_id: opt_text(row, "customer_id")?,
        auth_time: row.try_get::<Option<i64>, _>("auth_time")?,
        expires_at: int(row, "expires_at")?,
        completed_at: row.try_get::<Option<i64>, _>("completed_at")?,
    })
}
