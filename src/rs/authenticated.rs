//! Who made an admitted request, for handlers.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use serde_json::Value;

use super::{RsError, Verified};
use crate::pki::Thumbprint;

/// Handlers take it as an extractor. Cheap to clone: the token's verified claims are shared with
/// the verification cache.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub(super) token: Arc<Verified>,
    pub(super) cert_thumbprint: Option<Thumbprint>,
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
