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
pub mod changes;
mod clients;
mod edit;
mod error;
mod form;
mod register;
pub mod session;
mod sign_in;
mod test_certificate;
mod view;

use axum::extract::DefaultBodyLimit;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;

pub use error::AdminError;

use crate::oauth::AppState;

/// The console's routes, for the browser listener.
pub fn router(state: AppState) -> Router {
    Router::new()
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
        .route("/admin/audit", get(audit_view::list))
        .route(
            "/admin/clients/{id}/api-keys",
            get(api_keys::list).post(api_keys::create),
        )
        .route("/admin/clients/{id}/api-keys/{key}/revoke", post(api_keys::revoke))
        .route("/static/admin.css", get(view::stylesheet))
        .route("/static/admin.js", get(view::script))
        .with_state(state)
}
