//! Signing-key lifecycle: generated on first start, stored sealed, shared by every node on the
//! database, rotated on demand with the old public key still published until every token it
//! signed has expired.

use serde_json::Value;

use crate::jose::kek::KekError;
use crate::jose::{KeyEncryptionKey, KeyError, KeyRing, SigningAlg, SigningKey};
use crate::store::keys::KeyRow;
use crate::store::{Store, StoreError};

/// Seconds a retired key stays published beyond the token lifetime, for clock skew.
const RETENTION_MARGIN: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Kek(#[from] KekError),
    #[error("no signing key {0}")]
    UnknownKey(String),
    #[error("{0} is the key tokens are signed with now: rotate first, then purge it")]
    ActiveKey(String),
}

/// Loads the key ring, generating a signing key for `alg` if the database has none.
pub async fn load_ring(
    store: &Store,
    kek: &KeyEncryptionKey,
    alg: SigningAlg,
    token_ttl: i64,
) -> Result<KeyRing, KeysError> {
    let mut rows = store.list_signing_keys().await?;
    if !rows.iter().any(|r| r.retired_at.is_none() && r.alg == alg.as_str()) {
        rotate(store, kek, alg).await?;
        rows = store.list_signing_keys().await?;
    }
    let active = rows
        .iter()
        .find(|r| r.retired_at.is_none() && r.alg == alg.as_str())
        .ok_or_else(|| KeyError::Invalid("no active key after generation".into()))?;
    let pkcs8 = kek.open(&active.kid, &active.sealed_private_key)?;
    let signing = SigningKey::from_pkcs8(alg, &pkcs8)?;
    let now = crate::now();
    let published = rows
        .iter()
        .filter(|r| r.retired_at.is_none_or(|at| at + token_ttl + RETENTION_MARGIN > now))
        .map(|r| serde_json::from_str::<Value>(&r.public_jwk).map_err(|e| KeyError::Invalid(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(KeyRing::new(signing, &published)?)
}

/// Generates a new signing key and retires every other key still in force. Returns the new kid.
pub async fn rotate(store: &Store, kek: &KeyEncryptionKey, alg: SigningAlg) -> Result<String, KeysError> {
    let (key, pkcs8) = tokio::task::spawn_blocking(move || SigningKey::generate(alg))
        .await
        .map_err(|_| KeyError::Generate)??;
    let retire: Vec<String> = store
        .list_signing_keys()
        .await?
        .into_iter()
        .filter(|r| r.retired_at.is_none())
        .map(|r| r.kid)
        .collect();
    let row = KeyRow {
        kid: key.kid().to_string(),
        alg: alg.as_str().to_string(),
        public_jwk: key.public_jwk().to_string(),
        sealed_private_key: kek.seal(key.kid(), &pkcs8),
        created_at: crate::now(),
        retired_at: None,
    };
    store.add_signing_key(&row, &retire).await?;
    Ok(row.kid)
}

/// Emergency removal of a retired key (it leaked): every server stops accepting tokens signed with
/// it as soon as it reloads its keys, cached verifications included. The active key cannot be
/// purged; rotate first.
pub async fn purge_key(store: &Store, kid: &str) -> Result<(), KeysError> {
    let row = store
        .list_signing_keys()
        .await?
        .into_iter()
        .find(|r| r.kid == kid)
        .ok_or_else(|| KeysError::UnknownKey(kid.to_string()))?;
    if row.retired_at.is_none() {
        return Err(KeysError::ActiveKey(kid.to_string()));
    }
    store.delete_retired_signing_key(kid).await?;
    Ok(())
}

/// Deletes keys that can no longer verify any live token.
pub async fn purge(store: &Store, token_ttl: i64) -> Result<u64, KeysError> {
    Ok(store
        .purge_signing_keys(crate::now() - token_ttl - RETENTION_MARGIN)
        .await?)
}
