//! A DPoP proof (RFC 9449 §4) as both servers check it: the authorization server at PAR and
//! the token endpoint, a resource server on every call. Here are the checks that depend only on
//! the proof and the request it came with — the proof profile (typ `dpop+jwt`, an allowed
//! asymmetric algorithm, a public `jwk`, the signature), `htm`, `htu`, the `iat` window and, at a
//! resource, `ath`. Nonces and `jti` replay need state, and each server keeps its own.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Jkt;
use crate::jose::profile::DPOP_PROOF;
use crate::jose::{decode_with_embedded_key, jwk_thumbprint_bytes, required_members, Expect, TokenError};

/// How old a proof's `iat` may be, and how far ahead (clock skew): RFC 9449 §11.1's window,
/// which also bounds how long a `jti` must be remembered.
pub const MAX_AGE: i64 = 120;
pub const MAX_AHEAD: i64 = 5;

/// The claims of a proof (RFC 9449 §4.2).
#[derive(Debug, Deserialize)]
pub struct ProofClaims {
    pub jti: String,
    pub htm: String,
    pub htu: String,
    pub iat: i64,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub ath: Option<String>,
}

/// A proof that verified for its request: its key's thumbprint and its claims.
#[derive(Debug)]
pub struct Proof {
    pub jkt: Jkt,
    pub claims: ProofClaims,
}

impl Proof {
    /// What a replay store remembers: the `jti` under its key, hashed to a fixed size.
    pub fn replay_key(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.jkt.to_base64url());
        hasher.update(b".");
        hasher.update(self.claims.jti.as_bytes());
        hasher.finalize().into()
    }

    /// Until when the `jti` must be remembered: after that the proof is too old anyway.
    pub fn remember_until(&self) -> i64 {
        self.claims.iat + MAX_AGE + MAX_AHEAD
    }
}

/// The request a proof must be for.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub method: &'a str,
    /// The URLs this request may have been sent to (scheme, host, port, path).
    pub uris: &'a [String],
    /// At a resource, the access token the proof must name in `ath`.
    pub access_token: Option<&'a str>,
    pub now: i64,
}

/// Why a proof was refused; each a fixed description safe to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofError {
    Type,
    Key,
    Algorithm,
    Signature,
    Method,
    Uri,
    IssuedAt,
    TokenHash,
}

impl ProofError {
    pub fn description(self) -> &'static str {
        match self {
            ProofError::Type => "the proof's typ is not dpop+jwt",
            ProofError::Key => "the proof's jwk is missing, private or of a type not accepted",
            ProofError::Algorithm => "the proof's algorithm is not accepted",
            ProofError::Signature => "the proof is malformed or its signature does not verify",
            ProofError::Method => "htm is not this request's method",
            ProofError::Uri => "htu is not this request's URL",
            ProofError::IssuedAt => "the proof's iat is outside the accepted window",
            ProofError::TokenHash => "ath is missing or is not the hash of this access token",
        }
    }
}

/// Runs every stateless check on `proof` for the `expected` request.
pub fn verify(proof: &str, expected: &Expected<'_>) -> Result<Proof, ProofError> {
    let (claims, jwk): (ProofClaims, _) =
        decode_with_embedded_key(proof, &DPOP_PROOF, Expect::default()).map_err(|e| match e {
            TokenError::WrongType => ProofError::Type,
            TokenError::UnknownKey => ProofError::Key,
            TokenError::WrongAlgorithm => ProofError::Algorithm,
            _ => ProofError::Signature,
        })?;
    check_method(&claims, expected.method)?;
    check_uri(&claims, expected.uris)?;
    check_issued_at(&claims, expected.now)?;
    if let Some(token) = expected.access_token {
        check_token_hash(&claims, token)?;
    }
    let members = required_members(&jwk).ok_or(ProofError::Key)?;
    Ok(Proof {
        jkt: Jkt::from_bytes(jwk_thumbprint_bytes(&members)),
        claims,
    })
}

/// RFC 9449 §4.3 item 8: the method, case-sensitive as HTTP methods are.
fn check_method(claims: &ProofClaims, method: &str) -> Result<(), ProofError> {
    if claims.htm == method {
        Ok(())
    } else {
        Err(ProofError::Method)
    }
}

/// RFC 9449 §4.3 item 9: compared without query and fragment, scheme and host
/// case-insensitively, the default port implied.
fn check_uri(claims: &ProofClaims, uris: &[String]) -> Result<(), ProofError> {
    let presented = normalize(&claims.htu).ok_or(ProofError::Uri)?;
    if uris.iter().filter_map(|u| normalize(u)).any(|u| u == presented) {
        Ok(())
    } else {
        Err(ProofError::Uri)
    }
}

/// `scheme://host:port/path`, lower-cased where URIs are case-insensitive.
pub fn normalize(uri: &str) -> Option<String> {
    let uri: http::Uri = uri.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host()?.to_ascii_lowercase();
    let port = uri.port_u16().unwrap_or(if scheme == "https" { 443 } else { 80 });
    Some(format!("{scheme}://{host}:{port}{}", uri.path()))
}

fn check_issued_at(claims: &ProofClaims, now: i64) -> Result<(), ProofError> {
    if claims.iat >= now - MAX_AGE && claims.iat <= now + MAX_AHEAD {
        Ok(())
    } else {
        Err(ProofError::IssuedAt)
    }
}

/// RFC 9449 §4.3 item 11: `ath` is base64url(SHA-256(access token)), compared in constant time.
fn check_token_hash(claims: &ProofClaims, token: &str) -> Result<(), ProofError> {
    let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
    match &claims.ath {
        Some(ath) if bool::from(ath.as_bytes().ct_eq(expected.as_bytes())) => Ok(()),
        _ => Err(ProofError::TokenHash),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_token_hash_is_rfc9449s() {
        // RFC 9449 §7.1's example token and its ath.
        let claims = ProofClaims {
            jti: "j".into(),
            htm: "GET".into(),
            htu: "https://resource.example.org/protectedresource".into(),
            iat: 0,
            nonce: None,
            ath: Some("fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo".into()),
        };
        assert!(check_token_hash(&claims, "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU").is_ok());
        assert_eq!(check_token_hash(&claims, "another"), Err(ProofError::TokenHash));
    }
}
