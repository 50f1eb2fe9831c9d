//! The consent page: the client by name, what it may do in plain words, the customer's accounts
//! to choose from, and Approve or Deny. Approval writes the grant and its code in one
//! transaction and sends the browser back with `code`, `state` and `iss`; denial with
//! `error=access_denied`.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::permissions::{self, Permission};
use super::{check_csrf, load, Interaction};
use crate::domain::{Customer, Grant, Jkt};
use crate::oauth::form::{OAuthForm, PageForm};
use crate::oauth::{AppState, Shared};
use crate::store::grants::CodeRow;
use crate::web::{cookies, origin, render, see_other, PageError};

/// Seconds an authorization code lives (FAPI 2.0 SP §5.3.2.1: at most 60).
pub const CODE_TTL: i64 = 60;

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    brand: &'a str,
    client_name: &'a str,
    username: &'a str,
    interaction_id: &'a str,
    csrf: &'a str,
    permissions: Vec<Permission>,
    accounts: &'a [String],
    expires: String,
    error: Option<&'a str>,
}

pub(super) fn page(state: &Shared, interaction: &Interaction, customer: &Customer, error: Option<&str>) -> Response {
    let page = ConsentPage {
        brand: &state.brand,
        client_name: interaction.client_name(),
        username: &customer.username,
        interaction_id: &interaction.row.id,
        csrf: &interaction.row.csrf_token,
        permissions: permissions::describe(&interaction.request.scope),
        accounts: &customer.accounts,
        expires: human_date(crate::now() + state.lifetimes.grant),
        error,
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    // The decision ends in a redirect to the client, which the form-action policy must allow.
    render(&page, status, origin(&interaction.request.redirect_uri).as_deref())
}

/// `POST /interaction/{id}/consent`.
pub async fn submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm,
) -> Response {
    let result = async {
        let interaction = load(&state, &id, &headers).await?;
        check_csrf(&interaction, &form)?;
        let Some(customer_id) = &interaction.row.customer_id else {
            return Ok(see_other(&interaction.path()));
        };
        let customer = state
            .store
            .customer(customer_id)
            .await
            .map_err(PageError::internal)?
            .filter(Customer::is_active)
            .ok_or(PageError::InvalidLink("the customer is unknown or disabled"))?;
        match form.get("decision") {
            Some("approve") => approve(&state, &interaction, &customer, &form).await,
            Some("deny") => deny(&state, &interaction).await,
            _ => Err(PageError::BadRequest("no decision")),
        }
    }
    .await;
    result.unwrap_or_else(|e: PageError| e.into_response())
}

async fn deny(state: &Shared, interaction: &Interaction) -> Result<Response, PageError> {
    let ended = state
        .store
        .complete_interaction(&interaction.row.id, crate::now())
        .await
        .map_err(PageError::internal)?;
    if !ended {
        return Err(PageError::InvalidLink("interaction already finished"));
    }
    tracing::info!(client_id = %interaction.row.client_id, "customer denied access");
    Ok(see_other(
        &interaction
            .request
            .redirect(state.issuer(), &[("error", "access_denied")]),
    ))
}

async fn approve(
    state: &Shared,
    interaction: &Interaction,
    customer: &Customer,
    form: &OAuthForm,
) -> Result<Response, PageError> {
    let accounts = check_accounts_are_the_customers(customer, form)?;
    if permissions::need_accounts(&interaction.request.scope) && accounts.is_empty() {
        return Ok(page(
            state,
            interaction,
            customer,
            Some("Choose at least one account to share."),
        ));
    }
    let now = crate::now();
    let request = &interaction.request;
    let grant = Grant {
        id: format!("grt_{}", crate::jose::random_id()),
        customer_id: customer.id.clone(),
        client_id: request.client_id.clone(),
        scopes: request.scope.clone(),
        accounts,
        audience: request.audience.clone(),
        auth_time: interaction.row.auth_time.unwrap_or(now),
        created_at: now,
        expires_at: now + state.lifetimes.grant,
        redeemed_at: None,
        revoked_at: None,
        dpop_jkt: request.dpop_jkt.as_deref().and_then(Jkt::from_base64url),
    };
    let code = cookies::random_token();
    let row = CodeRow {
        code_hash: cookies::hash(&code),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        expires_at: now + CODE_TTL,
    };
    let approved = state
        .store
        .approve_interaction(&interaction.row.id, now, &grant, &row)
        .await
        .map_err(PageError::internal)?;
    if !approved {
        return Err(PageError::InvalidLink("interaction already finished"));
    }
    tracing::info!(grant_id = %grant.id, client_id = %grant.client_id, customer = %customer.id, "customer approved a grant");
    Ok(see_other(&request.redirect(state.issuer(), &[("code", &code)])))
}

/// Only the customer's own accounts can be shared; each counts once.
fn check_accounts_are_the_customers(customer: &Customer, form: &OAuthForm) -> Result<Vec<String>, PageError> {
    let mut chosen: Vec<String> = Vec::new();
    for account in form.all("account") {
        if !customer.accounts.iter().any(|a| a == account) {
            return Err(PageError::BadRequest("an account that is not the customer's"));
        }
        if !chosen.iter().any(|c| c == account) {
            chosen.push(account.to_string());
        }
    }
    Ok(chosen)
}

/// `1 March 2027`, in UTC.
fn human_date(timestamp: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(timestamp) {
        Ok(t) => format!("{} {} {}", t.day(), t.month(), t.year()),
        Err(_) => "a date too far to show".into(),
    }
}
