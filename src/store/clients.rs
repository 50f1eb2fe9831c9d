//! The client registry.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{bump_revision, int, is_unique_violation, opt_text, text, Store, StoreError};
use crate::domain::{Client, ClientStatus, GrantType, SubjectMatcher};
use crate::pki::{SpkiPin, Thumbprint};

const COLUMNS: &str = "client_id, name, status, auth_method, grant_types, scopes, redirect_uris, \
    bound_access_tokens, subject_kind, subject_value, jwks, ca_pins, cert_pins, \
    issuer_serial_pins, can_introspect, created_at, updated_at, jwks_uri, \
    require_signed_request_object, dpop_bound_access_tokens, authorization_details_types";

impl Store {
    pub async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
        c.validate_pins().map_err(StoreError::Invalid)?;
        let mut tx = self.begin().await?;
        let params: Vec<String> = (1..=COLUMNS.split(", ").count()).map(|n| format!("${n}")).collect();
        let sql = format!("INSERT INTO clients ({COLUMNS}) VALUES ({})", params.join(", "));
        let result = bind_client(sqlx::query(&sql), c).execute(&mut *tx).await;
        match result {
            Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict(format!("client {}", c.client_id))),
            other => other?,
        };
        bump_revision(&mut tx, "clients").await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces a registration (every field but its id and creation time); a deleted client
    /// cannot be changed. Running nodes reload it within the reload interval.
    pub async fn update_client(&self, c: &Client) -> Result<(), StoreError> {
        c.validate_pins().map_err(StoreError::Invalid)?;
        let mut tx = self.begin().await?;
        let assignments: Vec<String> = COLUMNS
            .split(", ")
            .enumerate()
            .filter(|(_, column)| !matches!(*column, "client_id" | "created_at"))
            .map(|(i, column)| format!("{column} = ${}", i + 1))
            .collect();
        // Every bound parameter must appear (PostgreSQL types them from their use), so the
        // creation time is matched rather than set: it never changes.
        let created_at = COLUMNS.split(", ").position(|c| c == "created_at").expect("a column") + 1;
        let sql = format!(
            "UPDATE clients SET {} WHERE client_id = $1 AND status <> 'deleted' AND created_at = ${created_at}",
            assignments.join(", ")
        );
        let done = bind_client(sqlx::query(&sql), c).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("client {}", c.client_id)));
        }
        bump_revision(&mut tx, "clients").await?;
        // A client disabled by an update reaches resource servers with the revocations.
        bump_revision(&mut tx, "revocations").await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM clients WHERE client_id = $1");
        let row = sqlx::query(&sql).bind(client_id).fetch_optional(self.pool()).await?;
        row.as_ref().map(client_from_row).transpose()
    }

    /// The ids of disabled (and deleted) clients, for resource servers.
    pub async fn disabled_client_ids(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT client_id FROM clients WHERE status <> 'active'")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| text(r, "client_id")).collect()
    }

    pub async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM clients ORDER BY created_at, client_id");
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(client_from_row).collect()
    }

    /// Disables or enables a client; a deleted one stays deleted.
    pub async fn set_client_status(&self, client_id: &str, status: ClientStatus) -> Result<(), StoreError> {
        if status == ClientStatus::Deleted {
            return self.delete_client(client_id).await;
        }
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("UPDATE clients SET status = $1, updated_at = $2 WHERE client_id = $3 AND status <> 'deleted'")
                .bind(status.as_str())
                .bind(crate::now())
                .bind(client_id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("client {client_id}")));
        }
        bump_revision(&mut tx, "clients").await?;
        // Resource servers learn disabled clients with the revocations.
        bump_revision(&mut tx, "revocations").await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a client: the row stays as a tombstone (status `deleted`, see [`ClientStatus`]),
    /// and its API keys and customer grants are revoked, all in one transaction.
    pub async fn delete_client(&self, client_id: &str) -> Result<(), StoreError> {
        let now = crate::now();
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE clients SET status = 'deleted', updated_at = $1 WHERE client_id = $2 AND status <> 'deleted'",
        )
        .bind(now)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("client {client_id}")));
        }
        for table in ["api_keys", "grants"] {
            let sql = format!("UPDATE {table} SET revoked_at = $1 WHERE client_id = $2 AND revoked_at IS NULL");
            sqlx::query(&sql).bind(now).bind(client_id).execute(&mut *tx).await?;
        }
        for revision in ["clients", "revocations", "api_keys"] {
            bump_revision(&mut tx, revision).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Revokes every token the client holds now: access tokens issued at or before `at` are
    /// refused (resource servers learn it with the revocation list) and its customer grants,
    /// with their refresh tokens, are revoked.
    pub async fn revoke_client_tokens(&self, client_id: &str, at: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("UPDATE clients SET tokens_revoked_at = $1 WHERE client_id = $2")
            .bind(at)
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("client {client_id}")));
        }
        sqlx::query("UPDATE grants SET revoked_at = $1 WHERE client_id = $2 AND revoked_at IS NULL")
            .bind(at)
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        bump_revision(&mut tx, "revocations").await?;
        tx.commit().await?;
        Ok(())
    }

    /// When the client's tokens were last all revoked, if ever.
    pub async fn client_tokens_revoked_at(&self, client_id: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT tokens_revoked_at FROM clients WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row
            .map(|r| r.try_get::<Option<i64>, _>("tokens_revoked_at"))
            .transpose()?
            .flatten())
    }

    /// `(client_id, tokens_revoked_at)` of clients whose tokens were all revoked at or after
    /// `since`: those whose revoked tokens may still be live.
    pub async fn recent_client_token_revocations(&self, since: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT client_id, tokens_revoked_at FROM clients WHERE tokens_revoked_at >= $1")
            .bind(since)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<String, _>("client_id")?,
                    r.try_get::<i64, _>("tokens_revoked_at")?,
                ))
            })
            .collect()
    }
}

/// Binds a client's fields in [`COLUMNS`] order.
fn bind_client<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    c: &'q Client,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let (kind, value) = match &c.subject {
        Some(s) => {
            let (k, v) = s.parts();
            (Some(k), Some(v))
        }
        None => (None, None),
    };
    query
        .bind(&c.client_id)
        .bind(&c.name)
        .bind(c.status.as_str())
        .bind(c.auth_method.as_str())
        .bind(c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(" "))
        .bind(c.scopes.join(" "))
        .bind(json(&c.redirect_uris))
        .bind(i64::from(c.bound_access_tokens))
        .bind(kind)
        .bind(value)
        .bind(c.jwks.as_ref().map(|j| j.to_string()))
        .bind(json(&c.ca_pins.iter().map(|p| p.to_base64url()).collect::<Vec<_>>()))
        .bind(json(&c.cert_pins.iter().map(|p| p.to_base64url()).collect::<Vec<_>>()))
        .bind(json(&c.issuer_serial_pins))
        .bind(i64::from(c.can_introspect))
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(&c.jwks_uri)
        .bind(i64::from(c.require_signed_request_object))
        .bind(i64::from(c.dpop_bound_access_tokens))
        .bind(json(&c.authorization_details_types))
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("serialising plain data")
}

fn parse_json<T: serde::de::DeserializeOwned>(column: &str, value: &str) -> Result<T, StoreError> {
    serde_json::from_str(value).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn pins<T>(column: &str, value: &str, parse: fn(&str) -> Option<T>) -> Result<Vec<T>, StoreError> {
    parse_json::<Vec<String>>(column, value)?
        .iter()
        .map(|p| parse(p).ok_or_else(|| StoreError::Corrupt(format!("{column}: {p:?}"))))
        .collect()
}

fn client_from_row(row: &AnyRow) -> Result<Client, StoreError> {
    let subject = match (opt_text(row, "subject_kind")?, opt_text(row, "subject_value")?) {
        (Some(kind), Some(value)) => Some(SubjectMatcher::from_parts(&kind, &value).map_err(corrupt("subject"))?),
        _ => None,
    };
    let words = |s: String| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    Ok(Client {
        client_id: text(row, "client_id")?,
        name: text(row, "name")?,
        status: text(row, "status")?.parse().map_err(corrupt("status"))?,
        auth_method: text(row, "auth_method")?.parse().map_err(corrupt("auth_method"))?,
        grant_types: words(text(row, "grant_types")?)
            .iter()
            .map(|g| g.parse::<GrantType>())
            .collect::<Result<_, _>>()
            .map_err(corrupt("grant_types"))?,
        scopes: words(text(row, "scopes")?),
        redirect_uris: parse_json("redirect_uris", &text(row, "redirect_uris")?)?,
        bound_access_tokens: int(row, "bound_access_tokens")? != 0,
        dpop_bound_access_tokens: int(row, "dpop_bound_access_tokens")? != 0,
        require_signed_request_object: int(row, "require_signed_request_object")? != 0,
        subject,
        jwks: opt_text(row, "jwks")?.map(|j| parse_json("jwks", &j)).transpose()?,
        jwks_uri: opt_text(row, "jwks_uri")?,
        ca_pins: pins("ca_pins", &text(row, "ca_pins")?, SpkiPin::from_base64url)?,
        cert_pins: pins("cert_pins", &text(row, "cert_pins")?, Thumbprint::from_base64url)?,
        issuer_serial_pins: parse_json("issuer_serial_pins", &text(row, "issuer_serial_pins")?)?,
        can_introspect: int(row, "can_introspect")? != 0,
        authorization_details_types: parse_json(
            "authorization_details_types",
            &text(row, "authorization_details_types")?,
        )?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
    })
}

fn corrupt(column: &'static str) -> impl Fn(String) -> StoreError {
    move |e| StoreError::Corrupt(format!("{column}: {e}"))
}
