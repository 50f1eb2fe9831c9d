//! Bank customers.

use sqlx::any::AnyRow;

use super::{bump_revision, int, is_unique_violation, text, Store, StoreError};
use crate::domain::{Customer, CustomerStatus, PasswordHash};

const COLUMNS: &str = "id, username, password_hash, status, accounts, created_at, updated_at";

impl Store {
    pub async fn insert_customer(&self, c: &Customer) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let sql = format!("INSERT INTO customers ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        let result = sqlx::query(&sql)
            .bind(&c.id)
            .bind(&c.username)
            .bind(c.password.as_phc())
            .bind(c.status.as_str())
            .bind(serde_json::to_string(&c.accounts).expect("a list of strings"))
            .bind(c.created_at)
            .bind(c.updated_at)
            .execute(&mut *tx)
            .await;
        match result {
            Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict(format!("customer {}", c.username))),
            other => other?,
        };
        bump_revision(&mut tx, "customers").await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn customer_by_username(&self, username: &str) -> Result<Option<Customer>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM customers WHERE username = $1");
        let row = sqlx::query(&sql).bind(username).fetch_optional(self.pool()).await?;
        row.as_ref().map(customer_from_row).transpose()
    }

    pub async fn customer(&self, id: &str) -> Result<Option<Customer>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM customers WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(customer_from_row).transpose()
    }

    pub async fn list_customers(&self) -> Result<Vec<Customer>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM customers ORDER BY username");
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(customer_from_row).collect()
    }

    pub async fn set_customer_status(&self, username: &str, status: CustomerStatus) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("UPDATE customers SET status = $1, updated_at = $2 WHERE username = $3")
            .bind(status.as_str())
            .bind(crate::now())
            .bind(username)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("customer {username}")));
        }
        bump_revision(&mut tx, "customers").await?;
        tx.commit().await?;
        Ok(())
    }
}

fn customer_from_row(row: &AnyRow) -> Result<Customer, StoreError> {
    let corrupt = |column: &str, e: String| StoreError::Corrupt(format!("customers.{column}: {e}"));
    Ok(Customer {
        id: text(row, "id")?,
        username: text(row, "username")?,
        password: PasswordHash::from_phc(&text(row, "password_hash")?).map_err(|e| corrupt("password_hash", e))?,
        status: text(row, "status")?.parse().map_err(|e| corrupt("status", e))?,
        accounts: serde_json::from_str(&text(row, "accounts")?).map_err(|e| corrupt("accounts", e.to_string()))?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
    })
}
