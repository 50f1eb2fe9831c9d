//! The console's error type: a redirect to sign in (or to type the password again), or an HTML
//! page saying what happened in an operator's words. Details are logged, never shown.

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::session;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No session, or one that ended (signed out, idle, too old, administrator disabled).
    #[error("sign-in required")]
    SignInRequired,
    /// A destructive action wants the password typed again; `next` is where to go after.
    #[error("re-authentication required")]
    ReauthRequired { next: String },
    /// A viewer asked to change something.
    #[error("the administrator's role may not change anything")]
    ReadOnly,
    /// `[admin] client_ca` is set and the request came without a certificate from it.
    #[error("administrator certificate: {0}")]
    CertificateRequired(String),
    /// A form without the session's CSRF token, with another one, or posted from elsewhere.
    #[error("CSRF check failed: {0}")]
    Csrf(&'static str),
    #[error("not found: {0}")]
    NotFound(String),
    /// The request itself is malformed (not a form the console sends).
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AdminError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    fn page(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::CertificateRequired(_) => (
                StatusCode::FORBIDDEN,
                "Administrator certificate required",
                "This console also needs a client certificate issued by your administrators' certificate authority. Install yours in this browser, then reload.",
            ),
            Self::ReadOnly => (
                StatusCode::FORBIDDEN,
                "Read-only access",
                "Your administrator role can view everything but change nothing. Ask an administrator with the admin role.",
            ),
            Self::Csrf(_) => (
                StatusCode::FORBIDDEN,
                "This form has expired",
                "For your security the form could not be accepted. Reload the page and try again.",
            ),
            Self::NotFound(_) => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here. It may have been deleted.",
            ),
            Self::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "Something is wrong with this request",
                "Go back and try again.",
            ),
            Self::Internal(_) | Self::SignInRequired | Self::ReauthRequired { .. } => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side",
                "Please try again in a few minutes. The server log has the details.",
            ),
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::NotFound(what),
            other => Self::internal(other),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match &self {
            Self::SignInRequired => {
                let mut response = crate::web::see_other("/admin/sign-in");
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, session::expired_cookie());
                return response;
            }
            Self::ReauthRequired { next } => {
                let query = form_urlencoded::Serializer::new(String::new())
                    .append_pair("next", next)
                    .finish();
                return crate::web::see_other(&format!("/admin/reauth?{query}"));
            }
            Self::Internal(detail) => tracing::error!(error = %detail, "admin console error"),
            other => tracing::info!(reason = %other, "admin console refused"),
        }
        let (status, title, message) = self.page();
        let html = ErrorPage { title, message }
            .render()
            .unwrap_or_else(|_| format!("<!doctype html><title>{title}</title><p>{message}</p>"));
        crate::web::page(status, html, None)
    }
}
