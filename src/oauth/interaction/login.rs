//! Signing in: one form, username and password. An unknown username, a wrong password and a
//! disabled customer get the same answer after the same work (an argon2id verification).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{check_csrf, load, throttle, Interaction};
use crate::domain::customer::normalize_username;
use crate::domain::{Customer, PasswordHash};
use crate::oauth::form::PageForm;
use crate::oauth::{AppState, Shared};
use crate::tls::ClientAddr;
use crate::web::{cookies, render, see_other, PageError};

const WRONG: &str = "The username or password is not right.";
const THROTTLED: &str = "Too many failed sign-in attempts. Wait a few minutes, then try again.";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    brand: &'a str,
    client_name: &'a str,
    interaction_id: &'a str,
    csrf: &'a str,
    username: &'a str,
    error: Option<&'a str>,
}

/// The sign-in page; `error` re-renders it after a failed attempt.
pub(super) fn page_with(
    state: &Shared,
    interaction: &Interaction,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let page = LoginPage {
        brand: &state.brand,
        client_name: interaction.client_name(),
        interaction_id: &interaction.row.id,
        csrf: &interaction.row.csrf_token,
        username,
        error,
    };
    render(&page, status, None)
}

pub(super) fn page(state: &Shared, interaction: &Interaction, username: &str, error: Option<&str>) -> Response {
    page_with(state, interaction, username, error, StatusCode::OK)
}

/// `POST /interaction/{id}/login`.
pub async fn submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let result = async {
        let interaction = load(&state, &id, &headers).await?;
        check_csrf(&interaction, &form)?;
        if interaction.row.customer_id.is_some() {
            return Ok(see_other(&interaction.path()));
        }
        let typed = form.get("username").unwrap_or_default();
        let password = form.get("password").unwrap_or_default().to_string();
        let username = normalize_username(typed).unwrap_or_default();
        let now = crate::now();
        let customer = match username.is_empty() {
            true => None,
            false => state
                .store
                .customer_by_username(&username)
                .await
                .map_err(PageError::internal)?,
        };
        let device = cookies::get(&headers, cookies::DEVICE).map(cookies::hash);
        let known_device = match (&device, &customer) {
            (Some(device), Some(c)) => state
                .store
                .is_known_device(device, &c.id)
                .await
                .map_err(PageError::internal)?,
            _ => false,
        };
        if throttle::is_throttled(&state.store, &username, address, known_device, now)
            .await
            .map_err(PageError::internal)?
        {
            tracing::warn!(%address, username, "sign-in throttled");
            return Ok(page_with(
                &state,
                &interaction,
                typed,
                Some(THROTTLED),
                StatusCode::TOO_MANY_REQUESTS,
            ));
        }
        let Some(customer) = verify_password(customer, password).await? else {
            throttle::record_failure(&state.store, &username, address, now)
                .await
                .map_err(PageError::internal)?;
            tracing::info!(%address, username, "sign-in failed");
            return Ok(page(&state, &interaction, typed, Some(WRONG)));
        };
        signed_in(&state, &interaction, &customer, device, now).await
    }
    .await;
    result.unwrap_or_else(|e: PageError| e.into_response())
}

/// The customer if the password is theirs and they may sign in. argon2id takes tens of
/// milliseconds of CPU, so it runs off the async workers.
async fn verify_password(customer: Option<Customer>, password: String) -> Result<Option<Customer>, PageError> {
    tokio::task::spawn_blocking(move || match customer {
        Some(c) if c.is_active() && c.password.verify(&password) => Some(c),
        Some(c) => {
            // Same work whether the customer is disabled or the password wrong.
            if !c.is_active() {
                c.password.verify(&password);
            }
            None
        }
        None => {
            PasswordHash::verify_dummy(&password);
            None
        }
    })
    .await
    .map_err(PageError::internal)
}

/// Records the sign-in on the interaction under a new session cookie (the old one may have been
/// planted), remembers this browser (`device`: the hash of its device cookie, if it has one) for
/// the customer, and goes on to the consent page.
async fn signed_in(
    state: &Shared,
    interaction: &Interaction,
    customer: &Customer,
    device: Option<String>,
    now: i64,
) -> Result<Response, PageError> {
    let session = cookies::random_token();
    let moved = state
        .store
        .sign_in_interaction(&interaction.row.id, &cookies::hash(&session), &customer.id, now)
        .await
        .map_err(PageError::internal)?;
    if !moved {
        return Err(PageError::InvalidLink("interaction already finished"));
    }
    tracing::info!(customer = %customer.id, client_id = %interaction.row.client_id, "customer signed in");
    let mut response = see_other(&interaction.path());
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, cookies::session_cookie(&session));
    let device = match device {
        Some(hash) => hash,
        None => {
            let cookie = cookies::random_token();
            headers.append(header::SET_COOKIE, cookies::device_cookie(&cookie));
            cookies::hash(&cookie)
        }
    };
    state
        .store
        .remember_device(&device, &customer.id, now)
        .await
        .map_err(PageError::internal)?;
    Ok(response)
}
