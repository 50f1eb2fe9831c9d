//! OAuth 2.0 endpoints, one file each. Every endpoint reads as the list of named checks it
//! runs; [`client_auth`] is the shared pipeline that turns a connection's certificate and a
//! `client_id` into a [`client_auth::VerifiedClient`].

pub mod client_auth;
pub mod client_credentials;
pub mod clients;
pub mod error;
pub mod form;
pub mod introspect;
pub mod issue;
pub mod metadata;
pub mod revocation_list;
pub mod revoke;
pub mod sender_constraint;
pub mod signing_keys;
pub mod token;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

pub use error::OAuthError;
pub use form::OAuthForm;

use crate::jose::{KeyRing, LiveKeyRing};
use crate::pki::TrustStore;
use crate::store::Store;

/// Public URLs of the endpoints. With a separate mTLS listener, `mtls_base` is where clients
/// must send authenticated requests (RFC 8705 §5).
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub issuer: String,
    pub mtls_base: Option<String>,
}

/// What every handler shares.
pub struct Shared {
    pub endpoints: Endpoints,
    pub store: Store,
    pub trust: TrustStore,
    pub clients: clients::ClientCache,
    keys: Arc<LiveKeyRing>,
    pub access_token_ttl: i64,
    metadata: bytes::Bytes,
}

pub type AppState = Arc<Shared>;

impl Shared {
    pub fn new(
        endpoints: Endpoints,
        store: Store,
        trust: TrustStore,
        keys: Arc<LiveKeyRing>,
        access_token_ttl: i64,
    ) -> Self {
        let metadata = metadata::render(&endpoints);
        Self {
            clients: clients::ClientCache::new(store.clone()),
            endpoints,
            store,
            trust,
            keys,
            access_token_ttl,
            metadata,
        }
    }

    /// The key ring in force; a cheap clone of an `Arc`.
    pub fn keys(&self) -> Arc<KeyRing> {
        self.keys.current()
    }

    pub fn issuer(&self) -> &str {
        &self.endpoints.issuer
    }
}

/// The authorization server's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/token", post(token::handle))
        .route("/introspect", post(introspect::handle))
        .route("/revoke", post(revoke::handle))
        .route("/revocations", post(revocation_list::handle))
        .route("/jwks", get(metadata::jwks))
        .route("/.well-known/oauth-authorization-server", get(metadata::discovery))
        .route("/.well-known/openid-configuration", get(metadata::discovery))
        .with_state(state)
}
