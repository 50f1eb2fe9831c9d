//! Open Banking account-access consents. Every change of status is one conditional UPDATE, so a
//! consent is authorised at most once and a revoked one stays revoked, whichever process or
//! browser tab gets there first. Authorising happens inside the approval of the interaction
//! ([`Store::approve_interaction`]); revoking also revokes the grant it was authorised under.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{bump_revision, int, opt_text, text, Store, StoreError};
use crate::domain::{Consent, ConsentStatus, Permission};

const COLUMNS: &str = "id, client_id, permissions, expires_at, transaction_from, transaction_to, status, \
    created_at, status_updated_at, customer_id, accounts, grant_id";

/// What revoking a consent found.
#[derive(Debug, PartialEq, Eq)]
pub enum Revoked {
    /// No consent of this client by that id.
    NotFound,
    /// Revoked now, or it had already ended (rejected, revoked): nothing left to do.
    Done,
}

impl Store {
    pub async fn insert_consent(&self, c: &Consent) -> Result<(), StoreError> {
        let sql =
            format!("INSERT INTO consents ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)");
        sqlx::query(&sql)
            .bind(&c.id)
            .bind(&c.client_id)
            .bind(json(&c.permissions))
            .bind(c.expires_at)
            .bind(c.transaction_from)
            .bind(c.transaction_to)
            .bind(c.status.as_str())
            .bind(c.created_at)
            .bind(c.status_updated_at)
            .bind(&c.customer_id)
            .bind(json(&c.accounts))
            .bind(&c.grant_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn consent(&self, id: &str) -> Result<Option<Consent>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM consents WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(consent_from_row).transpose()
    }

    /// The TPP withdraws its consent (`DELETE`): an awaiting or authorised one becomes revoked,
    /// and the grant it was authorised under is revoked with it, in one transaction, so its
    /// tokens join the revocation list.
    pub async fn revoke_consent(&self, id: &str, client_id: &str, now: i64) -> Result<Revoked, StoreError> {
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT grant_id FROM consents WHERE id = $1 AND client_id = $2")
            .bind(id)
            .bind(client_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(Revoked::NotFound) };
        let grant_id: Option<String> = row.try_get("grant_id")?;
        sqlx::query(
            "UPDATE consents SET status = 'Revoked', status_updated_at = $1 \
             WHERE id = $2 AND status IN ('AwaitingAuthorisation', 'Authorised')",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if let Some(grant_id) = grant_id {
            let done = sqlx::query("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(&grant_id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() > 0 {
                bump_revision(&mut tx, "revocations").await?;
            }
        }
        tx.commit().await?;
        Ok(Revoked::Done)
    }
}

/// Inside an approval's transaction: the consent moves from awaiting to authorised for this
/// customer, accounts and grant, if it is the client's, still awaiting and unexpired. False
/// otherwise (authorised through another interaction, revoked, expired).
pub(super) async fn authorise(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    consent_id: &str,
    grant: &crate::domain::Grant,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE consents SET status = 'Authorised', status_updated_at = $1, customer_id = $2, accounts = $3, \
         grant_id = $4 WHERE id = $5 AND client_id = $6 AND status = 'AwaitingAuthorisation' \
         AND (expires_at IS NULL OR expires_at > $1)",
    )
    .bind(now)
    .bind(&grant.customer_id)
    .bind(json(&grant.accounts))
    .bind(&grant.id)
    .bind(consent_id)
    .bind(&grant.client_id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Inside a denial's transaction: an awaiting consent of the client is rejected.
pub(super) async fn reject(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    consent_id: &str,
    client_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE consents SET status = 'Rejected', status_updated_at = $1 \
         WHERE id = $2 AND client_id = $3 AND status = 'AwaitingAuthorisation'",
    )
    .bind(now)
    .bind(consent_id)
    .bind(client_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("serialising plain data")
}

fn consent_from_row(row: &AnyRow) -> Result<Consent, StoreError> {
    let corrupt = |column: &str, e: String| StoreError::Corrupt(format!("consents.{column}: {e}"));
    let permissions: Vec<Permission> =
        serde_json::from_str(&text(row, "permissions")?).map_err(|e| corrupt("permissions", e.to_string()))?;
    let status = text(row, "status")?;
    Ok(Consent {
        id: text(row, "id")?,
        client_id: text(row, "client_id")?,
        permissions,
        expires_at: row.try_get::<Option<i64>, _>("expires_at")?,
        transaction_from: row.try_get::<Option<i64>, _>("transaction_from")?,
        transaction_to: row.try_get::<Option<i64>, _>("transaction_to")?,
        status: ConsentStatus::parse(&status).ok_or_else(|| corrupt("status", status.clone()))?,
        created_at: int(row, "created_at")?,
        status_updated_at: int(row, "status_updated_at")?,
        customer_id: opt_text(row, "customer_id")?,
        accounts: serde_json::from_str(&text(row, "accounts")?).map_err(|e| corrupt("accounts", e.to_string()))?,
        grant_id: opt_text(row, "grant_id")?,
    })
}
