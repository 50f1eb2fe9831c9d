//! Where a resource server remembers the DPoP proofs it has accepted (RFC 9449 §11.1), so each
//! is used once. A database write per API call would cap throughput, so the default is this
//! process's memory, bounded by the proof window: RFC 9449 allows per-server tracking, and a
//! proof replayed to another node of a fleet is then accepted there once. A fleet that must
//! refuse that too shares a Redis, which banks already run: one `SET NX EX` per call.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::domain::dpop::{MAX_AGE, MAX_AHEAD};

/// How long a generation of remembered proofs lasts: a proof accepted at `t` is acceptable at
/// most until `t + WINDOW`, and stays remembered at least that long.
const WINDOW: i64 = MAX_AGE + MAX_AHEAD;
/// Default bound on proofs remembered per generation (32 bytes each, so tens of MB at most).
pub const DEFAULT_CAPACITY: usize = 1_000_000;

/// Why a proof's first use could not be established; the request is refused (fail closed).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("the replay cache is full")]
    Full,
    #[error("the replay store is unavailable: {0}")]
    Unavailable(String),
}

pub enum ReplayStore {
    Memory(MemoryReplay),
    Redis(RedisReplay),
}

impl Default for ReplayStore {
    fn default() -> Self {
        ReplayStore::Memory(MemoryReplay::new(DEFAULT_CAPACITY))
    }
}

impl ReplayStore {
    /// True if `key` was not seen before; it is remembered until `until`.
    pub async fn first_use(&self, key: &[u8; 32], until: i64, now: i64) -> Result<bool, ReplayError> {
        match self {
            ReplayStore::Memory(memory) => memory.first_use(key, now),
            ReplayStore::Redis(redis) => redis.first_use(key, until, now).await,
        }
    }
}

/// Two generations of keys: the current one, and the one before it. When the current one is a
/// window old it becomes the previous one, and the previous one is dropped.
pub struct MemoryReplay {
    state: Mutex<Generations>,
    capacity: usize,
}

#[derive(Default)]
struct Generations {
    current: HashSet<[u8; 32]>,
    previous: HashSet<[u8; 32]>,
    started: i64,
}

impl MemoryReplay {
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(Generations::default()),
            capacity,
        }
    }

    fn first_use(&self, key: &[u8; 32], now: i64) -> Result<bool, ReplayError> {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if now - g.started >= WINDOW {
            let stale = now - g.started >= 2 * WINDOW;
            g.previous = if stale {
                HashSet::new()
            } else {
                std::mem::take(&mut g.current)
            };
            g.current.clear();
            g.started = now;
        }
        if g.current.contains(key) || g.previous.contains(key) {
            return Ok(false);
        }
        if g.current.len() >= self.capacity {
            return Err(ReplayError::Full);
        }
        g.current.insert(*key);
        Ok(true)
    }
}

/// A Redis every node of a fleet shares.
pub struct RedisReplay {
    connection: redis::aio::ConnectionManager,
}

impl RedisReplay {
    /// Connects to `url` (`redis://host:port/db`, or `rediss://` for TLS); a slow Redis fails a
    /// request after a second rather than holding it.
    pub async fn connect(url: &str) -> Result<Self, ReplayError> {
        let unavailable = |e: redis::RedisError| ReplayError::Unavailable(e.to_string());
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1);
        let connection = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(unavailable)?;
        Ok(Self { connection })
    }

    async fn first_use(&self, key: &[u8; 32], until: i64, now: i64) -> Result<bool, ReplayError> {
        let name = format!("certbound:dpop:{}", URL_SAFE_NO_PAD.encode(key));
        let ttl = (until - now).max(1);
        let set: Option<String> = redis::cmd("SET")
            .arg(name)
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(ttl)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|e| ReplayError::Unavailable(e.to_string()))?;
        Ok(set.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_remembers_for_a_window_and_then_forgets() {
        let replay = MemoryReplay::new(10);
        let (a, b) = ([1; 32], [2; 32]);
        let t = 1_000;
        assert!(replay.first_use(&a, t).unwrap());
        assert!(!replay.first_use(&a, t).unwrap());
        // Into the next generation: still remembered.
        assert!(replay.first_use(&b, t + WINDOW).unwrap());
        assert!(!replay.first_use(&a, t + WINDOW + 1).unwrap());
        // Two windows on, `a` is forgotten, `b` is not.
        assert!(replay.first_use(&a, t + 2 * WINDOW).unwrap());
        assert!(!replay.first_use(&b, t + 2 * WINDOW).unwrap());
    }

    #[test]
    fn memory_refuses_when_full() {
        let replay = MemoryReplay::new(2);
        assert!(replay.first_use(&[1; 32], 5).unwrap());
        assert!(replay.first_use(&[2; 32], 5).unwrap());
        assert!(matches!(replay.first_use(&[3; 32], 5), Err(ReplayError::Full)));
    }
}
