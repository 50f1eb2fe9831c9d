//! RFC 9126 pushed authorization requests. The request is stored as the AS validated it, under
//! a hash of its `request_uri`; taking it is one atomic UPDATE, so it is used once, by the client
//! that pushed it, before it expires, whichever process serves the browser.

use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    pub async fn insert_pushed_request(
        &self,
        id_hash: &str,
        client_id: &str,
        request: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO pushed_requests (id_hash, client_id, request, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(id_hash)
            .bind(client_id)
            .bind(request)
            .bind(expires_at)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The pushed request, if `client_id` pushed it, it has not expired at `now` and nobody took
    /// it before; taking it marks it used.
    pub async fn take_pushed_request(
        &self,
        id_hash: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "UPDATE pushed_requests SET used_at = $1 \
             WHERE id_hash = $2 AND client_id = $3 AND used_at IS NULL AND expires_at >= $1 \
             RETURNING request",
        )
        .bind(now)
        .bind(id_hash)
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get::<String, _>("request")).transpose()?)
    }

    /// Deletes what the code flow no longer needs: expired pushed requests and interactions,
    /// dead grants, and sign-in failures older than `failures_before`.
    pub async fn purge_flow_state(&self, now: i64, failures_before: i64) -> Result<(), StoreError> {
        for sql in [
            "DELETE FROM pushed_requests WHERE expires_at < $1",
            "DELETE FROM interactions WHERE expires_at < $1",
        ] {
            sqlx::query(sql).bind(now).execute(self.pool()).await?;
        }
        self.purge_dead_grants(now).await?;
        sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(failures_before)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
