//! Signing in to the console, signing out, and typing the password again before a destructive
//! action. An unknown username, a wrong password and a disabled administrator get the same
//! answer after the same work (one argon2id verification); failures are throttled per username
//! and per address, and every attempt is in the audit trail.

use std::net::IpAddr;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::changes::{record, Change};
use super::form::AdminForm;
use super::session::{self, check_same_site, check_token, AdminSession};
use super::view::Nav;
use super::AdminError;
use crate::domain::customer::normalize_username;
use crate::domain::status::Status;
use crate::domain::{Administrator, AuditOutcome, PasswordHash};
use crate::oauth::{AppState, Shared};
use crate::store::admin_sessions::AdminSessionRow;
use crate::tls::ClientAddr;
use crate::web::{cookies, render, see_other};

/// Before there is a session, the sign-in form's CSRF token is also in this cookie (double
/// submit), so a sign-in cannot be posted from another site into this browser.
const FORM_COOKIE: &str = "__Host-certbound-admin-form";
const WRONG: &str = "The username or password is not right.";
const THROTTLED: &str = "Too many failed sign-in attempts. Wait a few minutes, then try again.";
/// Failures counted per username and per address within [`WINDOW`] seconds.
const WINDOW: i64 = 15 * 60;
const MAX_PER_USERNAME: i64 = 5;
const MAX_PER_ADDRESS: i64 = 20;

#[derive(Template)]
#[template(path = "admin/sign_in.html")]
struct SignInPage<'a> {
    brand: &'a str,
    csrf: &'a str,
    username: &'a str,
    error: Option<&'a str>,
}

/// `GET /admin/sign-in`.
pub async fn page(State(state): State<AppState>) -> Response {
    sign_in_page(&state, "", None, StatusCode::OK)
}

fn sign_in_page(state: &Shared, username: &str, error: Option<&str>, status: StatusCode) -> Response {
    let token = cookies::random_token();
    let page = SignInPage {
        brand: &state.brand,
        csrf: &token,
        username,
        error,
    };
    let mut response = render(&page, status, None);
    let cookie = format!("{FORM_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=3600");
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// `POST /admin/sign-in`.
pub async fn submit(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    AdminForm(form): AdminForm,
) -> Result<Response, AdminError> {
    check_same_site(&axum::http::Method::POST, &headers)?;
    let expected = cookies::get(&headers, FORM_COOKIE).unwrap_or_default();
    check_token(form.get("csrf"), expected)?;
    let typed = form.get("username").unwrap_or_default();
    let username = normalize_username(typed).unwrap_or_default();
    let password = form.get("password").unwrap_or_default().to_string();
    let now = crate::now();
    if is_throttled(&state, &username, address, now).await? {
        tracing::warn!(%address, username, "administrator sign-in throttled");
        record(
            &state,
            Change::sign_in(&username, address, AuditOutcome::Failure, Some("throttled")),
        );
        return Ok(sign_in_page(
            &state,
            typed,
            Some(THROTTLED),
            StatusCode::TOO_MANY_REQUESTS,
        ));
    }
    let admin = match username.is_empty() {
        true => None,
        false => state.store.administrator(&username).await?,
    };
    let Some(admin) = verify_password(admin, password).await? else {
        record_failure(&state, &username, address, now).await?;
        record(
            &state,
            Change::sign_in(&username, address, AuditOutcome::Failure, Some("password")),
        );
        return Ok(sign_in_page(&state, typed, Some(WRONG), StatusCode::OK));
    };
    // A new session id at every sign-in: one planted before cannot be carried over.
    let token = cookies::random_token();
    state
        .store
        .insert_admin_session(&AdminSessionRow {
            id_hash: cookies::hash(&token),
            username: admin.username.clone(),
            csrf_token: cookies::random_token(),
            created_at: now,
            last_seen_at: now,
            // Signing in is not confirming a destructive action: the first one asks again.
            reauthenticated_at: 0,
        })
        .await?;
    tracing::info!(%address, username = %admin.username, "administrator signed in");
    record(
        &state,
        Change::sign_in(&admin.username, address, AuditOutcome::Success, None),
    );
    let mut response = see_other("/admin/clients");
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, session::session_cookie(&token));
    headers.append(
        header::SET_COOKIE,
        HeaderValue::from_static("__Host-certbound-admin-form=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(response)
}

/// `POST /admin/sign-out`.
pub async fn sign_out(
    State(state): State<AppState>,
    session: AdminSession,
    AdminForm(form): AdminForm,
) -> Result<Response, AdminError> {
    session.check_csrf(&form)?;
    state.store.delete_admin_session(session.id_hash()).await?;
    let mut response = see_other("/admin/sign-in");
    response
        .headers_mut()
        .append(header::SET_COOKIE, session::expired_cookie());
    Ok(response)
}

#[derive(Template)]
#[template(path = "admin/reauth.html")]
struct ReauthPage<'a> {
    nav: Nav,
    next: &'a str,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Only the console's own pages are places to go back to.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/admin/") && !n.starts_with("/admin//") && !n.contains('\\') => n,
        _ => "/admin/clients",
    }
}

fn reauth_page(state: &Shared, session: &AdminSession, next: &str, error: Option<&str>) -> Response {
    let page = ReauthPage {
        nav: Nav::new(state, session, "clients"),
        next,
        error,
    };
    render(&page, StatusCode::OK, None)
}

/// `GET /admin/reauth?next=…`.
pub async fn reauth(State(state): State<AppState>, session: AdminSession, Query(q): Query<Next>) -> Response {
    reauth_page(&state, &session, safe_next(q.next.as_deref()), None)
}

/// `POST /admin/reauth`: the password again, then back to the action.
pub async fn reauth_submit(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    session: AdminSession,
    AdminForm(form): AdminForm,
) -> Result<Response, AdminError> {
    session.check_csrf(&form)?;
    let next = safe_next(form.get("next"));
    let now = crate::now();
    let username = session.username().to_string();
    if is_throttled(&state, &username, address, now).await? {
        return Ok(reauth_page(&state, &session, next, Some(THROTTLED)));
    }
    let password = form.get("password").unwrap_or_default().to_string();
    if verify_password(Some(session.admin.clone()), password).await?.is_none() {
        record_failure(&state, &username, address, now).await?;
        return Ok(reauth_page(&state, &session, next, Some("The password is not right.")));
    }
    state.store.reauthenticate_admin_session(session.id_hash(), now).await?;
    Ok(see_other(next))
}

/// argon2id takes tens of milliseconds of CPU, so it runs off the async workers.
async fn verify_password(admin: Option<Administrator>, password: String) -> Result<Option<Administrator>, AdminError> {
    tokio::task::spawn_blocking(move || match admin {
        Some(a) => {
            let right = a.password.verify(&password);
            (right && a.status == Status::Active).then_some(a)
        }
        None => {
            PasswordHash::verify_dummy(&password);
            None
        }
    })
    .await
    .map_err(AdminError::internal)
}

fn subjects(username: &str, address: IpAddr) -> [String; 2] {
    [format!("admin:username:{username}"), format!("admin:address:{address}")]
}

async fn is_throttled(state: &Shared, username: &str, address: IpAddr, now: i64) -> Result<bool, AdminError> {
    let [by_name, by_address] = subjects(username, address);
    let since = now - WINDOW;
    Ok(
        state.store.login_failures_since(&by_address, since).await? >= MAX_PER_ADDRESS
            || state.store.login_failures_since(&by_name, since).await? >= MAX_PER_USERNAME,
    )
}

async fn record_failure(state: &Shared, username: &str, address: IpAddr, now: i64) -> Result<(), AdminError> {
    tracing::info!(%address, username, "administrator sign-in failed");
    Ok(state
        .store
        .record_login_failure(&subjects(username, address), now)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn goes_back_only_to_console_pages() {
        assert_eq!(safe_next(Some("/admin/clients/x/delete")), "/admin/clients/x/delete");
        for bad in [
            "https://evil.example/",
            "//evil.example/admin/",
            "/admin//evil",
            "/admin/\\evil",
            "/other",
        ] {
            assert_eq!(safe_next(Some(bad)), "/admin/clients", "{bad}");
        }
        assert_eq!(safe_next(None), "/admin/clients");
    }
}
