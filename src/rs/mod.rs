//! Resource-server protection: a tower layer that admits a request only with an access token
//! bound to the connection's client certificate (RFC 8705 §3), carrying the route's scopes, and,
//! where the route asks, an API key of the same client.
//!
//! ```text
//! let guard = Guard::local(state, vec![issuer.clone()]);
//! let api = Router::new()
//!     .route("/accounts", get(accounts))
//!     .layer(guard.require(Policy::scopes(&["accounts"]).with_api_key()));
//! // handlers take `Authenticated`
//! ```
//!
//! Each rule is a named check with one error; [`Guard::check`] lists them in order.

pub mod api_keys;
mod cache;
pub mod gateway;
pub mod remote;

use std::collections::HashSet;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::scope::is_scope_token;
use crate::domain::{Audience, Binding, Confirmation};
use crate::jose::profile::ACCESS_TOKEN;
use crate::jose::{Expect, TokenError};
use crate::oauth::AppState;
use crate::pki::Thumbprint;
use crate::tls::PeerCertificate;

pub use api_keys::ApiKeys;
use cache::TokenCache;
pub use cache::Verified;

/// Seconds of clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY: u64 = 5;

/// What a route requires.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Every one of these scopes must have been granted.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// An API key of the token's client in `x-api-key`.
    #[serde(default)]
    pub api_key: bool,
    /// Accept tokens without `cnf` (not certificate-bound). Off by default.
    #[serde(default)]
    pub allow_unbound: bool,
}

impl Policy {
    pub fn scopes(scopes: &[&str]) -> Self {
        Self {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ..Self::default()
        }
    }

    pub fn with_api_key(mut self) -> Self {
        self.api_key = true;
        self
    }

    pub fn validate(&self) -> Result<(), String> {
        match self.scopes.iter().find(|s| !is_scope_token(s)) {
            Some(bad) => Err(format!("invalid scope {bad:?}")),
            None => Ok(()),
        }
    }
}

/// Who made an admitted request; handlers take it as an extractor. Cheap to clone: the token's
/// verified claims are shared with the verification cache.
#[derive(Debug, Clone)]
pub struct Authenticated {
    token: Arc<Verified>,
    cert_thumbprint: Option<Thumbprint>,
}

impl Authenticated {
    pub fn client_id(&self) -> &str {
        &self.token.client_id
    }

    pub fn scopes(&self) -> &[String] {
        &self.token.scopes
    }

    /// The certificate the token is bound to, which is the one on this connection.
    pub fn cert_thumbprint(&self) -> Option<&Thumbprint> {
        self.cert_thumbprint.as_ref()
    }

    /// The token's `jti`.
    pub fn token_id(&self) -> &str {
        &self.token.jti
    }

    pub fn expires_at(&self) -> i64 {
        self.token.exp
    }

    /// RFC 9396 `authorization_details`, when the token carries them.
    pub fn authorization_details(&self) -> Option<&Value> {
        self.token.authorization_details.as_ref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = RsError;

    /// Fails closed: a handler that asks for `Authenticated` on a route without the layer
    /// refuses every request.
    async fn from_request_parts(parts: &mut http::request::Parts, _: &S) -> Result<Self, RsError> {
        parts
            .extensions
            .get::<Authenticated>()
            .cloned()
            .ok_or(RsError::MissingToken)
    }
}

/// RFC 6750 §3 errors, rendered with `WWW-Authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RsError {
    /// No credentials at all: a bare challenge (RFC 6750 §3.1).
    MissingToken,
    InvalidRequest(&'static str),
    InvalidToken(&'static str),
    InsufficientScope(String),
    /// Logged; the caller sees only a 500.
    Internal(String),
}

impl IntoResponse for RsError {
    fn into_response(self) -> Response {
        let (status, challenge, body) = match &self {
            RsError::MissingToken => (
                StatusCode::UNAUTHORIZED,
                r#"Bearer realm="certbound""#.to_string(),
                None,
            ),
            RsError::InvalidRequest(d) => (
                StatusCode::BAD_REQUEST,
                format!(r#"Bearer realm="certbound", error="invalid_request", error_description="{d}""#),
                Some(("invalid_request", d.to_string())),
            ),
            RsError::InvalidToken(d) => (
                StatusCode::UNAUTHORIZED,
                format!(r#"Bearer realm="certbound", error="invalid_token", error_description="{d}""#),
                Some(("invalid_token", d.to_string())),
            ),
            RsError::InsufficientScope(scope) => (
                StatusCode::FORBIDDEN,
                format!(r#"Bearer realm="certbound", error="insufficient_scope", scope="{scope}""#),
                Some(("insufficient_scope", format!("requires scope {scope}"))),
            ),
            RsError::Internal(detail) => {
                tracing::error!(error = %detail, "resource server error");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        let mut response = match body {
            Some((code, description)) => (
                status,
                axum::Json(serde_json::json!({"error": code, "error_description": description})),
            )
                .into_response(),
            None => status.into_response(),
        };
        let headers = response.headers_mut();
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&challenge).expect("ASCII challenge"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// Revoked token ids, refreshed from the authorization server in the background.
#[derive(Debug, Default)]
pub struct Revocations {
    jtis: RwLock<HashSet<String>>,
}

impl Revocations {
    pub fn replace(&self, jtis: impl IntoIterator<Item = String>) {
        *self.jtis.write().unwrap_or_else(|e| e.into_inner()) = jtis.into_iter().collect();
    }

    pub fn contains(&self, jti: &str) -> bool {
        self.jtis.read().unwrap_or_else(|e| e.into_inner()).contains(jti)
    }
}

/// Where the token-signing keys come from.
enum Keys {
    /// This process is the authorization server.
    Local(AppState),
    /// A remote authorization server's JWKS.
    Remote(Arc<remote::RemoteAuthority>),
}

struct Inner {
    keys: Keys,
    issuer: String,
    audiences: Vec<String>,
    revocations: Arc<Revocations>,
    api_keys: Option<Arc<ApiKeys>>,
    cache: TokenCache,
}

/// Verifies requests for one resource server (one issuer, a set of accepted audiences).
#[derive(Clone)]
pub struct Guard(Arc<Inner>);

impl Guard {
    /// For resource servers in the same process as the authorization server: the keys, the
    /// revocation list and the API keys are the server's own, kept current by it.
    pub fn local(state: AppState, audiences: Vec<String>) -> Self {
        Self(Arc::new(Inner {
            issuer: state.issuer().to_string(),
            audiences,
            revocations: state.revocations.clone(),
            api_keys: Some(state.api_keys.clone()),
            keys: Keys::Local(state),
            cache: TokenCache::default(),
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
        }))
    }

    /// A layer enforcing `policy` on the routes it wraps.
    pub fn require(&self, policy: Policy) -> RequireLayer {
        RequireLayer {
            guard: self.clone(),
            policy: Arc::new(policy),
        }
    }

    /// Runs every check of `policy` against one request.
    pub async fn check(
        &self,
        policy: &Policy,
        headers: &HeaderMap,
        query: Option<&str>,
        cert: &PeerCertificate,
    ) -> Result<Authenticated, RsError> {
        let now = crate::now();
        check_no_token_in_query(query)?;
        let token = bearer_token(headers)?;
        let verified = self.verified(token, now).await?;
        check_not_expired(&verified, now)?;
        check_not_revoked(&self.0.revocations, &verified)?;
        let thumbprint = check_certificate_binding(policy, &verified, cert)?;
        check_scopes(policy, &verified)?;
        if policy.api_key {
            let api_keys = self
                .0
                .api_keys
                .as_deref()
                .ok_or(RsError::Internal("no API key store".into()))?;
            check_api_key(api_keys, headers, &verified, cert, now).await?;
        }
        Ok(Authenticated {
            token: verified,
            cert_thumbprint: thumbprint,
        })
    }

    /// The token's verified claims, from the cache or by checking the signature, `typ`, `iss`,
    /// `exp`/`nbf` and `aud`. Only successful verifications are cached.
    async fn verified(&self, token: &str, now: i64) -> Result<Arc<Verified>, RsError> {
        if let Some(hit) = self.0.cache.get(token) {
            return Ok(hit);
        }
        check_token68(token)?;
        let claims: Claims = match &self.0.keys {
            Keys::Local(state) => state.keys().verifier().decode(
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
            RsError::InvalidToken(match e {
                TokenError::Expired => "the access token expired",
                _ => "the access token is invalid",
            })
        })?;
        check_audience(&self.0.audiences, &claims.aud)?;
        let verified = Arc::new(Verified::from_claims(claims));
        self.0.cache.insert(token, verified.clone(), now);
        Ok(verified)
    }
}

/// Access-token claims a resource server reads (RFC 9068 §2.2, RFC 8705 §3.1, RFC 9396).
#[derive(Debug, Deserialize, Serialize)]
struct Claims {
    aud: Audience,
    client_id: String,
    #[serde(default)]
    scope: Option<String>,
    jti: String,
    exp: i64,
    #[serde(default)]
    cnf: Option<Confirmation>,
    #[serde(default)]
    authorization_details: Option<Value>,
}

/// RFC 6750 §2.3 allows tokens in the query; FAPI and this server do not (they end up in logs).
fn check_no_token_in_query(query: Option<&str>) -> Result<(), RsError> {
    let in_query = query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split('=').next().is_some_and(|name| name == "access_token"))
    });
    if in_query {
        Err(RsError::InvalidRequest(
            "access tokens are not accepted in the query string",
        ))
    } else {
        Ok(())
    }
}

/// RFC 6750 §2.1: exactly one `Authorization: Bearer <token>` header. The token's characters
/// are checked on a cache miss only ([`check_token68`]): a cache hit is a token seen valid.
fn bearer_token(headers: &HeaderMap) -> Result<&str, RsError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(RsError::MissingToken);
    };
    if values.next().is_some() {
        return Err(RsError::InvalidRequest("more than one Authorization header"));
    }
    let value = value
        .to_str()
        .map_err(|_| RsError::InvalidRequest("malformed Authorization header"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or(RsError::InvalidRequest("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(RsError::MissingToken);
    }
    Ok(token.trim())
}

/// RFC 6750 §2.1 `b64token` characters.
fn check_token68(token: &str) -> Result<(), RsError> {
    let token68 = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
    if token.is_empty() || !token.bytes().all(token68) {
        return Err(RsError::InvalidRequest("malformed bearer token"));
    }
    Ok(())
}

fn check_audience(accepted: &[String], aud: &Audience) -> Result<(), RsError> {
    if aud.any_of(accepted) {
        Ok(())
    } else {
        Err(RsError::InvalidToken(
            "the access token is not for this resource server",
        ))
    }
}

/// Checked on every request, cached or not.
fn check_not_expired(token: &Verified, now: i64) -> Result<(), RsError> {
    if now <= token.exp + LEEWAY as i64 {
        Ok(())
    } else {
        Err(RsError::InvalidToken("the access token expired"))
    }
}

fn check_not_revoked(revocations: &Revocations, token: &Verified) -> Result<(), RsError> {
    if revocations.contains(&token.jti) {
        Err(RsError::InvalidToken("the access token was revoked"))
    } else {
        Ok(())
    }
}

/// RFC 8705 §3: the certificate on this connection must be the one the token is bound to.
/// Checked on every request, cached or not.
fn check_certificate_binding(
    policy: &Policy,
    token: &Verified,
    cert: &PeerCertificate,
) -> Result<Option<Thumbprint>, RsError> {
    let presented = cert.get().map(|c| *c.thumbprint());
    match token.cnf.as_ref().map(|cnf| cnf.check(presented.as_ref())) {
        Some(Binding::Holds) => Ok(presented),
        Some(Binding::Mismatch) => Err(RsError::InvalidToken(
            "the access token is bound to a different certificate",
        )),
        Some(Binding::Absent) => Err(RsError::InvalidToken(
            "the access token is certificate-bound; present the certificate",
        )),
        None if policy.allow_unbound => Ok(presented),
        None => Err(RsError::InvalidToken("the access token is not certificate-bound")),
    }
}

fn check_scopes(policy: &Policy, token: &Verified) -> Result<(), RsError> {
    let granted = |s: &String| token.scopes.iter().any(|g| g == s);
    if policy.scopes.iter().all(granted) {
        Ok(())
    } else {
        Err(RsError::InsufficientScope(policy.scopes.join(" ")))
    }
}

/// The `x-api-key` must be a live key of the token's client, and, if the key is bound to
/// certificates, presented over one of them. Every failure reads the same to the caller.
async fn check_api_key(
    keys: &ApiKeys,
    headers: &HeaderMap,
    token: &Verified,
    cert: &PeerCertificate,
    now: i64,
) -> Result<(), RsError> {
    let refused = RsError::InvalidToken("the request's credentials do not belong together");
    let mut values = headers.get_all(api_keys::HEADER).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(refused);
    };
    let presented = value.to_str().map_err(|_| refused.clone())?;
    keys.verify(presented, &token.client_id, cert.get().map(|c| c.thumbprint()), now)
        .await
        .map_err(|reason| {
            tracing::warn!(client_id = %token.client_id, %reason, "API key refused");
            refused
        })
}

/// The layer [`Guard::require`] returns.
#[derive(Clone)]
pub struct RequireLayer {
    guard: Guard,
    policy: Arc<Policy>,
}

impl<S> tower::Layer<S> for RequireLayer {
    type Service = Require<S>;

    fn layer(&self, inner: S) -> Require<S> {
        Require {
            inner,
            guard: self.guard.clone(),
            policy: self.policy.clone(),
        }
    }
}

/// The service [`RequireLayer`] wraps routes in.
#[derive(Clone)]
pub struct Require<S> {
    inner: S,
    guard: Guard,
    policy: Arc<Policy>,
}

impl<S> tower::Service<Request<Body>> for Require<S>
where
    S: tower::Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        // The clone is fresh; the ready one goes with this request (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (guard, policy) = (self.guard.clone(), self.policy.clone());
        Box::pin(async move {
            let cert = req.extensions().get::<PeerCertificate>().cloned().unwrap_or_default();
            match guard.check(&policy, req.headers(), req.uri().query(), &cert).await {
                Ok(authenticated) => {
                    req.extensions_mut().insert(authenticated);
                    inner.call(req).await
                }
                Err(e) => Ok(e.into_response()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h), Err(RsError::MissingToken));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&h), Err(RsError::MissingToken));
        h.insert(header::AUTHORIZATION, "bearer a.b.c".parse().unwrap());
        assert_eq!(bearer_token(&h), Ok("a.b.c"));
        assert!(check_token68("a.b.c").is_ok());
        assert!(matches!(check_token68("a b"), Err(RsError::InvalidRequest(_))));
        assert!(matches!(check_token68(""), Err(RsError::InvalidRequest(_))));
        h.append(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert!(matches!(bearer_token(&h), Err(RsError::InvalidRequest(_))));
    }

    #[test]
    fn query_tokens_are_refused() {
        assert!(check_no_token_in_query(Some("a=1&access_token=x")).is_err());
        assert!(check_no_token_in_query(Some("not_access_token=x")).is_ok());
        assert!(check_no_token_in_query(None).is_ok());
    }
}
