//! The authorization server's endpoints, one file each (one per grant at the token endpoint).
//! Every endpoint reads as the list of named checks it runs; [`client_auth`] turns a request
//! into a [`client_auth::VerifiedClient`], and the front channel ([`authorize`],
//! [`interaction`]) is where customers sign in and consent.

pub mod authorization_code;
pub mod authorization_details;
pub mod authorization_request;
pub mod authorize;
pub mod client_auth;
pub mod client_credentials;
pub mod client_keys;
pub mod clients;
pub mod dpop;
pub mod error;
pub mod form;
pub mod interaction;
pub mod introspect;
pub mod issue;
pub mod metadata;
pub mod miss_limit;
pub mod par;
pub mod params;
pub mod refresh_token;
pub mod refresh_tokens;
pub mod request_object;
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

use crate::audit::AuditLog;
use crate::jose::{KeyRing, LiveKeyRing};
use crate::pki::TrustStore;
use crate::store::seen_jtis::JtiRecorder;
use crate::store::Store;

/// Public URLs of the endpoints. With a separate mTLS listener, `mtls_base` is where clients
/// must send authenticated requests (RFC 8705 §5).
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub issuer: String,
    pub mtls_base: Option<String>,
}

/// How long what the server hands out lives, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub access_token: i64,
    /// A customer's grant, and with it its refresh token.
    pub grant: i64,
}

/// What every handler shares.
pub struct Shared {
    pub endpoints: Endpoints,
    pub store: Store,
    pub trust: TrustStore,
    pub clients: clients::ClientCache,
    pub refresh_tokens: refresh_tokens::RefreshTokens,
    /// Clients' keys published at a `jwks_uri`.
    pub client_jwks: client_keys::RemoteJwks,
    pub dpop_nonces: dpop::DpopNonces,
    /// RFC 9396 types accepted in `authorization_details`.
    pub detail_types: authorization_details::DetailTypes,
    /// Where assertion and DPoP-proof `jti`s are recorded, in batches.
    pub jtis: JtiRecorder,
    /// Where client authentication attempts and token outcomes are recorded.
    pub audit: AuditLog,
    keys: Arc<LiveKeyRing>,
    pub lifetimes: Lifetimes,
    /// The bank's name on the customer's pages.
    pub brand: String,
    metadata: bytes::Bytes,
}

pub type AppState = Arc<Shared>;

/// How this authorization server is set up: what [`Shared::new`] builds the state from.
pub struct Setup {
    pub endpoints: Endpoints,
    pub store: Store,
    pub trust: TrustStore,
    pub keys: Arc<LiveKeyRing>,
    pub lifetimes: Lifetimes,
    pub brand: String,
    pub client_jwks: client_keys::RemoteJwks,
    pub dpop_nonces: dpop::DpopNonces,
    pub detail_types: authorization_details::DetailTypes,
    pub audit: AuditLog,
}

impl Shared {
    pub fn new(setup: Setup) -> Self {
        let Setup {
            endpoints,
            store,
            trust,
            keys,
            lifetimes,
            brand,
            client_jwks,
            dpop_nonces,
            detail_types,
            audit,
        } = setup;
        let metadata = metadata::render(&endpoints, keys.current().signing_key().alg(), &detail_types.names());
        Self {
            clients: clients::ClientCache::new(store.clone()),
            refresh_tokens: refresh_tokens::RefreshTokens::new(store.clone()),
            client_jwks,
            dpop_nonces,
            detail_types,
            jtis: JtiRecorder::start(store.clone()),
            audit,
            endpoints,
            store,
            trust,
            keys,
            lifetimes,
            brand,
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

/// The endpoints clients call, authenticated or not: served on every listener.
pub fn router(state: AppState) -> Router {
    let audited = axum::middleware::from_fn_with_state(Arc::new(state.audit.clone()), crate::audit::record_requests);
    Router::new()
        .route("/token", post(token::handle))
        .route("/par", post(par::handle))
        .route("/introspect", post(introspect::handle))
        .route("/revoke", post(revoke::handle))
        .route("/revocations", post(revocation_list::handle))
        .route_layer(audited)
        .route("/jwks", get(metadata::jwks))
        .route("/.well-known/oauth-authorization-server", get(metadata::discovery))
        .route("/.well-known/openid-configuration", get(metadata::discovery))
        .with_state(state)
}

/// The customer's pages: served on the listener that never asks for a client certificate.
pub fn pages(state: AppState) -> Router {
    Router::new()
        .route("/authorize", get(authorize::get).post(authorize::post))
        .route("/interaction/{id}", get(interaction::show))
        .route("/interaction/{id}/login", post(interaction::login::submit))
        .route("/interaction/{id}/consent", post(interaction::consent::submit))
        .route("/static/certbound.css", get(crate::web::stylesheet))
        .with_state(state)
}
