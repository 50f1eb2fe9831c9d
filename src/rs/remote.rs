//! A resource server in another process: verification keys from the authorization server's
//! JWKS, and revocations from its revocation list.
//!
//! The JWKS is fetched at start, every few minutes, and when a token names an unknown `kid`
//! (the AS rotated) — at most once per `min_jwks_refresh`, so a flood of made-up kids cannot
//! hammer the AS. Revocations are polled (`POST /revocations`, authenticated by mTLS as a client
//! registered with `--introspect`) every `revocation_poll`: a revoked token is refused within that
//! delay, and the hot path stays free of network calls.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Revocations;
use crate::jose::profile::ACCESS_TOKEN;
use crate::jose::{Expect, TokenError, Verifier};
use crate::tls::client::HttpsClient;

/// How a remote resource server reaches its authorization server.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    pub issuer: String,
    pub jwks_uri: String,
    /// PEM bundle to verify the AS's TLS certificate with.
    pub ca_pem: Vec<u8>,
    /// The RS's own certificate and key (PEM), for the revocation list.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
    /// `client_id` of the RS at the AS, and the revocation-list URL; without them revocations
    /// are not tracked.
    pub client_id: Option<String>,
    pub revocations_uri: Option<String>,
    pub revocation_poll: Duration,
    pub min_jwks_refresh: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("{0}: {1}")]
    Fetch(String, String),
}

/// The remote authorization server, as seen by a resource server.
pub struct RemoteAuthority {
    config: RemoteConfig,
    http: HttpsClient,
    verifier: RwLock<Arc<Verifier>>,
    last_fetch: tokio::sync::Mutex<Instant>,
    fetches: AtomicU64,
    revocations: Arc<Revocations>,
}

impl RemoteAuthority {
    /// Fetches the JWKS once (failing if it cannot) and starts the background refreshers.
    pub async fn connect(config: RemoteConfig) -> Result<Arc<Self>, RemoteError> {
        let http = HttpsClient::new(&config.ca_pem, config.identity.as_ref()).map_err(RemoteError::Tls)?;
        let verifier = fetch_jwks(&http, &config.jwks_uri).await?;
        let authority = Arc::new(Self {
            http,
            verifier: RwLock::new(Arc::new(verifier)),
            last_fetch: tokio::sync::Mutex::new(Instant::now()),
            fetches: AtomicU64::new(1),
            revocations: Arc::new(Revocations::default()),
            config,
        });
        tokio::spawn(refresh_periodically(Arc::downgrade(&authority)));
        Ok(authority)
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    pub fn revocation_poll(&self) -> Duration {
        self.config.revocation_poll
    }

    pub fn revocations(&self) -> Arc<Revocations> {
        self.revocations.clone()
    }

    /// How many times the JWKS was fetched (for tests and metrics).
    pub fn jwks_fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Verifies a token, refreshing the JWKS first if its `kid` is unknown and the last fetch
    /// is old enough.
    pub async fn decode<T: serde::de::DeserializeOwned>(&self, token: &str, leeway: u64) -> Result<T, TokenError> {
        let expect = Expect {
            issuer: Some(&self.config.issuer),
            leeway,
        };
        let verifier = self.current();
        match verifier.decode(token, &ACCESS_TOKEN, expect) {
            Err(TokenError::UnknownKey) => {
                let kid = jsonwebtoken::decode_header(token)
                    .ok()
                    .and_then(|h| h.kid)
                    .ok_or(TokenError::UnknownKey)?;
                self.refresh_for(&kid).await;
                self.current().decode(token, &ACCESS_TOKEN, expect)
            }
            other => other,
        }
    }

    /// Whether the JWKS as last fetched has this key.
    pub fn knows_key(&self, kid: &str) -> bool {
        self.current().knows(kid)
    }

    fn current(&self) -> Arc<Verifier> {
        self.verifier.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Single-flight, rate-limited refresh.
    async fn refresh_for(&self, kid: &str) {
        let mut last = self.last_fetch.lock().await;
        if self.current().knows(kid) || last.elapsed() < self.config.min_jwks_refresh {
            return;
        }
        *last = Instant::now();
        self.refresh().await;
    }

    async fn refresh(&self) {
        match fetch_jwks(&self.http, &self.config.jwks_uri).await {
            Ok(verifier) => {
                self.fetches.fetch_add(1, Ordering::Relaxed);
                *self.verifier.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(verifier);
            }
            Err(e) => tracing::warn!(error = %e, "JWKS refresh failed; keeping the keys we have"),
        }
    }

    async fn poll_revocations(&self) {
        let (Some(uri), Some(client_id)) = (&self.config.revocations_uri, &self.config.client_id) else {
            return;
        };
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", client_id)
            .finish();
        match self.http.fetch(uri, Some(body)).await {
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(doc) => {
                    let list = |name: &str, field: &'static str| {
                        doc[name]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(move |r| r[field].as_str().map(String::from))
                    };
                    let disabled = doc["disabled_clients"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|c| c.as_str().map(String::from));
                    self.revocations
                        .replace(list("revoked", "jti"), list("revoked_grants", "grant_id"), disabled);
                }
                Err(e) => tracing::warn!(error = %e, "revocation list is not JSON"),
            },
            Err(e) => tracing::warn!(error = %e, "polling the revocation list failed"),
        }
    }
}

/// Keys every five minutes, revocations every `revocation_poll`, until the authority is dropped.
async fn refresh_periodically(authority: std::sync::Weak<RemoteAuthority>) {
    let Some(poll) = authority.upgrade().map(|a| a.config.revocation_poll) else {
        return;
    };
    let mut tick = tokio::time::interval(poll.max(Duration::from_millis(50)));
    let mut last_keys = Instant::now();
    loop {
        tick.tick().await;
        let Some(authority) = authority.upgrade() else {
            return;
        };
        authority.poll_revocations().await;
        if last_keys.elapsed() > Duration::from_secs(300) {
            authority.refresh().await;
            last_keys = Instant::now();
        }
    }
}

async fn fetch_jwks(http: &HttpsClient, uri: &str) -> Result<Verifier, RemoteError> {
    let body = http
        .fetch(uri, None)
        .await
        .map_err(|e| RemoteError::Fetch(uri.into(), e))?;
    let doc: Value = serde_json::from_slice(&body).map_err(|e| RemoteError::Fetch(uri.into(), e.to_string()))?;
    let keys = doc["keys"]
        .as_array()
        .ok_or_else(|| RemoteError::Fetch(uri.into(), "no keys".into()))?;
    Verifier::from_jwks(keys, true).map_err(|e| RemoteError::Fetch(uri.into(), e.to_string()))
}
