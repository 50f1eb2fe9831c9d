//! The keys in force on the authorization server: the one that signs, and every published one
//! whose tokens may still be live.

use std::sync::{Arc, RwLock};

use serde_json::{json, Value};

use super::profile::ACCESS_TOKEN;
use super::verify::Expect;
use super::{KeyError, SigningKey, TokenError, Verifier};

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
        self.verifier.decode(
            token,
            &ACCESS_TOKEN,
            Expect {
                issuer: Some(issuer),
                leeway: 0,
            },
        )
    }
}

/// The key ring in force, swapped whole when keys change: the authorization server signs with
/// it, and resource servers in the same process verify with it.
pub struct LiveKeyRing(RwLock<Arc<KeyRing>>);

impl LiveKeyRing {
    pub fn new(ring: KeyRing) -> Self {
        Self(RwLock::new(Arc::new(ring)))
    }

    /// The ring in force; a cheap clone of an `Arc`.
    pub fn current(&self) -> Arc<KeyRing> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn replace(&self, ring: KeyRing) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ring);
    }
}
