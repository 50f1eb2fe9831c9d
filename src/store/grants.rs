//! Grants, each with its authorization code and, once redeemed, its refresh token; codes and
//! refresh tokens are stored as SHA-256 hashes. Redeeming a code is one UPDATE of one row that
//! also counts how often the code was presented, so a second presentation is seen as one even
//! when two processes race.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{bump_revision, consents, int, interactions, opt_text, text, Store, StoreError};
use crate::domain::{CustomerStatus, Grant, Jkt};

/// A grant's authorization code (RFC 6749 §4.1.2: bound to the client and the grant, which the
/// grant holds, and to the redirect URI and the PKCE challenge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    pub code_hash: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub expires_at: i64,
}

/// A code as presented: its grant, itself, and how many times it has now been presented (1 the
/// first time, when the grant was marked redeemed with the refresh token's hash if it was live).
#[derive(Debug)]
pub struct Presented {
    pub grant: Grant,
    pub code: CodeRow,
    pub presentations: i64,
}

const GRANT_COLUMNS: &str = "id, customer_id, client_id, scopes, accounts, audience, auth_time, created_at, \
    expires_at, redeemed_at, revoked_at, dpop_jkt, authorization_details";

/// How an approval ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Approval {
    /// The grant and its code are written (and the consent, if any, authorised).
    Approved,
    /// The interaction had already ended: nothing written.
    AlreadyFinished,
    /// The consent could no longer be authorised (authorised elsewhere, revoked, expired):
    /// nothing written.
    ConsentUnavailable,
}
const CODE_COLUMNS: &str = "code_hash, redirect_uri, code_challenge, nonce, code_expires_at, code_presentations";

impl Store {
    /// Completes an interaction with the customer's approval: the grant and its code are written
    /// together, and only if the interaction was still open (a form posted twice grants once) and
    /// the consent it authorises, if any, still awaits authorisation (a consent is authorised
    /// once).
    pub async fn approve_interaction(
        &self,
        interaction_id: &str,
        now: i64,
        grant: &Grant,
        code: &CodeRow,
        consent_id: Option<&str>,
    ) -> Result<Approval, StoreError> {
        let mut tx = self.begin().await?;
        if !interactions::complete(&mut tx, interaction_id, now).await? {
            return Ok(Approval::AlreadyFinished);
        }
        if let Some(consent_id) = consent_id {
            if !consents::authorise(&mut tx, consent_id, grant, now).await? {
                return Ok(Approval::ConsentUnavailable);
            }
        }
        let sql = format!(
            "INSERT INTO grants ({GRANT_COLUMNS}, {CODE_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 0)"
        );
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
            .bind(grant.dpop_jkt.map(|k| k.to_base64url()))
            .bind(serde_json::Value::from(grant.details.clone()).to_string())
            .bind(&code.code_hash)
            .bind(&code.redirect_uri)
            .bind(&code.code_challenge)
            .bind(&code.nonce)
            .bind(code.expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Approval::Approved)
    }

    /// Completes an interaction with the customer's refusal, rejecting the consent it was for,
    /// if any. False if the interaction had already ended.
    pub async fn deny_interaction(
        &self,
        interaction_id: &str,
        now: i64,
        consent: Option<(&str, &str)>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        if !interactions::complete(&mut tx, interaction_id, now).await? {
            return Ok(false);
        }
        if let Some((consent_id, client_id)) = consent {
            consents::reject(&mut tx, consent_id, client_id, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Counts a presentation of the code and, if it is the first and the grant is not revoked,
    /// marks the grant redeemed with `refresh_token_hash` (and, unless PAR bound one, the DPoP key
    /// of the redeeming request), in one statement. The caller checks the rest (expiry, client,
    /// redirect URI, PKCE, DPoP key) and issues nothing if they fail, so a code presented wrongly
    /// is used up all the same.
    pub async fn present_code(
        &self,
        code_hash: &str,
        refresh_token_hash: Option<&str>,
        dpop_jkt: Option<&Jkt>,
        now: i64,
    ) -> Result<Option<Presented>, StoreError> {
        let sql = format!(
            "UPDATE grants SET code_presentations = code_presentations + 1, \
             redeemed_at = CASE WHEN code_presentations = 0 AND revoked_at IS NULL THEN $1 ELSE redeemed_at END, \
             refresh_token_hash = CASE WHEN code_presentations = 0 AND revoked_at IS NULL THEN $2 \
             ELSE refresh_token_hash END, \
             dpop_jkt = CASE WHEN code_presentations = 0 AND dpop_jkt IS NULL THEN $3 ELSE dpop_jkt END \
             WHERE code_hash = $4 RETURNING {GRANT_COLUMNS}, {CODE_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(now)
            .bind(refresh_token_hash)
            .bind(dpop_jkt.map(|k| k.to_base64url()))
            .bind(code_hash)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Presented {
            grant: grant_from_row(&row)?,
            code: CodeRow {
                code_hash: text(&row, "code_hash")?,
                redirect_uri: text(&row, "redirect_uri")?,
                code_challenge: text(&row, "code_challenge")?,
                nonce: opt_text(&row, "nonce")?,
                expires_at: int(&row, "code_expires_at")?,
            },
            presentations: int(&row, "code_presentations")?,
        }))
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
        let mut tx = self.begin().await?;
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

    /// Deletes grants that can no longer matter at `now`: expired ones, and ones whose code was
    /// never redeemed, a day after the code expired.
    pub async fn purge_dead_grants(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM grants WHERE expires_at < $1 OR (redeemed_at IS NULL AND code_expires_at < $1 - 86400)",
        )
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
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
        details: serde_json::from_str(&text(row, "authorization_details")?)
            .map_err(|e| StoreError::Corrupt(format!("grants.authorization_details: {e}")))?,
        dpop_jkt: opt_text(row, "dpop_jkt")?
            .map(|k| Jkt::from_base64url(&k).ok_or_else(|| StoreError::Corrupt(format!("grants.dpop_jkt: {k:?}"))))
            .transpose()?,
    })
}
