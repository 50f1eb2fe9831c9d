//! Revoked access tokens (RFC 7009), by `jti`, kept until the token's own expiry.

use sqlx::Row;

use super::{bump_revision, Store, StoreError};

impl Store {
    pub async fn revoke_token(&self, jti: &str, client_id: &str, expires_at: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO revoked_tokens (jti, client_id, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(client_id)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        bump_revision(&mut tx, "revocations").await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM revoked_tokens WHERE jti = $1")
            .bind(jti)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// `(jti, expires_at)` of every revoked token that has not expired yet.
    pub async fn live_revocations(&self, now: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at >= $1")
            .bind(now)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>("jti")?, r.try_get::<i64, _>("expires_at")?)))
            .collect()
    }

    /// Forgets revocations of tokens that have expired on their own.
    pub async fn purge_expired_revocations(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
