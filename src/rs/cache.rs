//! Verified tokens, so a token seen again skips the signature check. Entries hold only what
//! verification established; expiry, revocation and the certificate binding are checked on
//! every request by the caller.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Claims, RsError};
use crate::pki::Thumbprint;

/// Bound on cached tokens (a few hundred bytes each).
const ENTRIES: usize = 10_000;

/// What verification established about a token.
#[derive(Debug)]
pub(super) struct Verified {
    pub client_id: Arc<str>,
    pub scopes: Arc<[String]>,
    pub jti: Arc<str>,
    pub exp: i64,
    pub cnf: Option<Thumbprint>,
    pub authorization_details: Option<Arc<Value>>,
}

impl Verified {
    pub(super) fn from_claims(claims: Claims) -> Result<Self, RsError> {
        let cnf = match claims.cnf.and_then(|c| c.x5t_s256) {
            Some(t) => {
                Some(Thumbprint::from_base64url(&t).ok_or(RsError::InvalidToken("the access token is invalid"))?)
            }
            None => None,
        };
        Ok(Self {
            client_id: claims.client_id.into(),
            scopes: claims
                .scope
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect(),
            jti: claims.jti.into(),
            exp: claims.exp,
            cnf,
            authorization_details: claims.authorization_details.map(Arc::new),
        })
    }
}

#[derive(Default)]
pub(super) struct TokenCache {
    entries: RwLock<HashMap<[u8; 32], Arc<Verified>>>,
}

impl TokenCache {
    /// Keyed by the token's SHA-256, so the cache holds no usable tokens.
    fn key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    pub(super) fn get(&self, token: &str) -> Option<Arc<Verified>> {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&Self::key(token))
            .cloned()
    }

    pub(super) fn insert(&self, token: &str, verified: Arc<Verified>, now: i64) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= ENTRIES {
            entries.retain(|_, v| v.exp >= now);
            if entries.len() >= ENTRIES {
                entries.clear();
            }
        }
        entries.insert(Self::key(token), verified);
    }
}
