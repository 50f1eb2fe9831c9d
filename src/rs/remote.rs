//! A resource server in another process: verification keys from the authorization server's
//! JWKS, and revocations from its revocation list.
//!
//! The JWKS is fetched at start, every few minutes, and when a token names an unknown `kid`
//! (the AS rotated) — at most once per `min_jwks_refresh`, so a flood of made-up kids cannot
//! hammer the AS. Revocations are polled (`POST /revocations`, authenticated by mTLS as a client
//! registered with `--introspect`) every [`RevocationPoll::every`]: a revoked token is refused
//! within that delay, and the hot path stays free of network calls. A list older than
//! [`RevocationPoll::max_age`] is stale ([`WhenStale`]); [`super::health::router`] serves `/readyz` and metrics
//! that show it. Running without revocation takes an explicit [`Revocation::Off`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

pub use super::revocations::WhenStale;
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
    pub revocation: Revocation,
    pub min_jwks_refresh: Duration,
}

/// Where a remote guard learns which tokens were revoked.
#[derive(Debug, Clone)]
pub enum Revocation {
    /// Poll the AS's revocation list.
    Poll(RevocationPoll),
    /// No revocation at all: a revoked token works until it expires. Never the default: a
    /// deployment has to say so.
    Off,
}

/// Polling the AS's revocation list (`POST`, mTLS with `identity`, as `client_id`).
#[derive(Debug, Clone)]
pub struct RevocationPoll {
    pub uri: String,
    pub client_id: String,
    pub every: Duration,
    /// Older than this, the list is stale: `/readyz` says not ready and the guard does what
    /// `when_stale` says.
    pub max_age: Duration,
    pub when_stale: WhenStale,
}

impl RevocationPoll {
    /// Polls every `every`; stale after five missed polls (at least 10 s); refuses tokens then.
    pub fn new(uri: impl Into<String>, client_id: impl Into<String>, every: Duration) -> Self {
        Self {
            uri: uri.into(),
            client_id: client_id.into(),
            every,
            max_age: (every * 5).max(Duration::from_secs(10)),
            when_stale: WhenStale::Refuse,
        }
    }
}

/// Keys are polled this often when revocations are off.
const KEY_POLL_WITHOUT_REVOCATION: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("{0}: {1}")]
    Fetch(String, String),
    #[error("configuration: {0}")]
    Config(&'static str),
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
    /// Fetches the JWKS (failing if it cannot) and the revocation list once, and starts the
    /// background refreshers. A revocation list that cannot be fetched yet does not stop the
    /// start: the guard is not ready, and refuses tokens, until it can.
    pub async fn connect(config: RemoteConfig) -> Result<Arc<Self>, RemoteError> {
        let revocations = match &config.revocation {
            Revocation::Poll(_) if config.identity.is_none() => {
                return Err(RemoteError::Config(
                    "polling the revocation list needs the resource server's certificate (identity)",
                ))
            }
            Revocation::Poll(poll) => Revocations::bounded(poll.max_age, poll.when_stale),
            Revocation::Off => {
                tracing::warn!("revocation is off: revoked tokens are accepted until they expire");
                Revocations::default()
            }
        };
        let http = HttpsClient::new(&config.ca_pem, config.identity.as_ref()).map_err(RemoteError::Tls)?;
        let verifier = fetch_jwks(&http, &config.jwks_uri).await?;
        let authority = Arc::new(Self {
            http,
            verifier: RwLock::new(Arc::new(verifier)),
            last_fetch: tokio::sync::Mutex::new(Instant::now()),
            fetches: AtomicU64::new(1),
            revocations: Arc::new(revocations),
            config,
        });
        authority.poll_revocations().await;
        tokio::spawn(refresh_periodically(Arc::downgrade(&authority)));
        Ok(authority)
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// How often revocations (and with them API keys) are refreshed.
    pub fn revocation_poll(&self) -> Duration {
        match &self.config.revocation {
            Revocation::Poll(poll) => poll.every,
            Revocation::Off => KEY_POLL_WITHOUT_REVOCATION,
        }
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

    /// One poll. Only a complete list replaces the one held: anything else (an error, a body
    /// that is not the list) counts as a failure and leaves the list to age.
    async fn poll_revocations(&self) {
        let Revocation::Poll(poll) = &self.config.revocation else {
            return;
        };
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &poll.client_id)
            .finish();
        let list = self
            .http
            .fetch(&poll.uri, Some(body))
            .await
            .and_then(|bytes| serde_json::from_slice::<RevocationList>(&bytes).map_err(|e| e.to_string()));
        match list {
            Ok(list) => self.revocations.replace(
                list.revoked.into_iter().map(|r| r.jti),
                list.revoked_grants.into_iter().map(|g| g.grant_id),
                list.disabled_clients,
                list.revoked_clients.into_iter().map(|c| (c.client_id, c.revoked_at)),
            ),
            Err(e) => {
                tracing::warn!(error = %e, "polling the revocation list failed");
                self.revocations.refresh_failed();
            }
        }
    }
}

/// The body of `POST /revocations`, every field required.
#[derive(Deserialize)]
struct RevocationList {
    revoked: Vec<RevokedToken>,
    revoked_grants: Vec<RevokedGrant>,
    disabled_clients: Vec<String>,
    revoked_clients: Vec<RevokedClient>,
}

#[derive(Deserialize)]
struct RevokedClient {
    client_id: String,
    revoked_at: i64,
}

#[derive(Deserialize)]
struct RevokedToken {
    jti: String,
}

#[derive(Deserialize)]
struct RevokedGrant {
    grant_id: String,
}

/// Keys every five minutes, revocations every `revocation_poll`, until the authority is dropped.
async fn refresh_periodically(authority: std::sync::Weak<RemoteAuthority>) {
    let Some(poll) = authority.upgrade().map(|a| a.revocation_poll()) else {
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

#[cfg(test)]
mod tests {
    use super::RevocationList;

    /// An answer that is not the whole list (an error body, a truncated document) must not
    /// replace the list held with an empty one.
    #[test]
    fn only_a_complete_list_parses() {
        let complete =
            r#"{"revoked":[{"jti":"a","exp":1}],"revoked_grants":[],"disabled_clients":["c"],"revoked_clients":[]}"#;
        let list: RevocationList = serde_json::from_str(complete).unwrap();
        assert_eq!((list.revoked[0].jti.as_str(), list.disabled_clients.len()), ("a", 1));
        for partial in [
            "{}",
            r#"{"error":"invalid_client"}"#,
            r#"{"revoked":[],"revoked_grants":[]}"#,
            r#"{"revoked":[],"revoked_grants":[],"disabled_clients":[]}"#,
            r#"{"revoked":[{"exp":1}],"revoked_grants":[],"disabled_clients":[],"revoked_clients":[]}"#,
        ] {
            assert!(serde_json::from_str::<RevocationList>(partial).is_err(), "{partial}");
        }
    }
}
