//! Administrators of the admin console.

use sqlx::any::AnyRow;

use super::{int, is_unique_violation, text, Store, StoreError};
use crate::domain::status::Status;
use crate::domain::{Administrator, PasswordHash};

const COLUMNS: &str = "username, password_hash, role, status, created_at, updated_at";

impl Store {
    pub async fn insert_administrator(&self, a: &Administrator) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO administrators ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)");
        let result = sqlx::query(&sql)
            .bind(&a.username)
            .bind(a.password.as_phc())
            .bind(a.role.as_str())
            .bind(a.status.as_str())
            .bind(a.created_at)
            .bind(a.updated_at)
            .execute(self.pool())
            .await;
        match result {
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!("administrator {}", a.username))),
            other => other.map(|_| ()).map_err(Into::into),
        }
    }

    pub async fn administrator(&self, username: &str) -> Result<Option<Administrator>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM administrators WHERE username = $1");
        let row = sqlx::query(&sql).bind(username).fetch_optional(self.pool()).await?;
        row.as_ref().map(administrator_from_row).transpose()
    }

    pub async fn list_administrators(&self) -> Result<Vec<Administrator>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM administrators ORDER BY username");
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(administrator_from_row).collect()
    }

    pub async fn set_administrator_status(&self, username: &str, status: Status) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE administrators SET status = $1, updated_at = $2 WHERE username = $3")
            .bind(status.as_str())
            .bind(crate::now())
            .bind(username)
            .execute(self.pool())
            .await?;
        match done.rows_affected() {
            0 => Err(StoreError::NotFound(format!("administrator {username}"))),
            _ => Ok(()),
        }
    }
}

fn administrator_from_row(row: &AnyRow) -> Result<Administrator, StoreError> {
    let corrupt = |column: &str, e: String| StoreError::Corrupt(format!("administrators.{column}: {e}"));
    Ok(Administrator {
        username: text(row, "username")?,
        password: PasswordHash::from_phc(&text(row, "password_hash")?).map_err(|e| corrupt("password_hash", e))?,
        role: text(row, "role")?.parse().map_err(|e| corrupt("role", e))?,
        status: text(row, "status")?.parse().map_err(|e| corrupt("status", e))?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
    })
}
