//! API key rows. The secret part of a key never reaches the database; only its hash does.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{bump_revision, int, text, Store, StoreError};
use crate::pki::Thumbprint;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    /// The public lookup prefix.
    pub id: String,
    pub client_id: String,
    /// base64url SHA-256 of the secret part.
    pub secret_hash: String,
    /// base64url `x5t#S256` values; empty means any certificate the client authenticates with.
    pub cert_thumbprints: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl ApiKeyRow {
    /// `revoked`, `expired`, `expiring` (rotated, still in its overlap) or `active` at `now`.
    pub fn state(&self, now: i64) -> &'static str {
        match (self.revoked_at, self.expires_at) {
            (Some(_), _) => "revoked",
            (None, Some(at)) if at <= now => "expired",
            (None, Some(_)) => "expiring",
            (None, None) => "active",
        }
    }
}

const COLUMNS: &str = "id, client_id, secret_hash, cert_thumbprints, created_at, expires_at, revoked_at, last_used_at";

impl Store {
    /// Adds a key; with `expire_others_at`, the client's other live keys expire then (rotation
    /// with overlap).
    pub async fn insert_api_key(&self, key: &ApiKeyRow, expire_others_at: Option<i64>) -> Result<(), StoreError> {
        if let Some(bad) = key
            .cert_thumbprints
            .iter()
            .find(|t| Thumbprint::from_base64url(t).is_none())
        {
            return Err(StoreError::Invalid(format!(
                "certificate thumbprint {bad:?} is not a base64url SHA-256"
            )));
        }
        let mut tx = self.begin().await?;
        if let Some(at) = expire_others_at {
            sqlx::query(
                "UPDATE api_keys SET expires_at = $1 WHERE client_id = $2 AND revoked_at IS NULL \
                 AND (expires_at IS NULL OR expires_at > $1)",
            )
            .bind(at)
            .bind(&key.client_id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(&format!(
            "INSERT INTO api_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&key.id)
        .bind(&key.client_id)
        .bind(&key.secret_hash)
        .bind(serde_json::to_string(&key.cert_thumbprints).expect("strings"))
        .bind(key.created_at)
        .bind(key.expires_at)
        .bind(key.revoked_at)
        .bind(key.last_used_at)
        .execute(&mut *tx)
        .await?;
        bump_revision(&mut tx, "api_keys").await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every key, or one client's, oldest first.
    pub async fn list_api_keys(&self, client_id: Option<&str>) -> Result<Vec<ApiKeyRow>, StoreError> {
        let rows = match client_id {
            Some(id) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM api_keys WHERE client_id = $1 ORDER BY created_at, id"
                ))
                .bind(id)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(&format!("SELECT {COLUMNS} FROM api_keys ORDER BY created_at, id"))
                    .fetch_all(self.pool())
                    .await?
            }
        };
        rows.iter().map(api_key_from_row).collect()
    }

    pub async fn get_api_key(&self, id: &str) -> Result<Option<ApiKeyRow>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(api_key_from_row).transpose()
    }

    pub async fn revoke_api_key(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(crate::now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("live API key {id}")));
        }
        bump_revision(&mut tx, "api_keys").await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records last-use times gathered in memory. Not a revision change: caches need not reload.
    pub async fn record_api_key_use(&self, uses: &[(String, i64)]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for (id, at) in uses {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(*at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn api_key_from_row(row: &AnyRow) -> Result<ApiKeyRow, StoreError> {
    let thumbprints = text(row, "cert_thumbprints")?;
    Ok(ApiKeyRow {
        id: text(row, "id")?,
        client_id: text(row, "client_id")?,
        secret_hash: text(row, "secret_hash")?,
        cert_thumbprints: serde_json::from_str(&thumbprints)
            .map_err(|e| StoreError::Corrupt(format!("cert_thumbprints: {e}")))?,
        created_at: int(row, "created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}
