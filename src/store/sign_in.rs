//! What sign-in throttling needs: recent failures by username and by address, and the browsers
//! customers have signed in from.

use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    /// Records one failed sign-in under each subject (`username:…`, `address:…`).
    pub async fn record_login_failure(&self, subjects: &[String], at: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for subject in subjects {
            sqlx::query("INSERT INTO login_failures (subject, at) VALUES ($1, $2)")
                .bind(subject)
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Failures recorded under `subject` at or after `since`.
    pub async fn login_failures_since(&self, subject: &str, since: i64) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM login_failures WHERE subject = $1 AND at >= $2")
            .bind(subject)
            .bind(since)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    pub async fn remember_device(&self, device_hash: &str, customer_id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO known_devices (device_hash, customer_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (device_hash, customer_id) DO NOTHING",
        )
        .bind(device_hash)
        .bind(customer_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Whether the browser with this device cookie has signed in as this customer before.
    pub async fn is_known_device(&self, device_hash: &str, customer_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM known_devices WHERE device_hash = $1 AND customer_id = $2")
            .bind(device_hash)
            .bind(customer_id)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }
}
