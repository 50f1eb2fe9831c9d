//! DPoP at the authorization server (RFC 9449 §4, §5, §8): a proof in the `DPoP` header of a PAR
//! or token request binds what is issued to the proof's key. The checks every proof gets are
//! `domain::dpop`'s; the authorization server adds a server nonce of the current or previous
//! period, and a `jti` never seen before (recorded in the database, so a replay through another
//! node is refused too). The stateless checks run before client
//! authentication, so that a `use_dpop_nonce` answer does not use up the client's assertion; the
//! `jti` is recorded only once the client is authenticated, so that no stranger can write to the
//! replay store.

use axum::extract::FromRequestParts;
use axum::http::{header::HeaderName, HeaderValue};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

use super::{OAuthError, Shared};
use crate::domain::dpop::{self, Expected, Proof};
use crate::domain::Jkt;

pub const DPOP: HeaderName = HeaderName::from_static("dpop");
pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");
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

/// A proof that passed every check but the replay check.
pub struct CheckedProof(Proof);

/// Checks the request's DPoP proof, if any, for `POST` to `path` on one of this server's
/// listeners, all but its `jti`: see [`first_use`].
pub fn check(state: &Shared, header: &DpopHeader, path: &str, now: i64) -> Result<Option<CheckedProof>, OAuthError> {
    let Some(proof) = &header.0 else { return Ok(None) };
    let uris: Vec<String> = std::iter::once(&state.endpoints.issuer)
        .chain(state.endpoints.mtls_base.as_ref())
        .map(|base| format!("{base}{path}"))
        .collect();
    let expected = Expected {
        method: "POST",
        uris: &uris,
        access_token: None,
        now,
    };
    let proof = dpop::verify(proof, &expected).map_err(|e| {
        tracing::info!(reason = e.description(), "DPoP proof refused");
        OAuthError::InvalidDpopProof(e.description())
    })?;
    check_nonce(state, &proof, now)?;
    Ok(Some(CheckedProof(proof)))
}

/// When nonces are required, the proof carries one of ours; otherwise the client is told the
/// current one (`use_dpop_nonce`, with `DPoP-Nonce`).
fn check_nonce(state: &Shared, proof: &Proof, now: i64) -> Result<(), OAuthError> {
    if !state.dpop_nonces.required {
        return Ok(());
    }
    match &proof.claims.nonce {
        Some(nonce) if state.dpop_nonces.is_valid(nonce, now) => Ok(()),
        _ => Err(OAuthError::UseDpopNonce(state.dpop_nonces.current(now))),
    }
}

/// Records the `jti` of a checked proof, if there is one, and returns its key's thumbprint.
/// Each proof is used once: its `jti` is remembered, per key, in the database as long as the
/// proof would be accepted, so a replay through another node is refused too.
pub async fn first_use(state: &Shared, proof: Option<CheckedProof>) -> Result<Option<Jkt>, OAuthError> {
    let Some(CheckedProof(proof)) = proof else {
        return Ok(None);
    };
    let scope = format!("dpop:{}", proof.jkt.to_base64url());
    let first = state
        .jtis
        .record(&scope, &proof.claims.jti, proof.remember_until())
        .await
        .map_err(OAuthError::internal)?;
    if first {
        Ok(Some(proof.jkt))
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
}
