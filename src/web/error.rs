//! The browser boundary's error type: an HTML page that says what happened in plain words and
//! what the customer can do. Details are logged, never shown.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The link the customer followed cannot be used (unknown, expired or used request_uri,
    /// parameters that did not come through PAR, a finished interaction).
    #[error("invalid link: {0}")]
    InvalidLink(&'static str),
    /// The interaction belongs to another browser session.
    #[error("interaction of another session")]
    WrongSession,
    /// A form without its CSRF token, or with another one.
    #[error("CSRF token missing or wrong")]
    Csrf,
    /// The request itself is malformed.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// Logged; the customer sees a generic apology.
    #[error("internal error: {0}")]
    Internal(String),
}

impl PageError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            PageError::InvalidLink(_) => (
                StatusCode::BAD_REQUEST,
                "This link cannot be used",
                "The sign-in link is not valid, has expired or was already used. Go back to the app \
                 you came from and start again.",
            ),
            PageError::WrongSession => (
                StatusCode::FORBIDDEN,
                "This page belongs to another window",
                "This sign-in was started in another browser or window. Go back to the app you came \
                 from and start again.",
            ),
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired",
                "For your security the form could not be accepted. Go back to the app you came from \
                 and start again.",
            ),
            PageError::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "Something is wrong with this request",
                "Go back to the app you came from and start again.",
            ),
            PageError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side",
                "Please try again in a few minutes.",
            ),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match &self {
            PageError::Internal(detail) => tracing::error!(error = %detail, "page error"),
            other => tracing::info!(reason = %other, "page refused"),
        }
        let (status, title, message) = self.parts();
        let html = ErrorPage { title, message }
            .render()
            .unwrap_or_else(|_| format!("<!doctype html><title>{title}</title><p>{message}</p>"));
        super::page(status, html, None)
    }
}
