//! JWT ids seen in client assertions and DPoP proofs. Recording is one `INSERT … ON CONFLICT DO
//! NOTHING` into a primary key, so of two processes recording the same id at once exactly one
//! succeeds: a replay is refused across every node on the database.
//!
//! Every assertion and every proof is a write, so a process sends them through one writer,
//! [`JtiRecorder`], which commits whatever has queued up in one statement: under load one
//! commit serves many requests (group commit), instead of each request waiting for its own
//! commit and, on SQLite, for the write lock.

use std::collections::HashSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use super::{Store, StoreError};

/// Most ids committed in one statement (two parameters each, far below SQLite's limit).
const MAX_BATCH: usize = 256;
/// Requests waiting for the writer; beyond this, callers wait to enqueue.
const QUEUE: usize = 4096;

/// An id to record: its hash and until when.
struct Pending {
    hash: String,
    expires_at: i64,
    first: oneshot::Sender<Result<bool, String>>,
}

/// The hash stored for `jti` within `scope` (who issued it: a client, a DPoP key).
fn jti_hash(scope: &str, jti: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(scope.as_bytes());
    digest.update([0]);
    digest.update(jti.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.finalize())
}

impl Store {
    /// Records `jti` within `scope` until `expires_at`; false if it was recorded before.
    pub async fn record_jti(&self, scope: &str, jti: &str, expires_at: i64) -> Result<bool, StoreError> {
        let hash = jti_hash(scope, jti);
        let inserted = self.insert_jti_hashes(&[(hash.clone(), expires_at)]).await?;
        Ok(inserted.contains(&hash))
    }

    /// Inserts the hashes not recorded yet, in one statement; returns those it inserted.
    async fn insert_jti_hashes(&self, batch: &[(String, i64)]) -> Result<HashSet<String>, StoreError> {
        let values: Vec<String> = (0..batch.len())
            .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
            .collect();
        let sql = format!(
            "INSERT INTO seen_jtis (jti_hash, expires_at) VALUES {} ON CONFLICT (jti_hash) DO NOTHING RETURNING jti_hash",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (hash, expires_at) in batch {
            query = query.bind(hash.as_str()).bind(*expires_at);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| row.try_get::<String, _>("jti_hash").map_err(StoreError::from))
            .collect()
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

/// The process's one writer of seen ids.
pub struct JtiRecorder {
    queue: mpsc::Sender<Pending>,
}

impl JtiRecorder {
    /// Starts the writer task (it ends when the recorder is dropped).
    pub fn start(store: Store) -> Self {
        let (queue, requests) = mpsc::channel(QUEUE);
        tokio::spawn(write(store, requests));
        Self { queue }
    }

    /// Records `jti` within `scope` until `expires_at`; false if it was recorded before, by any
    /// node.
    pub async fn record(&self, scope: &str, jti: &str, expires_at: i64) -> Result<bool, StoreError> {
        let (first, answer) = oneshot::channel();
        let pending = Pending {
            hash: jti_hash(scope, jti),
            expires_at,
            first,
        };
        let stopped = || StoreError::Unavailable("the jti writer has stopped".into());
        self.queue.send(pending).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?.map_err(StoreError::Unavailable)
    }
}

/// Takes what has queued up (at most [`MAX_BATCH`]), commits it in one statement, answers each.
/// An id twice in one batch is inserted once (`ON CONFLICT DO NOTHING` within the statement too)
/// and is new only for the first request that named it.
async fn write(store: Store, mut requests: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while requests.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let rows: Vec<(String, i64)> = batch.iter().map(|p| (p.hash.clone(), p.expires_at)).collect();
        match store.insert_jti_hashes(&rows).await {
            Ok(mut inserted) => {
                for p in batch.drain(..) {
                    // `remove`: a second request for the same id in this batch is a replay.
                    let _ = p.first.send(Ok(inserted.remove(&p.hash)));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "recording jtis failed");
                for p in batch.drain(..) {
                    let _ = p.first.send(Err(e.to_string()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a current-thread runtime the spawned requests all queue before the writer runs, so
    /// they are one batch: the repeated id must be new for exactly one of them.
    #[tokio::test(flavor = "current_thread")]
    async fn an_id_repeated_within_one_batch_is_new_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}/t.db?mode=rwc", dir.path().display()))
            .await
            .unwrap();
        let recorder = std::sync::Arc::new(JtiRecorder::start(store.clone()));
        let tasks: Vec<_> = ["a", "b", "a", "c", "a"]
            .into_iter()
            .map(|jti| {
                let recorder = recorder.clone();
                tokio::spawn(async move { (jti, recorder.record("s", jti, 100).await.unwrap()) })
            })
            .collect();
        let mut new = Vec::new();
        for task in tasks {
            new.push(task.await.unwrap());
        }
        assert_eq!(new, [("a", true), ("b", true), ("a", false), ("c", true), ("a", false)]);
        assert!(!store.record_jti("s", "b", 100).await.unwrap(), "and across batches");
    }
}
