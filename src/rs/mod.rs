//! Resource-server protection: a tower layer that admits a request only with a sender-constrained
//! access token — bound to the connection's client certificate (RFC 8705 §3) or to the key of
//! the request's DPoP proof (RFC 9449 §7) — carrying the route's scopes, and, where the route
//! asks, an API key of the same client.
//!
//! It needs no authorization server in the process: [`Guard::remote`] takes keys and
//! revocations from a remote one; [`Guard::local`] shares them with one running alongside.
//!
//! ```text
//! let guard = Guard::remote(authority, vec![issuer.clone()], Some(api_keys));
//! let api = Router::new()
//!     .route("/accounts", get(accounts))
//!     .layer(guard.require(Policy::scopes(&["accounts"])?.with_api_key()));
//! // handlers take `Authenticated`
//! ```
//!
//! Each rule is a named check with one error ([`checks`]); [`Guard::check`] lists them in order,
//! and counts what it decided in the guard's [`Decisions`] (shared by [`Guard::with_decisions`],
//! read by [`Guard::decisions`]) under the refusing check's [`Reason`].

pub mod api_keys;
mod authenticated;
mod cache;
mod checks;
mod decisions;
mod dpop;
mod error;
pub mod gateway;
pub mod health;
mod incoming;
mod layer;
mod policy;
pub mod remote;
pub mod replay;
mod revocations;

use std::sync::Arc;

use crate::domain::Proofs;
use crate::jose::profile::ACCESS_TOKEN;
use crate::jose::{Expect, LiveKeyRing, TokenError};

pub use api_keys::ApiKeys;
pub use authenticated::Authenticated;
pub use cache::Verified;
use cache::{Claims, TokenCache};
use checks::*;
use decisions::Denied;
pub use decisions::{Decisions, Reason};
pub use error::{Refusal, RsError, Scheme, DPOP_ALGS};
pub use incoming::Incoming;
pub use layer::{Require, RequireLayer};
pub use policy::{InvalidScope, Policy, SenderBinding};
pub use replay::ReplayStore;
pub use revocations::Revocations;

/// Seconds of clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY: u64 = 5;

/// An authorization server running in the same process, as its resource servers see it: the
/// keys it signs with, and the revocations and API keys it keeps current.
#[derive(Clone)]
pub struct LocalAuthority {
    pub issuer: String,
    pub keys: Arc<LiveKeyRing>,
    pub revocations: Arc<Revocations>,
    pub api_keys: Arc<ApiKeys>,
    /// The origins its resources are reached at (for DPoP `htu`): its issuer and mTLS base.
    pub origins: Vec<String>,
    /// Where its resources remember DPoP proofs.
    pub dpop_replay: Arc<ReplayStore>,
}

/// Where the token-signing keys come from.
enum Keys {
    Local(Arc<LiveKeyRing>),
    Remote(Arc<remote::RemoteAuthority>),
}

struct Inner {
    keys: Keys,
    issuer: String,
    audiences: Vec<String>,
    revocations: Arc<Revocations>,
    api_keys: Option<Arc<ApiKeys>>,
    cache: TokenCache,
    /// The public origins (`https://host[:port]`) requests reach this resource server at; when
    /// empty, the request's `Host` is taken.
    origins: Vec<String>,
    dpop_replay: Arc<ReplayStore>,
    decisions: Arc<Decisions>,
}

/// Verifies requests for one resource server (one issuer, a set of accepted audiences).
#[derive(Clone)]
pub struct Guard(Arc<Inner>);

impl Guard {
    /// For resource servers in the same process as the authorization server: the keys, the
    /// revocation list and the API keys are the server's own, kept current by it.
    pub fn local(authority: &LocalAuthority, audiences: Vec<String>) -> Self {
        Self(Arc::new(Inner {
            issuer: authority.issuer.clone(),
            audiences,
            revocations: authority.revocations.clone(),
            api_keys: Some(authority.api_keys.clone()),
            keys: Keys::Local(authority.keys.clone()),
            cache: TokenCache::default(),
            origins: authority.origins.clone(),
            dpop_replay: authority.dpop_replay.clone(),
            decisions: Arc::default(),
        }))
    }

    /// For a separate resource server: keys from the authorization server's JWKS, revocations
    /// polled from it, API keys from the shared database if given (reloaded as often as
    /// revocations are polled, so a revoked key stops working within that delay too).
    pub fn remote(
        authority: Arc<remote::RemoteAuthority>,
        audiences: Vec<String>,
        api_keys: Option<Arc<ApiKeys>>,
    ) -> Self {
        if let Some(keys) = &api_keys {
            tokio::spawn(api_keys::reload_periodically(
                Arc::downgrade(keys),
                authority.revocation_poll(),
            ));
        }
        Self(Arc::new(Inner {
            issuer: authority.issuer().to_string(),
            audiences,
            revocations: authority.revocations(),
            api_keys,
            keys: Keys::Remote(authority),
            cache: TokenCache::default(),
            origins: Vec::new(),
            dpop_replay: Arc::new(ReplayStore::default()),
            decisions: Arc::default(),
        }))
    }

    /// The public origins (`https://api.bank.example`) clients address this resource server
    /// at, which DPoP proofs' `htu` must name. Without them the request's `Host` is taken, which
    /// is right only when clients reach this process directly.
    pub fn with_origins(self, origins: Vec<String>) -> Self {
        let origins = origins
            .into_iter()
            .map(|o| o.trim_end_matches('/').to_string())
            .collect();
        self.rebuild(|inner| inner.origins = origins)
    }

    /// Where DPoP proofs are remembered: this process's memory by default, or a Redis shared by
    /// a fleet ([`replay::RedisReplay`]).
    pub fn with_replay_store(self, store: Arc<ReplayStore>) -> Self {
        self.rebuild(|inner| inner.dpop_replay = store)
    }

    /// Where this guard counts its decisions: its own counters by default, or ones shared with
    /// other guards so that one `/metrics` shows them together.
    pub fn with_decisions(self, decisions: Arc<Decisions>) -> Self {
        self.rebuild(|inner| inner.decisions = decisions)
    }

    /// The counters this guard counts its decisions in, for a service's own `/metrics`
    /// ([`Decisions::render`]).
    pub fn decisions(&self) -> &Arc<Decisions> {
        &self.0.decisions
    }

    fn rebuild(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.0).unwrap_or_else(|_| panic!("configure a Guard before cloning it"));
        change(&mut inner);
        Self(Arc::new(inner))
    }

    /// A layer enforcing `policy` on the routes it wraps.
    pub fn require(&self, policy: Policy) -> RequireLayer {
        RequireLayer {
            guard: self.clone(),
            policy: Arc::new(policy),
        }
    }

    /// Runs every check of `policy` against one request, and counts the decision.
    pub async fn check(&self, policy: &Policy, request: &Incoming<'_>) -> Result<Authenticated, Refusal> {
        let decision = self.run_checks(policy, request).await;
        self.0
            .decisions
            .count(decision.as_ref().map(|_| ()).map_err(|Denied(reason, _)| *reason));
        decision.map_err(|Denied(_, error)| Refusal {
            error,
            scheme: scheme_of(request.headers),
            accepts: policy.binding,
        })
    }

    async fn run_checks(&self, policy: &Policy, request: &Incoming<'_>) -> Result<Authenticated, Denied> {
        let now = crate::now();
        check_no_token_in_query(request.query)?;
        let (scheme, token) = access_token(request.headers)?;
        check_revocations_fresh(&self.0.revocations)?;
        let verified = self.verified(token, now).await?;
        check_not_expired(&verified, now)?;
        check_not_revoked(&self.0.revocations, &verified)?;
        check_not_revoked_with_client(&self.0.revocations, &verified)?;
        check_client_not_disabled(&self.0.revocations, &verified)?;
        check_scheme_fits_token(policy, &verified, scheme)?;
        let dpop_key = match scheme {
            Scheme::Dpop => {
                Some(dpop::check_dpop_proof(&self.0.dpop_replay, &self.0.origins, request, token, now).await?)
            }
            Scheme::Bearer => None,
        };
        let certificate = request.cert.get().map(|c| *c.thumbprint());
        let proofs = Proofs {
            certificate: certificate.as_ref(),
            dpop_key: dpop_key.as_ref(),
        };
        check_sender_binding(&verified, proofs)?;
        check_scopes(policy, &verified)?;
        if policy.api_key {
            let api_keys = self.0.api_keys.as_deref().ok_or_else(|| {
                Denied(
                    Reason::ApiKeysUnconfigured,
                    RsError::Internal("no API key store".into()),
                )
            })?;
            check_api_key(api_keys, request.headers, &verified, request.cert, now).await?;
        }
        Ok(Authenticated {
            token: verified,
            cert_thumbprint: certificate,
            dpop_key,
        })
    }

    /// The token's verified claims, from the cache or by checking the signature, `typ`, `iss`,
    /// `exp`/`nbf` and `aud`. Only successful verifications are cached, and a cached one holds
    /// only while its key is still published: a purged key takes its tokens with it.
    async fn verified(&self, token: &str, now: i64) -> Result<Arc<Verified>, Denied> {
        if let Some(hit) = self.0.cache.get(token) {
            if self.knows_key(&hit.kid) {
                return Ok(hit);
            }
            self.0.cache.remove(token);
            tracing::info!(kid = %hit.kid, "cached token's signing key is gone");
            return Err(Denied(
                Reason::InvalidToken,
                RsError::InvalidToken("the access token is invalid"),
            ));
        }
        check_token68(token)?;
        let claims: Claims = match &self.0.keys {
            Keys::Local(keys) => keys.current().verifier().decode(
                token,
                &ACCESS_TOKEN,
                Expect {
                    issuer: Some(&self.0.issuer),
                    leeway: LEEWAY,
                },
            ),
            Keys::Remote(authority) => authority.decode(token, LEEWAY).await,
        }
        .map_err(|e| {
            tracing::debug!(reason = %e, "access token refused");
            match e {
                TokenError::Expired => Denied(Reason::TokenExpired, RsError::InvalidToken("the access token expired")),
                _ => Denied(
                    Reason::InvalidToken,
                    RsError::InvalidToken("the access token is invalid"),
                ),
            }
        })?;
        check_audience(&self.0.audiences, &claims.aud)?;
        let kid = jsonwebtoken::decode_header(token)
            .ok()
            .and_then(|h| h.kid)
            .unwrap_or_default();
        let verified = Arc::new(Verified::from_claims(claims, kid));
        self.0.cache.insert(token, verified.clone(), now);
        Ok(verified)
    }

    fn knows_key(&self, kid: &str) -> bool {
        match &self.0.keys {
            Keys::Local(keys) => keys.current().verifier().knows(kid),
            Keys::Remote(authority) => authority.knows_key(kid),
        }
    }
}
