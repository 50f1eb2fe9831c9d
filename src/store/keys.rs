//! Signing-key rows. Private keys arrive already sealed by the key-encryption key.

use sqlx::Row;

use super::{bump_revision, int, text, Store, StoreError};

#[derive(Debug, Clone)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub public_jwk: String,
    pub sealed_private_key: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

impl Store {
    /// Adds a key and retires the listed older ones, atomically.
    pub async fn add_signing_key(&self, key: &KeyRow, retire: &[String]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, public_jwk, private_key, created_at, retired_at) \
             VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.public_jwk)
        .bind(&key.sealed_private_key)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await?;
        for kid in retire {
            sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL")
                .bind(key.created_at)
                .bind(kid)
                .execute(&mut *tx)
                .await?;
        }
        bump_revision(&mut tx, "keys").await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every key, newest first.
    pub async fn list_signing_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, alg, public_jwk, private_key, created_at, retired_at FROM signing_keys \
             ORDER BY created_at DESC, kid DESC",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(KeyRow {
                    kid: text(row, "kid")?,
                    alg: text(row, "alg")?,
                    public_jwk: text(row, "public_jwk")?,
                    sealed_private_key: text(row, "private_key")?,
                    created_at: int(row, "created_at")?,
                    retired_at: row.try_get::<Option<i64>, _>("retired_at")?,
                })
            })
            .collect()
    }

    /// Deletes one retired key, telling every node; false if there was none by that id.
    pub async fn delete_retired_signing_key(&self, kid: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM signing_keys WHERE kid = $1 AND retired_at IS NOT NULL")
            .bind(kid)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() > 0 {
            bump_revision(&mut tx, "keys").await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes keys retired before `before`: no live token can carry their `kid` any more.
    pub async fn purge_signing_keys(&self, before: i64) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() > 0 {
            bump_revision(&mut tx, "keys").await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
