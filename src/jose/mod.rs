//! JOSE: signing keys, JWT verification by profile, the JWKS, and the key-encryption key. It
//! knows JWS and JWK, not what any endpoint does with them: the claims a token carries are the
//! caller's (see `domain::token`), and so is where keys are stored.
//!
//! Tokens are signed with aws-lc-rs key pairs held in memory (jsonwebtoken's `encode` re-parses
//! the PKCS#8 key on every call, which alone would cost more than the whole per-token budget) and
//! verified with jsonwebtoken, against keys whose algorithm is fixed by the key, never by the
//! token header.

pub mod kek;
mod key_ring;
pub mod profile;
mod signing;
mod verify;

use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use kek::{KekSource, KeyEncryptionKey};
pub use key_ring::{KeyRing, LiveKeyRing};
pub use profile::Profile;
pub use signing::{JwtType, SigningKey};
pub use verify::{decode_with_embedded_key, Expect, VerificationKey, Verifier};

/// The JWS algorithms FAPI 2.0 allows (Security Profile §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    Es256,
    Ps256,
    EdDsa,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 3] = [SigningAlg::Es256, SigningAlg::Ps256, SigningAlg::EdDsa];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Es256 => "ES256",
            SigningAlg::Ps256 => "PS256",
            SigningAlg::EdDsa => "EdDSA",
        }
    }

    fn jsonwebtoken(self) -> Algorithm {
        match self {
            SigningAlg::Es256 => Algorithm::ES256,
            SigningAlg::Ps256 => Algorithm::PS256,
            SigningAlg::EdDsa => Algorithm::EdDSA,
        }
    }
}

impl FromStr for SigningAlg {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|a| a.as_str() == s).ok_or(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed")]
    Generate,
    #[error("stored key is invalid: {0}")]
    Invalid(String),
    #[error("signing failed")]
    Sign,
}

/// Why a JWT did not verify; callers map every variant to their own refusal.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("wrong token type (typ)")]
    WrongType,
    #[error("unknown key id")]
    UnknownKey,
    #[error("algorithm not allowed or not the key's")]
    WrongAlgorithm,
    #[error("bad signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("invalid claims")]
    InvalidClaims,
}

/// RFC 7638 JWK thumbprint of a JWK holding exactly its required members.
pub fn jwk_thumbprint(required_members: &Value) -> String {
    URL_SAFE_NO_PAD.encode(jwk_thumbprint_bytes(required_members))
}

/// The SHA-256 of RFC 7638 §3: the required members, sorted, without whitespace.
pub fn jwk_thumbprint_bytes(required_members: &Value) -> [u8; 32] {
    // serde_json's map is ordered by key, which is the lexicographic order RFC 7638 §3.3 asks.
    Sha256::digest(required_members.to_string()).into()
}

/// The members RFC 7638 §3.2 hashes for a public key of each type certbound accepts.
pub fn required_members(jwk: &Value) -> Option<Value> {
    let member = |name: &str| jwk.get(name)?.as_str().map(|v| Value::String(v.into()));
    let members: &[&str] = match jwk.get("kty")?.as_str()? {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let mut map = serde_json::Map::new();
    for name in members {
        map.insert(name.to_string(), member(name)?);
    }
    Some(Value::Object(map))
}

/// 128 random bits, base64url, starting with a letter or digit: token and client ids.
pub fn random_id() -> String {
    loop {
        let mut bytes = [0u8; 16];
        aws_lc_rs::rand::fill(&mut bytes).expect("system RNG");
        let id = URL_SAFE_NO_PAD.encode(bytes);
        // An id starting with `-` reads as an option on a command line (one in 32 would).
        if id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_never_start_like_an_option() {
        for _ in 0..4000 {
            let id = random_id();
            assert!(id.starts_with(|c: char| c.is_ascii_alphanumeric()), "{id}");
            assert_eq!(id.len(), 22);
        }
    }

    #[test]
    fn required_members_drop_the_rest() {
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "kid": "k", "alg": "ES256", "use": "sig"});
        assert_eq!(
            required_members(&jwk),
            Some(json!({"crv": "P-256", "kty": "EC", "x": "a", "y": "b"}))
        );
        assert_eq!(required_members(&json!({"kty": "oct", "k": "x"})), None);
        assert_eq!(required_members(&json!({"kty": "EC", "crv": "P-256", "x": "a"})), None);
    }

    #[test]
    fn rfc9449_jkt_vector() {
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA", "use": "sig"});
        let members = required_members(&jwk).unwrap();
        assert_eq!(jwk_thumbprint(&members), "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
    }

    #[test]
    fn rfc7638_thumbprint_vector() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let members = json!({"e": "AQAB", "kty": "RSA", "n": n});
        assert_eq!(jwk_thumbprint(&members), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }
}
