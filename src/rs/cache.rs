//! Verified tokens, so a token seen again skips the signature check. Entries hold only what
//! verification established; expiry, revocation and the certificate binding are checked on
//! every request by the caller.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::Deserialize;
use serde_json::Value;

use crate::domain::{Audience, Confirmation};

/// Bound on cached tokens (a few hundred bytes each).
const ENTRIES: usize = 10_000;

/// Access-token claims a resource server reads (RFC 9068 §2.2, RFC 8705 §3.1, RFC 9396).
#[derive(Debug, Deserialize)]
pub(super) struct Claims {
    pub(super) aud: Audience,
    sub: String,
    client_id: String,
    #[serde(default)]
    scope: Option<String>,
    jti: String,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    cnf: Option<Confirmation>,
    #[serde(default)]
    grant_id: Option<String>,
    #[serde(default)]
    authorization_details: Option<Value>,
}

/// What verification established about a token.
#[derive(Debug)]
pub struct Verified {
    pub(super) sub: String,
    pub(super) client_id: String,
    pub(super) scopes: Vec<String>,
    pub(super) jti: String,
    pub(super) exp: i64,
    pub(super) iat: Option<i64>,
    pub(super) cnf: Option<Confirmation>,
    pub(super) grant_id: Option<String>,
    pub(super) authorization_details: Option<Value>,
    /// The key it was verified with: a cached verification holds only while that key does.
    pub(super) kid: String,
}

impl Verified {
    pub(super) fn from_claims(claims: Claims, kid: String) -> Self {
        Self {
            kid,
            sub: claims.sub,
            client_id: claims.client_id,
            scopes: claims
                .scope
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect(),
            jti: claims.jti,
            exp: claims.exp,
            iat: claims.iat,
            cnf: claims.cnf,
            grant_id: claims.grant_id,
            authorization_details: claims.authorization_details,
        }
    }
}

#[derive(Default)]
pub(super) struct TokenCache {
    entries: RwLock<HashMap<[u8; 32], Arc<Verified>>>,
}

impl TokenCache {
    /// Keyed by the token's SHA-256, so the cache holds no usable tokens. aws-lc-rs's
    /// SHA-256 (SHA-NI assembly) is about twice as fast as the portable one on this path.
    fn key(token: &str) -> [u8; 32] {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        digest.as_ref().try_into().expect("SHA-256 is 32 bytes")
    }

    pub(super) fn get(&self, token: &str) -> Option<Arc<Verified>> {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&Self::key(token))
            .cloned()
    }

    pub(super) fn remove(&self, token: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&Self::key(token));
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
