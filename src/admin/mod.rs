//! The admin console: server-rendered pages under `/admin` on the browser listener, for the
//! bank's operators to register and manage clients and read the audit trail. Administrators
//! sign in with a password (argon2id); viewers see everything and change nothing. Every form
//! carries the session's CSRF token, destructive actions want the password typed again, and
//! every change goes to the audit trail with its before and after.
//!
//! Each handler reads as its checks: the [`session::AdminSession`] extractor (signed in, not
//! idle, not too old, administrator still active), then `check_change` (CSRF token, role) for
//! anything that writes.

mod api_keys;
mod audit_view;
mod certificate;
mod certificate_required;
pub mod changes;
mod clients;
mod edit;
mod error;
pub mod expiring;
mod form;
mod grants;
mod register;
pub mod session;
mod sign_in;
mod signing_keys;
mod test_certificate;
mod view;

use axum::extract::DefaultBodyLimit;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::{Extension, Router};

pub use error::AdminError;

use std::sync::Arc;

use crate::jose::{KeyEncryptionKey, SigningAlg};
use crate::oauth::AppState;
use crate::pki::TrustStore;

/// What the console needs beyond the endpoints' shared state.
pub struct Console {
    /// Seals the private keys of new signing keys.
    pub kek: KeyEncryptionKey,
    pub signing_alg: SigningAlg,
    /// Seconds: how long a retired key's tokens may live on.
    pub access_token_ttl: i64,
    /// Certificates expiring within this many days are listed as expiring soon.
    pub expiring_within_days: i64,
    /// `[admin] client_ca`: every console request also needs a certificate from these CAs.
    pub administrator_ca: Option<Arc<TrustStore>>,
}

/// The console's routes, for the browser listener.
pub fn router(state: AppState, console: Console) -> Router {
    let administrator_ca = console.administrator_ca.clone();
    let routes = Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/clients") }))
        .route("/admin/sign-in", get(sign_in::page).post(sign_in::submit))
        .route("/admin/sign-out", post(sign_in::sign_out))
        .route("/admin/reauth", get(sign_in::reauth).post(sign_in::reauth_submit))
        .route("/admin/clients", get(clients::list).post(register::create))
        .route(
            "/admin/clients/new",
            get(register::upload)
                .post(register::prefill)
                .layer(DefaultBodyLimit::max(2 * certificate::MAX_UPLOAD)),
        )
        .route("/admin/clients/{id}", get(clients::detail))
        .route("/admin/clients/{id}/edit", get(edit::page).post(edit::submit))
        .route(
            "/admin/clients/{id}/test",
            get(test_certificate::form)
                .post(test_certificate::run)
                .layer(DefaultBodyLimit::max(2 * certificate::MAX_UPLOAD)),
        )
        .route("/admin/clients/{id}/status", post(clients::set_status))
        .route(
            "/admin/clients/{id}/delete",
            get(clients::confirm_delete).post(clients::delete),
        )
        .route("/admin/certificates", get(expiring::list))
        .route("/admin/audit", get(audit_view::list))
        .route(
            "/admin/clients/{id}/api-keys",
            get(api_keys::list).post(api_keys::create),
        )
        .route("/admin/clients/{id}/api-keys/{key}/revoke", post(api_keys::revoke))
        .route("/admin/clients/{id}/revoke-tokens", post(grants::revoke_all))
        .route("/admin/grants", get(grants::list))
        .route("/admin/grants/{id}/revoke", post(grants::revoke))
        .route(
            "/admin/signing-keys",
            get(signing_keys::list).post(signing_keys::rotate),
        )
        .route(
            "/admin/signing-keys/{kid}/purge",
            get(signing_keys::confirm_purge).post(signing_keys::purge),
        )
        .layer(Extension(Arc::new(console)));
    let routes = match administrator_ca {
        Some(ca) => routes.layer(axum::middleware::from_fn_with_state(ca, certificate_required::require)),
        None => routes,
    };
    // The console's stylesheet and script are public: the refusal page is styled too.
    routes
        .route("/static/admin.css", get(view::stylesheet))
        .route("/static/admin.js", get(view::script))
        .with_state(state)
}
