//! JWT ids seen in client assertions and DPoP proofs. Recording one is a single INSERT into a
//! primary key, so of two processes recording the same id at once exactly one succeeds: a replay
//! is refused across every node on the database.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::{is_unique_violation, Store, StoreError};

impl Store {
    /// Records `jti` within `scope` (who issued it: a client, a DPoP key) until `expires_at`;
    /// false if it was recorded before.
    pub async fn record_jti(&self, scope: &str, jti: &str, expires_at: i64) -> Result<bool, StoreError> {
        let mut digest = Sha256::new();
        digest.update(scope.as_bytes());
        digest.update([0]);
        digest.update(jti.as_bytes());
        let hash = URL_SAFE_NO_PAD.encode(digest.finalize());
        let result = sqlx::query("INSERT INTO seen_jtis (jti_hash, expires_at) VALUES ($1, $2)")
            .bind(hash)
            .bind(expires_at)
            .execute(self.pool())
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Forgets ids whose JWTs have expired.
    pub async fn purge_seen_jtis(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM seen_jtis WHERE expires_at < $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
