//! Administrators' sessions: a `__Host-` cookie (Secure, HttpOnly, SameSite=Strict: the browser
//! never sends it on a request started by another site), of which the server keeps only the
//! SHA-256. A session ends at sign-out, after [`IDLE`] without a request, or [`ABSOLUTE`] after
//! sign-in. The administrator's record is read on every request, so disabling one, or changing
//! their role, takes effect at once.

use axum::extract::FromRequestParts;
use axum::http::{request::Parts, HeaderMap, HeaderValue, Method};
use subtle::ConstantTimeEq;

use super::AdminError;
use crate::domain::status::Status;
use crate::domain::Administrator;
use crate::oauth::{AppState, OAuthForm};
use crate::store::admin_sessions::AdminSessionRow;
use crate::web::cookies;

pub const COOKIE: &str = "__Host-certbound-admin";
/// Without a request for this long, a session ends (seconds).
pub const IDLE: i64 = 15 * 60;
/// However active, a session ends this long after sign-in (seconds).
pub const ABSOLUTE: i64 = 8 * 60 * 60;
/// Destructive actions want the password typed within this long (seconds).
pub const REAUTH: i64 = 5 * 60;

/// A signed-in, active administrator, with the session's CSRF token. Only [`FromRequestParts`]
/// makes one, after every check.
pub struct AdminSession {
    pub admin: Administrator,
    row: AdminSessionRow,
}

impl AdminSession {
    pub fn csrf(&self) -> &str {
        &self.row.csrf_token
    }

    pub fn may_change(&self) -> bool {
        self.admin.role.may_change()
    }

    pub fn username(&self) -> &str {
        &self.admin.username
    }

    pub(super) fn id_hash(&self) -> &str {
        &self.row.id_hash
    }

    /// Viewers change nothing, whatever they post.
    pub fn check_may_change(&self) -> Result<(), AdminError> {
        match self.may_change() {
            true => Ok(()),
            false => Err(AdminError::ReadOnly),
        }
    }

    /// Every form posts the session's CSRF token back; compared in constant time.
    pub fn check_csrf(&self, form: &OAuthForm) -> Result<(), AdminError> {
        self.check_csrf_token(form.get("csrf"))
    }

    /// The same, for a token read from a multipart upload.
    pub fn check_csrf_token(&self, token: Option<&str>) -> Result<(), AdminError> {
        check_token(token, &self.row.csrf_token)
    }

    /// The password was typed within [`REAUTH`]; else off to type it, then back to `next`.
    pub fn check_recent_authentication(&self, next: &str, now: i64) -> Result<(), AdminError> {
        match now - self.row.reauthenticated_at <= REAUTH {
            true => Ok(()),
            false => Err(AdminError::ReauthRequired { next: next.to_string() }),
        }
    }

    /// A change: posted with the CSRF token by an administrator who may change things.
    pub fn check_change(&self, form: &OAuthForm) -> Result<(), AdminError> {
        self.check_csrf(form)?;
        self.check_may_change()
    }
}

/// `expected` and `presented` are the same token.
pub(super) fn check_token(presented: Option<&str>, expected: &str) -> Result<(), AdminError> {
    match presented {
        Some(token) if !expected.is_empty() && bool::from(token.as_bytes().ct_eq(expected.as_bytes())) => Ok(()),
        Some(_) => Err(AdminError::Csrf("token of another session")),
        None => Err(AdminError::Csrf("no token")),
    }
}

impl FromRequestParts<AppState> for AdminSession {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AdminError> {
        check_same_site(&parts.method, &parts.headers)?;
        let id_hash = cookies::get(&parts.headers, COOKIE)
            .map(cookies::hash)
            .ok_or(AdminError::SignInRequired)?;
        let row = state
            .store
            .admin_session(&id_hash)
            .await?
            .ok_or(AdminError::SignInRequired)?;
        let now = crate::now();
        if now - row.last_seen_at > IDLE || now - row.created_at > ABSOLUTE {
            state.store.delete_admin_session(&id_hash).await?;
            return Err(AdminError::SignInRequired);
        }
        let admin = match state.store.administrator(&row.username).await? {
            Some(admin) if admin.status == Status::Active => admin,
            _ => {
                state.store.delete_admin_session(&id_hash).await?;
                return Err(AdminError::SignInRequired);
            }
        };
        state.store.touch_admin_session(&id_hash, now).await?;
        Ok(Self { admin, row })
    }
}

/// A state-changing request must come from a page of this origin. Browsers say where a request
/// started in `Sec-Fetch-Site`; a cross-site form post is refused before its token is looked at.
pub(super) fn check_same_site(method: &Method, headers: &HeaderMap) -> Result<(), AdminError> {
    if method == Method::GET || method == Method::HEAD {
        return Ok(());
    }
    match headers.get("sec-fetch-site").map(HeaderValue::as_bytes) {
        Some(b"same-origin") | Some(b"none") | None => Ok(()),
        Some(_) => Err(AdminError::Csrf("posted from another site")),
    }
}

/// `Set-Cookie` for a new session: gone when the browser closes, and never longer than
/// [`ABSOLUTE`].
pub fn session_cookie(value: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={ABSOLUTE}"
    ))
    .expect("base64url cookie value")
}

/// `Set-Cookie` that removes the session cookie.
pub fn expired_cookie() -> HeaderValue {
    HeaderValue::from_static("__Host-certbound-admin=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_exactly() {
        assert!(check_token(Some("abc"), "abc").is_ok());
        assert!(check_token(Some("abd"), "abc").is_err());
        assert!(check_token(None, "abc").is_err());
        assert!(
            check_token(Some(""), "").is_err(),
            "an empty expected token matches nothing"
        );
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let mut headers = HeaderMap::new();
        assert!(check_same_site(&Method::POST, &headers).is_ok());
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(check_same_site(&Method::POST, &headers).is_err());
        assert!(check_same_site(&Method::GET, &headers).is_ok());
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-site"));
        assert!(check_same_site(&Method::POST, &headers).is_err());
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(check_same_site(&Method::POST, &headers).is_ok());
    }

    #[test]
    fn the_cookie_is_host_only_strict_and_http_only() {
        let c = session_cookie(&cookies::random_token());
        let text = c.to_str().unwrap();
        assert!(text.starts_with("__Host-") && text.contains("Secure") && text.contains("HttpOnly"));
        assert!(text.contains("SameSite=Strict") && text.contains("Path=/") && !text.contains("Domain"));
    }
}
