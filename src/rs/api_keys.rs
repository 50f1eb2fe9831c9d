//! API keys: issued per client, shown once, stored as a SHA-256 hash of their secret part with
//! a short public lookup id, optionally bound to certificate thumbprints so that a stolen key is
//! useless without the TPP's private key.
//!
//! Format: `cbk_<16 hex id>_<43 base64url secret>`. The secret has 256 bits of entropy, so a
//! single SHA-256 is as strong as a slow password hash here and keeps verification cheap.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::pki::Thumbprint;
use crate::store::api_keys::ApiKeyRow;
use crate::store::{Store, StoreError, UnknownIds};

/// The request header carrying the key.
pub const HEADER: &str = "x-api-key";
/// How every key starts, so scanners and people recognise one.
pub const PREFIX: &str = "cbk_";

/// A freshly issued key: `key` is shown once and never stored.
pub struct IssuedApiKey {
    pub key: String,
    pub row: ApiKeyRow,
}

/// Makes a new key for `client_id`.
pub fn issue(client_id: &str, cert_thumbprints: &[Thumbprint]) -> IssuedApiKey {
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    aws_lc_rs::rand::fill(&mut id).expect("system RNG");
    aws_lc_rs::rand::fill(&mut secret).expect("system RNG");
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let secret = URL_SAFE_NO_PAD.encode(secret);
    IssuedApiKey {
        key: format!("{PREFIX}{id}_{secret}"),
        row: ApiKeyRow {
            id,
            client_id: client_id.to_string(),
            secret_hash: URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes())),
            cert_thumbprints: cert_thumbprints.iter().map(|t| t.to_base64url()).collect(),
            created_at: crate::now(),
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        },
    }
}

/// Splits a presented key into its id and secret.
fn parse(presented: &str) -> Option<(&str, &str)> {
    let rest = presented.strip_prefix(PREFIX)?;
    let (id, secret) = (rest.get(..16)?, rest.get(16..)?.strip_prefix('_')?);
    (id.bytes().all(|b| b.is_ascii_hexdigit()) && secret.len() == 43).then_some((id, secret))
}

/// Why a key was refused; logged, never returned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiKeyFailure {
    #[error("malformed key")]
    Malformed,
    #[error("unknown key")]
    Unknown,
    #[error("wrong secret")]
    WrongSecret,
    #[error("key revoked")]
    Revoked,
    #[error("key expired")]
    Expired,
    #[error("key belongs to another client")]
    OtherClient,
    #[error("key is bound to other certificates")]
    WrongCertificate,
}

struct CachedKey {
    row: ApiKeyRow,
    hash: [u8; 32],
    thumbprints: Vec<Thumbprint>,
    /// Registered with certificate thumbprints (readable or not).
    bound: bool,
    /// Last use seen in memory (0: none yet); flushed to the store in the background.
    last_used: AtomicI64,
    flushed: AtomicI64,
}

/// Every API key, in memory: verifying a known key reads no database. A key id not in memory is
/// looked up once (a key created a moment ago works at once) and remembered if unknown, so a
/// flood of made-up keys cannot turn into database reads.
pub struct ApiKeys {
    store: Store,
    keys: RwLock<HashMap<String, Arc<CachedKey>>>,
    unknown: UnknownIds,
}

impl ApiKeys {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            keys: RwLock::new(HashMap::new()),
            unknown: UnknownIds::default(),
        }
    }

    fn cached(row: ApiKeyRow, previous: Option<&CachedKey>) -> Option<CachedKey> {
        let Some(hash) = URL_SAFE_NO_PAD
            .decode(&row.secret_hash)
            .ok()
            .and_then(|h| <[u8; 32]>::try_from(h).ok())
        else {
            tracing::error!(id = %row.id, "stored API key hash is corrupt; ignoring the key");
            return None;
        };
        // An unreadable stored thumbprint matches nothing; the key stays bound (`bound`), so it
        // fails closed rather than working over any certificate.
        let thumbprints = row
            .cert_thumbprints
            .iter()
            .filter_map(|t| {
                let parsed = Thumbprint::from_base64url(t);
                if parsed.is_none() {
                    tracing::error!(id = %row.id, "stored API key certificate thumbprint is unreadable; it matches nothing");
                }
                parsed
            })
            .collect();
        let stored = row.last_used_at.unwrap_or(0);
        let seen = previous.map_or(0, |k| k.last_used.load(Ordering::Relaxed));
        let flushed = previous.map_or(0, |k| k.flushed.load(Ordering::Relaxed));
        Some(CachedKey {
            last_used: AtomicI64::new(seen.max(stored)),
            flushed: AtomicI64::new(flushed.max(stored)),
            hash,
            thumbprints,
            bound: !row.cert_thumbprints.is_empty(),
            row,
        })
    }

    /// The key with this id: from memory, else (once) from the store.
    async fn find(&self, id: &str) -> Result<Arc<CachedKey>, ApiKeyFailure> {
        if let Some(key) = self.keys.read().unwrap_or_else(|e| e.into_inner()).get(id) {
            return Ok(key.clone());
        }
        if self.unknown.contains(id) {
            return Err(ApiKeyFailure::Unknown);
        }
        let row = self.store.get_api_key(id).await.map_err(|e| {
            tracing::error!(error = %e, "looking up an API key failed");
            ApiKeyFailure::Unknown
        })?;
        match row.and_then(|row| Self::cached(row, None)) {
            Some(key) => {
                let key = Arc::new(key);
                self.keys
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id.to_string(), key.clone());
                Ok(key)
            }
            None => {
                self.unknown.remember(id);
                Err(ApiKeyFailure::Unknown)
            }
        }
    }

    /// Reloads every key from the store, keeping last-use times not yet flushed.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let rows = self.store.list_api_keys(None).await?;
        let old = self.keys.read().unwrap_or_else(|e| e.into_inner()).clone();
        let keys = rows
            .into_iter()
            .filter_map(|row| {
                let previous = old.get(&row.id).map(|k| k.as_ref());
                Self::cached(row, previous).map(|k| (k.row.id.clone(), Arc::new(k)))
            })
            .collect();
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
        self.unknown.clear();
        Ok(())
    }

    /// Checks a presented key for `client_id` over a connection with certificate `cert`.
    pub async fn verify(
        &self,
        presented: &str,
        client_id: &str,
        cert: Option<&Thumbprint>,
        now: i64,
    ) -> Result<(), ApiKeyFailure> {
        let (id, secret) = parse(presented).ok_or(ApiKeyFailure::Malformed)?;
        let key = self.find(id).await?;
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        if !bool::from(digest.ct_eq(&key.hash)) {
            return Err(ApiKeyFailure::WrongSecret);
        }
        if key.row.revoked_at.is_some() {
            return Err(ApiKeyFailure::Revoked);
        }
        if key.row.expires_at.is_some_and(|at| now >= at) {
            return Err(ApiKeyFailure::Expired);
        }
        if key.row.client_id != client_id {
            return Err(ApiKeyFailure::OtherClient);
        }
        if key.bound && !cert.is_some_and(|c| key.thumbprints.iter().fold(false, |f, t| f | (t == c))) {
            return Err(ApiKeyFailure::WrongCertificate);
        }
        key.last_used.fetch_max(now, Ordering::Relaxed);
        Ok(())
    }

    /// Writes last-use times that changed since the previous flush.
    pub async fn flush_last_used(&self) -> Result<(), StoreError> {
        let keys: Vec<Arc<CachedKey>> = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        let changed: Vec<(Arc<CachedKey>, i64)> = keys
            .into_iter()
            .filter_map(|k| {
                let used = k.last_used.load(Ordering::Relaxed);
                (used > k.flushed.load(Ordering::Relaxed)).then_some((k, used))
            })
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        let uses: Vec<(String, i64)> = changed.iter().map(|(k, at)| (k.row.id.clone(), *at)).collect();
        self.store.record_api_key_use(&uses).await?;
        for (key, at) in changed {
            key.flushed.fetch_max(at, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Reloads the keys every `interval` until they are dropped: for resource servers outside the
/// certbound process, which have no change poller of their own.
pub async fn reload_periodically(keys: std::sync::Weak<ApiKeys>, interval: std::time::Duration) {
    let mut tick = tokio::time::interval(interval.max(std::time::Duration::from_millis(50)));
    loop {
        tick.tick().await;
        let Some(keys) = keys.upgrade() else {
            return;
        };
        if let Err(e) = keys.reload().await {
            tracing::warn!(error = %e, "reloading API keys failed");
        }
        if let Err(e) = keys.flush_last_used().await {
            tracing::warn!(error = %e, "recording API key use failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_keys_parse_and_hash() {
        let issued = issue("c1", &[]);
        let (id, secret) = parse(&issued.key).unwrap();
        assert_eq!(id, issued.row.id);
        assert_eq!(
            URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes())),
            issued.row.secret_hash
        );
        assert!(!issued.row.secret_hash.contains(secret), "the secret is not stored");
        for bad in [
            "",
            "cbk_",
            "cbk_0123456789abcdef",
            "xyz_0123456789abcdef_aaaa",
            &issued.key[..issued.key.len() - 1],
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
