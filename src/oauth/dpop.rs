//! DPoP at the authorization server (RFC 9449 §4, §5, §8): a proof in the `DPoP` header of a PAR
//! or token request binds what is issued to the proof's key. Each rule is a named check: the
//! DPoP-proof profile (typ `dpop+jwt`, an allowed asymmetric algorithm, a public `jwk`, the
//! signature), `htm` and `htu` of this request, `iat` within a window, a server nonce of the
//! current or previous period, and a `jti` never seen before (recorded in the database, so a
//! replay through another node is refused too). The stateless checks run before client
//! authentication, so that a `use_dpop_nonce` answer does not use up the client's assertion; the
//! `jti` is recorded only once the client is authenticated, so that no stranger can write to the
//! replay store.

use axum::extract::FromRequestParts;
use axum::http::{header::HeaderName, HeaderValue};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{OAuthError, Shared};
use crate::domain::Jkt;
use crate::jose::profile::DPOP_PROOF;
use crate::jose::{decode_with_embedded_key, jwk_thumbprint_bytes, required_members, Expect, TokenError};

pub const DPOP: HeaderName = HeaderName::from_static("dpop");
pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");
/// How far back a proof's `iat` may be, and how far ahead (clock skew).
const MAX_AGE: i64 = 120;
const MAX_AHEAD: i64 = 5;
/// Nonces rotate every period; one of the current or the previous period is accepted.
const NONCE_PERIOD: i64 = 300;

/// The request's DPoP proof, if it sent one; two `DPoP` headers are refused (RFC 9449 §4.3).
#[derive(Debug, Clone, Default)]
pub struct DpopHeader(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for DpopHeader {
    type Rejection = OAuthError;

    async fn from_request_parts(parts: &mut http::request::Parts, _: &S) -> Result<Self, OAuthError> {
        let mut values = parts.headers.get_all(DPOP).iter();
        let first = values.next();
        if values.next().is_some() {
            return Err(OAuthError::InvalidDpopProof("more than one DPoP header"));
        }
        match first.map(|v| v.to_str()) {
            None => Ok(Self(None)),
            Some(Ok(proof)) => Ok(Self(Some(proof.to_string()))),
            Some(Err(_)) => Err(OAuthError::InvalidDpopProof("malformed DPoP header")),
        }
    }
}

/// Server-provided nonces (RFC 9449 §8): an HMAC of the period, so every node with the same
/// key-encryption key issues and accepts the same ones without shared state.
pub struct DpopNonces {
    key: aws_lc_rs::hmac::Key,
    /// Refuse proofs without a valid nonce (`use_dpop_nonce`).
    pub required: bool,
}

impl DpopNonces {
    pub fn new(secret: [u8; 32], required: bool) -> Self {
        Self {
            key: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret),
            required,
        }
    }

    fn for_period(&self, period: i64) -> String {
        let tag = aws_lc_rs::hmac::sign(&self.key, &period.to_be_bytes());
        let mut bytes = period.to_be_bytes().to_vec();
        bytes.extend_from_slice(&tag.as_ref()[..16]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The nonce to hand out now.
    pub fn current(&self, now: i64) -> String {
        self.for_period(now.div_euclid(NONCE_PERIOD))
    }

    /// One of the current or the previous period's nonces.
    fn is_valid(&self, nonce: &str, now: i64) -> bool {
        let period = now.div_euclid(NONCE_PERIOD);
        [period, period - 1].iter().fold(false, |ok, p| {
            ok | bool::from(self.for_period(*p).as_bytes().ct_eq(nonce.as_bytes()))
        })
    }

    /// Adds the current nonce to a response (RFC 9449 §8.2: a server may send one on success).
    pub fn attach(&self, response: &mut Response, now: i64) {
        if let Ok(value) = HeaderValue::from_str(&self.current(now)) {
            response.headers_mut().insert(DPOP_NONCE, value);
        }
    }
}

/// The claims of a proof (RFC 9449 §4.2).
#[derive(Debug, Deserialize)]
struct Claims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    nonce: Option<String>,
}

/// A proof that passed every check but the replay check.
pub struct CheckedProof {
    jkt: Jkt,
    claims: Claims,
}

/// Checks the request's DPoP proof, if any, for `POST` to `path` on one of this server's
/// listeners, all but its `jti`: see [`CheckedProof::first_use`].
pub fn check(state: &Shared, header: &DpopHeader, path: &str, now: i64) -> Result<Option<CheckedProof>, OAuthError> {
    let Some(proof) = &header.0 else { return Ok(None) };
    let (claims, jwk): (Claims, _) = decode_with_embedded_key(proof, &DPOP_PROOF, Expect::default()).map_err(|e| {
        tracing::info!(reason = %e, "DPoP proof refused");
        OAuthError::InvalidDpopProof(match e {
            TokenError::WrongType => "the proof's typ is not dpop+jwt",
            TokenError::UnknownKey => "the proof's jwk is missing, private or of a type not accepted",
            TokenError::WrongAlgorithm => "the proof's algorithm is not accepted",
            _ => "the proof does not verify",
        })
    })?;
    check_method(&claims)?;
    check_uri(state, &claims, path)?;
    check_issued_at(&claims, now)?;
    check_nonce(state, &claims, now)?;
    let members = required_members(&jwk).ok_or(OAuthError::InvalidDpopProof("the proof's jwk is incomplete"))?;
    let jkt = Jkt::from_bytes(jwk_thumbprint_bytes(&members));
    Ok(Some(CheckedProof { jkt, claims }))
}

impl CheckedProof {
    /// Each proof is used once; its `jti` is remembered, per key, as long as the proof is
    /// accepted. Returns the key's thumbprint.
    pub async fn first_use(self, state: &Shared) -> Result<Jkt, OAuthError> {
        check_not_replayed(state, &self.claims, &self.jkt).await?;
        Ok(self.jkt)
    }
}

/// Records the `jti` of a checked proof, if there is one: the key's thumbprint.
pub async fn first_use(state: &Shared, proof: Option<CheckedProof>) -> Result<Option<Jkt>, OAuthError> {
    match proof {
        Some(proof) => proof.first_use(state).await.map(Some),
        None => Ok(None),
    }
}

/// Both endpoints take POST only.
fn check_method(claims: &Claims) -> Result<(), OAuthError> {
    if claims.htm == "POST" {
        Ok(())
    } else {
        Err(OAuthError::InvalidDpopProof("htm is not this request's method"))
    }
}

/// `htu` is this endpoint's URL on one of the listeners, compared without query and fragment
/// (RFC 9449 §4.3 item 9), scheme and host case-insensitively, the default port implied.
fn check_uri(state: &Shared, claims: &Claims, path: &str) -> Result<(), OAuthError> {
    let presented = normalize(&claims.htu);
    let ours = std::iter::once(&state.endpoints.issuer)
        .chain(state.endpoints.mtls_base.as_ref())
        .filter_map(|base| normalize(&format!("{base}{path}")));
    match presented {
        Some(presented) if ours.into_iter().any(|o| o == presented) => Ok(()),
        _ => Err(OAuthError::InvalidDpopProof("htu is not this endpoint")),
    }
}

/// `scheme://host:port/path`, lower-cased where URIs are case-insensitive.
fn normalize(uri: &str) -> Option<String> {
    let uri: http::Uri = uri.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host()?.to_ascii_lowercase();
    let port = uri.port_u16().unwrap_or(if scheme == "https" { 443 } else { 80 });
    Some(format!("{scheme}://{host}:{port}{}", uri.path()))
}

fn check_issued_at(claims: &Claims, now: i64) -> Result<(), OAuthError> {
    if claims.iat >= now - MAX_AGE && claims.iat <= now + MAX_AHEAD {
        Ok(())
    } else {
        Err(OAuthError::InvalidDpopProof(
            "the proof's iat is outside the accepted window",
        ))
    }
}

/// When nonces are required, the proof carries one of ours; otherwise the client is told the
/// current one (`use_dpop_nonce`, with `DPoP-Nonce`).
fn check_nonce(state: &Shared, claims: &Claims, now: i64) -> Result<(), OAuthError> {
    if !state.dpop_nonces.required {
        return Ok(());
    }
    match &claims.nonce {
        Some(nonce) if state.dpop_nonces.is_valid(nonce, now) => Ok(()),
        _ => Err(OAuthError::UseDpopNonce(state.dpop_nonces.current(now))),
    }
}

/// A `jti` is recorded per key until the proof's `iat` leaves the window.
async fn check_not_replayed(state: &Shared, claims: &Claims, jkt: &Jkt) -> Result<(), OAuthError> {
    let scope = format!("dpop:{}", jkt.to_base64url());
    let first = state
        .store
        .record_jti(&scope, &claims.jti, claims.iat + MAX_AGE + MAX_AHEAD)
        .await
        .map_err(OAuthError::internal)?;
    if first {
        Ok(())
    } else {
        Err(OAuthError::InvalidDpopProof("the proof was used before"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_rotate_and_the_previous_one_stays_valid() {
        let nonces = DpopNonces::new([9; 32], true);
        let now = 1_000_000;
        let current = nonces.current(now);
        assert!(nonces.is_valid(&current, now));
        assert!(nonces.is_valid(&current, now + NONCE_PERIOD), "previous period");
        assert!(!nonces.is_valid(&current, now + 2 * NONCE_PERIOD), "too old");
        assert!(!nonces.is_valid("made-up", now));
        assert!(!DpopNonces::new([8; 32], true).is_valid(&current, now), "another key");
    }

    #[test]
    fn uris_normalize() {
        assert_eq!(
            normalize("https://AS.example/token?x=1#f"),
            Some("https://as.example:443/token".into())
        );
        assert_eq!(
            normalize("https://as.example:443/token"),
            Some("https://as.example:443/token".into())
        );
        assert_eq!(
            normalize("https://as.example:8444/token"),
            Some("https://as.example:8444/token".into())
        );
        assert_eq!(normalize("/token"), None);
    }
}
