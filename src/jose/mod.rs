//! JOSE: signing keys, the JWKS, and RFC 9068 JWT access tokens.
//!
//! Tokens are signed with aws-lc-rs key pairs held in memory (jsonwebtoken's `encode` re-parses
//! the PKCS#8 key on every call, which alone would cost more than our whole per-token budget)
//! and verified with jsonwebtoken, against keys whose algorithm is fixed by the key, never by the
//! token header.

pub mod kek;
pub mod keys;

use std::collections::HashMap;
use std::str::FromStr;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PSS_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub use kek::KeyEncryptionKey;

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

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private signing key, with its public JWK and pre-encoded JWS header.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    pair: Pair,
    public_jwk: Value,
    header_b64: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({} {})", self.alg.as_str(), self.kid)
    }
}

impl SigningKey {
    /// Generates a key and returns it with its PKCS#8 encoding for storage.
    pub fn generate(alg: SigningAlg) -> Result<(Self, Vec<u8>), KeyError> {
        use aws_lc_rs::encoding::AsDer;
        let pkcs8 = match alg {
            SigningAlg::Es256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| KeyError::Generate)?
                .as_ref()
                .to_vec(),
            SigningAlg::Ps256 => RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .and_then(|k| k.as_der())
                .map_err(|_| KeyError::Generate)?
                .as_ref()
                .to_vec(),
            SigningAlg::EdDsa => Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map_err(|_| KeyError::Generate)?
                .as_ref()
                .to_vec(),
        };
        Ok((Self::from_pkcs8(alg, &pkcs8)?, pkcs8))
    }

    pub fn from_pkcs8(alg: SigningAlg, pkcs8: &[u8]) -> Result<Self, KeyError> {
        let invalid = |e: aws_lc_rs::error::KeyRejected| KeyError::Invalid(e.to_string());
        let (pair, members) = match alg {
            SigningAlg::Es256 => {
                let k = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).map_err(invalid)?;
                let point = k.public_key().as_ref();
                let members = json!({
                    "crv": "P-256",
                    "kty": "EC",
                    "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                    "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
                });
                (Pair::Ec(k), members)
            }
            SigningAlg::Ps256 => {
                let k = RsaKeyPair::from_pkcs8(pkcs8).map_err(invalid)?;
                let public = k.public_key();
                let members = json!({
                    "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
                    "kty": "RSA",
                    "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                });
                (Pair::Rsa(k), members)
            }
            SigningAlg::EdDsa => {
                let k = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(invalid)?;
                let members = json!({
                    "crv": "Ed25519",
                    "kty": "OKP",
                    "x": URL_SAFE_NO_PAD.encode(k.public_key().as_ref()),
                });
                (Pair::Ed(k), members)
            }
        };
        let kid = jwk_thumbprint(&members);
        let mut public_jwk = members;
        public_jwk["kid"] = kid.clone().into();
        public_jwk["alg"] = alg.as_str().into();
        public_jwk["use"] = "sig".into();
        let header = json!({"alg": alg.as_str(), "kid": kid, "typ": "at+jwt"});
        Ok(Self {
            header_b64: URL_SAFE_NO_PAD.encode(header.to_string()),
            kid,
            alg,
            pair,
            public_jwk,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The public key as a JWK with `kid`, `alg` and `use`.
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// Signs `claims` as a compact JWS with header `{"alg","kid","typ":"at+jwt"}`.
    pub fn sign_access_token(&self, claims: &impl Serialize) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?;
        let mut jws = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 400);
        jws.push_str(&self.header_b64);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut jws);
        let signature = match &self.pair {
            Pair::Ec(k) => k
                .sign(&SystemRandom::new(), jws.as_bytes())
                .map_err(|_| KeyError::Sign)?
                .as_ref()
                .to_vec(),
            Pair::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&RSA_PSS_SHA256, &SystemRandom::new(), jws.as_bytes(), &mut sig)
                    .map_err(|_| KeyError::Sign)?;
                sig
            }
            Pair::Ed(k) => k.sign(jws.as_bytes()).as_ref().to_vec(),
        };
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut jws);
        Ok(jws)
    }
}

/// RFC 7638 JWK thumbprint of a JWK holding exactly its required members.
pub fn jwk_thumbprint(required_members: &Value) -> String {
    // serde_json's map is ordered by key, which is the lexicographic order RFC 7638 §3.3 asks.
    URL_SAFE_NO_PAD.encode(Sha256::digest(required_members.to_string()))
}

/// Why a token did not verify; callers map every variant to "not active" or `invalid_token`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token type is not at+jwt")]
    WrongType,
    #[error("unknown key id")]
    UnknownKey,
    #[error("algorithm does not match the key")]
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

/// A public key that tokens may be verified with; its algorithm comes from the JWK.
pub struct VerificationKey {
    alg: SigningAlg,
    key: DecodingKey,
}

impl VerificationKey {
    /// From a public JWK of one of our algorithms.
    pub fn from_jwk(jwk: &Value) -> Result<(String, Self), KeyError> {
        let text = |k: &str| {
            jwk.get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| KeyError::Invalid(format!("JWK lacks {k}")))
        };
        let alg: SigningAlg = text("alg")?.parse().map_err(|_| KeyError::Invalid("JWK alg".into()))?;
        let bad = |e: jsonwebtoken::errors::Error| KeyError::Invalid(e.to_string());
        let key = match alg {
            SigningAlg::Es256 => DecodingKey::from_ec_components(text("x")?, text("y")?).map_err(bad)?,
            SigningAlg::Ps256 => DecodingKey::from_rsa_components(text("n")?, text("e")?).map_err(bad)?,
            SigningAlg::EdDsa => DecodingKey::from_ed_components(text("x")?).map_err(bad)?,
        };
        Ok((text("kid")?.to_string(), Self { alg, key }))
    }
}

/// Public keys that access tokens may be verified with, by `kid`.
#[derive(Default)]
pub struct Verifier {
    keys: HashMap<String, VerificationKey>,
}

impl Verifier {
    /// From public JWKs. Keys of other algorithms, or without `kid`, are skipped when `lenient`
    /// (a remote JWKS may hold keys for other uses) and are an error otherwise.
    pub fn from_jwks(jwks: &[Value], lenient: bool) -> Result<Self, KeyError> {
        let mut keys = HashMap::new();
        for jwk in jwks {
            match VerificationKey::from_jwk(jwk) {
                Ok((kid, key)) => {
                    keys.insert(kid, key);
                }
                Err(_) if lenient => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Self { keys })
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    pub fn knows(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// Verifies a JWT access token: `typ` at+jwt (RFC 9068 §4), a known `kid`, the algorithm
    /// of that key (never one chosen by the token), the signature, `iss`, and `exp`/`nbf` with
    /// `leeway` seconds. `aud` is the caller's to check.
    pub fn decode<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
        leeway: u64,
    ) -> Result<T, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let typ_ok = header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt"));
        if !typ_ok {
            return Err(TokenError::WrongType);
        }
        let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
        let key = self.keys.get(kid).ok_or(TokenError::UnknownKey)?;
        if header.alg != key.alg.jsonwebtoken() {
            return Err(TokenError::WrongAlgorithm);
        }
        let mut validation = Validation::new(key.alg.jsonwebtoken());
        validation.leeway = leeway;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "iat", "jti", "client_id"]);
        jsonwebtoken::decode::<T>(token, &key.key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::BadSignature,
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                jsonwebtoken::errors::ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => TokenError::WrongAlgorithm,
                jsonwebtoken::errors::ErrorKind::Json(_) | jsonwebtoken::errors::ErrorKind::MissingRequiredClaim(_) => {
                    TokenError::InvalidClaims
                }
                _ => TokenError::Malformed,
            })
    }
}

/// The keys in force: the one that signs, and every one whose tokens may still be live.
pub struct KeyRing {
    signing: SigningKey,
    verifier: Verifier,
    jwks: bytes::Bytes,
}

impl KeyRing {
    /// `published` are the public JWKs to serve and accept, including the signing key's.
    pub fn new(signing: SigningKey, published: &[Value]) -> Result<Self, KeyError> {
        let jwks = serde_json::to_vec(&json!({ "keys": published })).map_err(|_| KeyError::Sign)?;
        Ok(Self {
            signing,
            verifier: Verifier::from_jwks(published, false)?,
            jwks: jwks.into(),
        })
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The JWKS document (RFC 7517 §5), rendered once.
    pub fn jwks(&self) -> bytes::Bytes {
        self.jwks.clone()
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.verifier.kids()
    }

    /// Verifies an access token this server issued, with no leeway on `exp`.
    pub fn verify<T: serde::de::DeserializeOwned>(&self, token: &str, issuer: &str) -> Result<T, TokenError> {
        self.verifier.decode(token, issuer, 0)
    }
}

/// 128 random bits, base64url: token ids.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("system RNG");
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Value {
        json!({
            "iss": "https://as.example",
            "sub": "c1",
            "aud": "https://rs.example",
            "client_id": "c1",
            "scope": "accounts",
            "jti": random_id(),
            "iat": crate::now(),
            "exp": exp,
            "cnf": { "x5t#S256": "A4DtL2JmUMhAsvJj5tKyn64SqzmuXbMrJa0n761y5v0" },
        })
    }

    fn verify(ring: &KeyRing, token: &str, issuer: &str) -> Result<Value, TokenError> {
        ring.verify::<Value>(token, issuer)
    }

    fn ring(alg: SigningAlg) -> KeyRing {
        let (key, _) = SigningKey::generate(alg).unwrap();
        let jwk = key.public_jwk().clone();
        KeyRing::new(key, &[jwk]).unwrap()
    }

    #[test]
    fn rfc7638_thumbprint_vector() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let members = json!({"e": "AQAB", "kty": "RSA", "n": n});
        assert_eq!(jwk_thumbprint(&members), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn every_algorithm_signs_and_verifies() {
        for alg in SigningAlg::ALL {
            let ring = ring(alg);
            let token = ring
                .signing_key()
                .sign_access_token(&claims(crate::now() + 60))
                .unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.typ.as_deref(), Some("at+jwt"));
            assert_eq!(header.kid.as_deref(), Some(ring.signing_key().kid()));
            let got = verify(&ring, &token, "https://as.example").unwrap();
            assert_eq!(got["client_id"], "c1");
            assert_eq!(
                verify(&ring, &token, "https://other.example"),
                Err(TokenError::WrongIssuer)
            );
        }
    }

    #[test]
    fn tampered_expired_and_foreign_tokens_fail() {
        let ring = ring(SigningAlg::Es256);
        let token = ring
            .signing_key()
            .sign_access_token(&claims(crate::now() + 60))
            .unwrap();
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let mut payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        payload["scope"] = "payments".into();
        parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
        assert_eq!(
            verify(&ring, &parts.join("."), "https://as.example"),
            Err(TokenError::BadSignature)
        );

        let expired = ring.signing_key().sign_access_token(&claims(crate::now() - 1)).unwrap();
        assert_eq!(verify(&ring, &expired, "https://as.example"), Err(TokenError::Expired));

        let other = super::tests::ring(SigningAlg::Es256);
        let foreign = other
            .signing_key()
            .sign_access_token(&claims(crate::now() + 60))
            .unwrap();
        assert_eq!(
            verify(&ring, &foreign, "https://as.example"),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn alg_none_and_wrong_typ_are_refused() {
        let ring = ring(SigningAlg::Es256);
        let kid = ring.signing_key().kid().to_string();
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(crate::now() + 60)).unwrap());
        let none = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "at+jwt", "kid": kid}).to_string());
        assert!(verify(&ring, &format!("{none}.{body}."), "https://as.example").is_err());
        let hs = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}).to_string());
        assert!(verify(&ring, &format!("{hs}.{body}.AAAA"), "https://as.example").is_err());
        let jwt = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "typ": "JWT", "kid": kid}).to_string());
        assert_eq!(
            verify(&ring, &format!("{jwt}.{body}.AAAA"), "https://as.example"),
            Err(TokenError::WrongType)
        );
        assert_eq!(
            verify(&ring, "garbage", "https://as.example"),
            Err(TokenError::Malformed)
        );
    }
}
