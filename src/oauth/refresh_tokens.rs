//! Refresh tokens in memory, keyed by their hash, so a refresh reads no database once its grant
//! has been seen. Every node clears the cache when revocations or customers change (the change
//! poller), and this node at once when it revokes a grant itself.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::domain::{CustomerStatus, Grant};
use crate::store::{Store, StoreError};

/// Bound on cached refresh tokens; the cache is emptied when full.
const ENTRIES: usize = 10_000;

/// A refresh token's grant and its customer's status when it was read.
#[derive(Debug)]
pub struct RefreshEntry {
    pub grant: Grant,
    pub customer_status: CustomerStatus,
}

pub struct RefreshTokens {
    store: Store,
    entries: RwLock<HashMap<String, Arc<RefreshEntry>>>,
}

impl RefreshTokens {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The entry for a refresh token's hash, from memory or else the store.
    pub async fn get(&self, hash: &str) -> Result<Option<Arc<RefreshEntry>>, StoreError> {
        if let Some(hit) = self.entries.read().unwrap_or_else(|e| e.into_inner()).get(hash) {
            return Ok(Some(hit.clone()));
        }
        let Some((grant, customer_status)) = self.store.grant_by_refresh_token(hash).await? else {
            return Ok(None);
        };
        let entry = Arc::new(RefreshEntry { grant, customer_status });
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= ENTRIES {
            entries.clear();
        }
        entries.insert(hash.to_string(), entry.clone());
        Ok(Some(entry))
    }

    pub fn clear(&self) {
        self.entries.write().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
