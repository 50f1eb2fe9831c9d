//! Who made an admitted request, for handlers.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use serde_json::Value;

use super::{RsError, Verified};
use crate::domain::token::ACCOUNT_ACCESS;
use crate::domain::{GrantedConsent, Jkt};
use crate::pki::Thumbprint;

/// Handlers take it as an extractor. Cheap to clone: the token's verified claims are shared with
/// the verification cache.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub(super) token: Arc<Verified>,
    pub(super) cert_thumbprint: Option<Thumbprint>,
    pub(super) dpop_key: Option<Jkt>,
}

impl Authenticated {
    pub fn client_id(&self) -> &str {
        &self.token.client_id
    }

    /// On whose behalf the token acts: the client itself, or a customer.
    pub fn subject(&self) -> &str {
        &self.token.sub
    }

    /// The customer's grant the token was issued under; `None` for a client acting for itself.
    pub fn grant_id(&self) -> Option<&str> {
        self.token.grant_id.as_deref()
    }

    pub fn scopes(&self) -> &[String] {
        &self.token.scopes
    }

    /// The certificate on this connection (the one the token is bound to, if it is
    /// certificate-bound).
    pub fn cert_thumbprint(&self) -> Option<&Thumbprint> {
        self.cert_thumbprint.as_ref()
    }

    /// The DPoP key the token is bound to, which signed this request's proof.
    pub fn dpop_key(&self) -> Option<&Jkt> {
        self.dpop_key.as_ref()
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

    /// The Open Banking consent the customer authorised, when the token carries one that reads
    /// as such.
    pub fn consent(&self) -> Option<GrantedConsent> {
        GrantedConsent::from_details(self.authorization_details())
    }

    /// The accounts of a customer's grant (`authorization_details` of type `account_access`).
    pub fn accounts(&self) -> Vec<&str> {
        let details = self.authorization_details().and_then(Value::as_array);
        details
            .into_iter()
            .flatten()
            .filter(|d| d["type"] == ACCOUNT_ACCESS)
            .filter_map(|d| d["accounts"].as_array())
            .flatten()
            .filter_map(Value::as_str)
            .collect()
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
