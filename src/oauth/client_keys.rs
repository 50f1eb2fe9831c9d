//! A client's public keys, for the JWTs it signs (client assertions, request objects): its
//! registered `jwks`, parsed once with the client, or its `jwks_uri`, fetched over HTTPS and
//! cached. A `jwks_uri` is fetched with a timeout and a size cap, never from a loopback or
//! private address unless configured (tests), kept as long as its `Cache-Control` says within
//! bounds, and fetched again when a JWT names a `kid` it does not have, at most once per
//! `min_refresh`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::Header;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::clients::CachedClient;
use crate::jose::{Expect, Profile, TokenError, VerificationKey};
use crate::tls::client::{Destinations, HttpsClient, Limits};

/// Largest JWKS document accepted from a `jwks_uri`.
const MAX_JWKS: usize = 64 * 1024;
/// Bounds on how long a fetched JWKS is kept, whatever its `Cache-Control` says.
const MIN_AGE: Duration = Duration::from_secs(60);
const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_AGE: Duration = Duration::from_secs(300);

/// Keys of one client, by optional `kid`.
#[derive(Default)]
pub struct ClientKeySet {
    keys: Vec<(Option<String>, VerificationKey)>,
}

impl std::fmt::Debug for ClientKeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientKeySet({} keys)", self.keys.len())
    }
}

impl ClientKeySet {
    /// The signing keys of a JWKS; entries that are only certificates (`x5c` without key
    /// members), or keys of other kinds, are not signing keys and are left out.
    pub fn from_jwks(jwks: Option<&Value>) -> Self {
        let entries = jwks.and_then(|j| j.get("keys")).and_then(Value::as_array);
        let keys = entries
            .into_iter()
            .flatten()
            .filter_map(|jwk| {
                let key = VerificationKey::from_jwk(jwk).ok()?;
                Some((jwk.get("kid").and_then(Value::as_str).map(String::from), key))
            })
            .collect();
        Self { keys }
    }

    /// The key a JWT names by `kid`, or, when it names none, the client's only key.
    fn select(&self, kid: Option<&str>) -> Option<&VerificationKey> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|(k, _)| k.as_deref() == Some(kid))
                .map(|(_, key)| key),
            None => match self.keys.as_slice() {
                [(_, only)] => Some(only),
                _ => None,
            },
        }
    }

    fn knows(&self, kid: Option<&str>) -> bool {
        self.select(kid).is_some()
    }
}

/// Why a client-signed JWT was refused; logged, never sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClientJwtError {
    #[error("malformed JWT")]
    Malformed,
    #[error("no key of the client matches the JWT's kid")]
    UnknownKey,
    #[error("the client's jwks_uri could not be fetched: {0}")]
    Fetch(String),
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Verifies a JWT the client signed, with its keys, under `profile`.
pub async fn verify<T: DeserializeOwned>(
    remote: &RemoteJwks,
    client: &CachedClient,
    token: &str,
    profile: &Profile,
    expect: Expect<'_>,
) -> Result<T, ClientJwtError> {
    let header: Header = jsonwebtoken::decode_header(token).map_err(|_| ClientJwtError::Malformed)?;
    let kid = header.kid.as_deref();
    let claims = match &client.client.jwks_uri {
        None => {
            let key = client.keys.select(kid).ok_or(ClientJwtError::UnknownKey)?;
            key.decode(token, &header, profile, expect)?
        }
        Some(uri) => {
            let keys = remote.keys(uri, kid).await?;
            let key = keys.select(kid).ok_or(ClientJwtError::UnknownKey)?;
            key.decode(token, &header, profile, expect)?
        }
    };
    Ok(claims)
}

/// How `jwks_uri` documents are fetched.
#[derive(Debug, Clone, Copy)]
pub struct FetchPolicy {
    /// Allow loopback and private addresses (for tests and closed networks only).
    pub allow_private: bool,
    /// Least time between two fetches of one `jwks_uri` for an unknown `kid`.
    pub min_refresh: Duration,
}

struct Cached {
    keys: Arc<ClientKeySet>,
    fetched: Instant,
    max_age: Duration,
}

/// `jwks_uri` documents, fetched and kept.
pub struct RemoteJwks {
    http: HttpsClient,
    policy: FetchPolicy,
    cache: Mutex<HashMap<String, Cached>>,
    /// One fetch at a time: a burst of requests for an unknown kid fetches once.
    fetching: tokio::sync::Mutex<()>,
}

impl RemoteJwks {
    pub fn new(http: HttpsClient, policy: FetchPolicy) -> Self {
        Self {
            http,
            policy,
            cache: Mutex::new(HashMap::new()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    fn cached(&self, uri: &str) -> Option<(Arc<ClientKeySet>, Instant, Duration)> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(uri).map(|c| (c.keys.clone(), c.fetched, c.max_age))
    }

    /// The keys at `uri`: cached while fresh and holding `kid`; fetched again when stale, or
    /// when `kid` is unknown and the last fetch is at least `min_refresh` old.
    pub async fn keys(&self, uri: &str, kid: Option<&str>) -> Result<Arc<ClientKeySet>, ClientJwtError> {
        let usable = |(keys, fetched, max_age): &(Arc<ClientKeySet>, Instant, Duration)| {
            let fresh = fetched.elapsed() < *max_age;
            fresh && (keys.knows(kid) || fetched.elapsed() < self.policy.min_refresh)
        };
        if let Some(hit) = self.cached(uri).filter(usable) {
            return Ok(hit.0);
        }
        let _one_at_a_time = self.fetching.lock().await;
        if let Some(hit) = self.cached(uri).filter(usable) {
            return Ok(hit.0);
        }
        match self.fetch(uri).await {
            Ok((keys, max_age)) => {
                let keys = Arc::new(keys);
                let entry = Cached {
                    keys: keys.clone(),
                    fetched: Instant::now(),
                    max_age,
                };
                self.cache
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(uri.to_string(), entry);
                Ok(keys)
            }
            Err(e) => {
                tracing::warn!(jwks_uri = uri, error = %e, "fetching a client's JWKS failed");
                // Keys fetched before stay usable until they are stale.
                match self
                    .cached(uri)
                    .filter(|(_, fetched, max_age)| fetched.elapsed() < *max_age)
                {
                    Some((keys, _, _)) => Ok(keys),
                    None => Err(ClientJwtError::Fetch(e)),
                }
            }
        }
    }

    async fn fetch(&self, uri: &str) -> Result<(ClientKeySet, Duration), String> {
        let limits = Limits {
            destinations: if self.policy.allow_private {
                Destinations::Any
            } else {
                Destinations::PublicOnly
            },
            timeout: Duration::from_secs(5),
            max_body: MAX_JWKS,
        };
        let fetched = self.http.request(uri, &[], None, limits).await?;
        if fetched.status != http::StatusCode::OK {
            return Err(format!("HTTP {}", fetched.status));
        }
        let doc: Value = serde_json::from_slice(&fetched.body).map_err(|e| format!("not JSON: {e}"))?;
        let keys = ClientKeySet::from_jwks(Some(&doc));
        Ok((keys, max_age(fetched.cache_control.as_deref())))
    }
}

/// How long to keep a document by its `Cache-Control`: `max-age` within [`MIN_AGE`,
/// `MAX_AGE`]; `no-store`/`no-cache` as short as allowed; nothing said, [`DEFAULT_AGE`].
fn max_age(cache_control: Option<&str>) -> Duration {
    let Some(value) = cache_control else {
        return DEFAULT_AGE;
    };
    let directives: Vec<String> = value.split(',').map(|d| d.trim().to_ascii_lowercase()).collect();
    if directives.iter().any(|d| d == "no-store" || d == "no-cache") {
        return MIN_AGE;
    }
    directives
        .iter()
        .find_map(|d| d.strip_prefix("max-age=")?.parse::<u64>().ok())
        .map_or(DEFAULT_AGE, |s| Duration::from_secs(s).clamp(MIN_AGE, MAX_AGE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_is_honoured_within_bounds() {
        assert_eq!(max_age(None), DEFAULT_AGE);
        assert_eq!(max_age(Some("public, max-age=600")), Duration::from_secs(600));
        assert_eq!(max_age(Some("max-age=1")), MIN_AGE);
        assert_eq!(max_age(Some("max-age=99999999")), MAX_AGE);
        assert_eq!(max_age(Some("no-store")), MIN_AGE);
        assert_eq!(max_age(Some("max-age=nonsense")), DEFAULT_AGE);
    }
}
