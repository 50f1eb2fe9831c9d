//! An in-memory cache of registered clients, so the token hot path reads no database once a
//! client has been seen. Every node clears it when the store's `clients` revision changes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::client_keys::ClientKeySet;
use super::miss_limit::{MissKey, MissLimiter};
use crate::domain::Client;
use crate::pki::{DistinguishedName, Thumbprint};
use crate::store::{Store, StoreError, UnknownIds};

/// How long a successful chain validation is reused for the same presented chain, at most.
const CHAIN_CACHE_SECONDS: i64 = 300;
/// Bound on remembered chains per client.
const CHAIN_CACHE_ENTRIES: usize = 256;

/// A client with everything certificate matching needs precomputed.
#[derive(Debug)]
pub struct CachedClient {
    pub client: Client,
    /// The signing keys of its registered `jwks`.
    pub keys: ClientKeySet,
    pub registered_thumbprints: Vec<Thumbprint>,
    /// The registered issuer-and-serial pins that decode.
    pub issuer_serial_pins: Vec<(DistinguishedName, Vec<u8>)>,
    /// Chains (by digest) that validated, with when that result stops being reused.
    validated_chains: Mutex<HashMap<[u8; 32], i64>>,
}

impl CachedClient {
    pub(crate) fn new(client: Client) -> Self {
        // A stored pin that does not decode matches nothing; the pin requirement stays (see
        // `check_certificate_pins`), so the client fails closed.
        let issuer_serial_pins = client
            .issuer_serial_pins
            .iter()
            .filter_map(|p| {
                p.decode()
                    .inspect_err(|e| tracing::error!(client_id = %client.client_id, error = %e, "stored issuer/serial pin is unreadable; it matches nothing"))
                    .ok()
            })
            .collect();
        Self {
            keys: ClientKeySet::from_jwks(client.jwks.as_ref()),
            registered_thumbprints: client.jwks_thumbprints(),
            issuer_serial_pins,
            client,
            validated_chains: Mutex::new(HashMap::new()),
        }
    }

    pub fn chain_validated(&self, digest: &[u8; 32], now: i64) -> bool {
        let chains = self.validated_chains.lock().unwrap_or_else(|e| e.into_inner());
        chains.get(digest).is_some_and(|until| now <= *until)
    }

    pub fn remember_chain(&self, digest: [u8; 32], now: i64, leaf_not_after: i64) {
        let mut chains = self.validated_chains.lock().unwrap_or_else(|e| e.into_inner());
        if chains.len() >= CHAIN_CACHE_ENTRIES {
            chains.retain(|_, until| *until >= now);
            if chains.len() >= CHAIN_CACHE_ENTRIES {
                chains.clear();
            }
        }
        chains.insert(digest, (now + CHAIN_CACHE_SECONDS).min(leaf_not_after));
    }
}

pub struct ClientCache {
    store: Store,
    clients: RwLock<HashMap<String, Arc<CachedClient>>>,
    /// Cleared with the rest when clients change.
    unknown: UnknownIds,
    misses: MissLimiter,
    store_reads: AtomicU64,
}

impl ClientCache {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            clients: RwLock::new(HashMap::new()),
            unknown: UnknownIds::default(),
            misses: MissLimiter::default(),
            store_reads: AtomicU64::new(0),
        }
    }

    /// The client, from memory or else the store, for an id the server itself recorded (a
    /// pushed request's, a token's).
    pub async fn get(&self, client_id: &str) -> Result<Option<Arc<CachedClient>>, StoreError> {
        match self.cached(client_id) {
            Some(known) => Ok(known),
            None => self.read_store(client_id).await,
        }
    }

    /// The same for an id a requester chose: a store read counts against `asking`'s budget
    /// ([`MissLimiter`]); past it the id counts as unknown.
    pub async fn get_asked_by(
        &self,
        client_id: &str,
        asking: MissKey,
    ) -> Result<Option<Arc<CachedClient>>, StoreError> {
        match self.cached(client_id) {
            Some(known) => Ok(known),
            None if self.misses.allow(asking, std::time::Instant::now()) => self.read_store(client_id).await,
            None => {
                tracing::debug!(?asking, "client lookup refused: too many unknown client ids");
                Ok(None)
            }
        }
    }

    /// Store reads made so far (for tests and metrics).
    pub fn store_reads(&self) -> u64 {
        self.store_reads.load(Ordering::Relaxed)
    }

    /// `Some` when memory knows: the client, or that there is none.
    fn cached(&self, client_id: &str) -> Option<Option<Arc<CachedClient>>> {
        if let Some(found) = read(&self.clients).get(client_id) {
            return Some(Some(found.clone()));
        }
        self.unknown.contains(client_id).then_some(None)
    }

    async fn read_store(&self, client_id: &str) -> Result<Option<Arc<CachedClient>>, StoreError> {
        self.store_reads.fetch_add(1, Ordering::Relaxed);
        let Some(client) = self.store.get_client(client_id).await? else {
            self.unknown.remember(client_id);
            return Ok(None);
        };
        let cached = Arc::new(CachedClient::new(client));
        write(&self.clients).insert(client_id.to_string(), cached.clone());
        Ok(Some(cached))
    }

    /// Forgets every client, including their validated chains, and every unknown id.
    pub fn clear(&self) {
        write(&self.clients).clear();
        self.unknown.clear();
    }
}

/// Lock helpers: a panic while holding a lock leaves plain data, still usable.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}
