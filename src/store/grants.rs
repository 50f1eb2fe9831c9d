//! Grants, their authorization codes and refresh tokens. Codes and refresh tokens are stored as
//! SHA-256 hashes; a code is redeemed by one atomic UPDATE that also counts how often it was
//! presented, so a second redemption is seen even when two processes race.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{bump_revision, int, opt_text, text, Store, StoreError};
use crate::domain::{CustomerStatus, Grant};

/// An authorization code as stored (RFC 6749 §4.1.2: bound to the client, the redirect URI, the
/// PKCE challenge and the grant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    pub code_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub expires_at: i64,
}

/// What came of presenting a code.
#[derive(Debug)]
pub enum Redemption<E> {
    /// No such code.
    Unknown,
    /// Presented before: it leaked.
    Replayed(CodeRow),
    /// The caller's check refused it.
    Refused(E),
    /// Its grant was revoked or expired, or already redeemed.
    GrantGone,
    Redeemed(CodeRow, Grant),
}

const GRANT_COLUMNS: &str = "id, customer_id, client_id, scopes, accounts, audience, auth_time, created_at, \
    expires_at, redeemed_at, revoked_at";

impl Store {
    /// Completes an interaction with the customer's approval: the grant and its code are written
    /// together, and only if the interaction was still open (a form posted twice grants once).
    pub async fn approve_interaction(
        &self,
        interaction_id: &str,
        now: i64,
        grant: &Grant,
        code: &CodeRow,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query("UPDATE interactions SET completed_at = $1 WHERE id = $2 AND completed_at IS NULL")
            .bind(now)
            .bind(interaction_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let sql = format!("INSERT INTO grants ({GRANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
        sqlx::query(&sql)
            .bind(&grant.id)
            .bind(&grant.customer_id)
            .bind(&grant.client_id)
            .bind(grant.scopes.join(" "))
            .bind(json(&grant.accounts))
            .bind(json(&grant.audience))
            .bind(grant.auth_time)
            .bind(grant.created_at)
            .bind(grant.expires_at)
            .bind(grant.redeemed_at)
            .bind(grant.revoked_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO authorization_codes \
             (code_hash, grant_id, client_id, redirect_uri, code_challenge, nonce, expires_at, redemptions) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0)",
        )
        .bind(&code.code_hash)
        .bind(&code.grant_id)
        .bind(&code.client_id)
        .bind(&code.redirect_uri)
        .bind(&code.code_challenge)
        .bind(&code.nonce)
        .bind(code.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Redeems a code in one transaction: counts the presentation, runs `check` on a first
    /// presentation, and marks the grant redeemed with its refresh token's hash (if the grant is
    /// still live and not redeemed before). A concurrent presentation of the same code waits for
    /// this transaction, so exactly one can be first. A code presented again, or refused by
    /// `check`, is used up all the same.
    pub async fn redeem_code<E>(
        &self,
        code_hash: &str,
        refresh_token_hash: Option<&str>,
        now: i64,
        check: impl FnOnce(&CodeRow) -> Result<(), E>,
    ) -> Result<Redemption<E>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "UPDATE authorization_codes SET redemptions = redemptions + 1 WHERE code_hash = $1 \
             RETURNING code_hash, grant_id, client_id, redirect_uri, code_challenge, nonce, expires_at, redemptions",
        )
        .bind(code_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Redemption::Unknown);
        };
        let code = CodeRow {
            code_hash: text(&row, "code_hash")?,
            grant_id: text(&row, "grant_id")?,
            client_id: text(&row, "client_id")?,
            redirect_uri: text(&row, "redirect_uri")?,
            code_challenge: text(&row, "code_challenge")?,
            nonce: opt_text(&row, "nonce")?,
            expires_at: int(&row, "expires_at")?,
        };
        if int(&row, "redemptions")? > 1 {
            tx.commit().await?;
            return Ok(Redemption::Replayed(code));
        }
        if let Err(e) = check(&code) {
            tx.commit().await?;
            return Ok(Redemption::Refused(e));
        }
        let sql = format!(
            "UPDATE grants SET redeemed_at = $1, refresh_token_hash = $2 \
             WHERE id = $3 AND revoked_at IS NULL AND redeemed_at IS NULL AND expires_at > $1 \
             RETURNING {GRANT_COLUMNS}"
        );
        let grant = sqlx::query(&sql)
            .bind(now)
            .bind(refresh_token_hash)
            .bind(&code.grant_id)
            .fetch_optional(&mut *tx)
            .await?;
        let grant = grant.as_ref().map(grant_from_row).transpose()?;
        tx.commit().await?;
        Ok(match grant {
            Some(grant) => Redemption::Redeemed(code, grant),
            None => Redemption::GrantGone,
        })
    }

    /// The grant a refresh token belongs to, with its customer's status.
    pub async fn grant_by_refresh_token(&self, hash: &str) -> Result<Option<(Grant, CustomerStatus)>, StoreError> {
        let columns: Vec<String> = GRANT_COLUMNS.split(", ").map(|c| format!("g.{c}")).collect();
        let sql = format!(
            "SELECT {}, c.status AS customer_status FROM grants g JOIN customers c ON c.id = g.customer_id \
             WHERE g.refresh_token_hash = $1",
            columns.join(", ")
        );
        let row = sqlx::query(&sql).bind(hash).fetch_optional(self.pool()).await?;
        let Some(row) = row else { return Ok(None) };
        let status = text(&row, "customer_status")?
            .parse()
            .map_err(|e: String| StoreError::Corrupt(format!("customers.status: {e}")))?;
        Ok(Some((grant_from_row(&row)?, status)))
    }

    pub async fn grant(&self, id: &str) -> Result<Option<Grant>, StoreError> {
        let sql = format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    /// Grants, newest first, optionally of one customer and/or one client.
    pub async fn list_grants(
        &self,
        customer_id: Option<&str>,
        client_id: Option<&str>,
    ) -> Result<Vec<Grant>, StoreError> {
        let sql = format!(
            "SELECT {GRANT_COLUMNS} FROM grants \
             WHERE ($1 IS NULL OR customer_id = $1) AND ($2 IS NULL OR client_id = $2) \
             ORDER BY created_at DESC, id"
        );
        let rows = sqlx::query(&sql)
            .bind(customer_id)
            .bind(client_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(grant_from_row).collect()
    }

    /// Revokes a grant: its refresh token stops working and its access tokens join the
    /// revocation list resource servers poll. False if it was unknown or already revoked.
    pub async fn revoke_grant(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        bump_revision(&mut tx, "revocations").await?;
        tx.commit().await?;
        Ok(true)
    }

    /// `(grant id, revoked_at)` of grants revoked at or after `since`: those whose access tokens
    /// may still be live.
    pub async fn recent_grant_revocations(&self, since: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT id, revoked_at FROM grants WHERE revoked_at >= $1")
            .bind(since)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>("id")?, r.try_get::<i64, _>("revoked_at")?)))
            .collect()
    }
}

fn json(list: &[String]) -> String {
    serde_json::to_string(list).expect("a list of strings")
}

fn grant_from_row(row: &AnyRow) -> Result<Grant, StoreError> {
    let list = |column: &str| -> Result<Vec<String>, StoreError> {
        serde_json::from_str(&text(row, column)?).map_err(|e| StoreError::Corrupt(format!("grants.{column}: {e}")))
    };
    Ok(Grant {
        id: text(row, "id")?,
        customer_id: text(row, "customer_id")?,
        client_id: text(row, "client_id")?,
        scopes: text(row, "scopes")?.split_whitespace().map(String::from).collect(),
        accounts: list("accounts")?,
        audience: list("audience")?,
        auth_time: int(row, "auth_time")?,
        created_at: int(row, "created_at")?,
        expires_at: int(row, "expires_at")?,
        redeemed_at: row.try_get::<Option<i64>, _>("redeemed_at")?,
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?,
    })
}
