//! The consent page: the client by name, what it may do in plain words (scopes, an Open Banking
//! consent's permissions and transaction window, other RFC 9396 details), the customer's accounts
//! to choose from, and Approve or Deny. Approval writes the grant and its code, and authorises the
//! consent, in one transaction and sends the browser back with `code`, `state` and `iss`; denial
//! rejects the consent and answers `error=access_denied`.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::asked::{human_date, Asked};
use super::permissions::Permission;
use super::{check_csrf, load, Interaction};
use crate::domain::consent::ACCOUNT_ACCESS_CONSENT;
use crate::domain::{Customer, Grant, Jkt};
use crate::oauth::form::{OAuthForm, PageForm};
use crate::oauth::{AppState, Shared};
use crate::store::grants::{Approval, CodeRow};
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
    window: Option<String>,
    expires: String,
    error: Option<&'a str>,
}

/// The page for what is asked; a consent that can no longer be authorised is an error page.
pub(super) async fn page(
    state: &Shared,
    interaction: &Interaction,
    customer: &Customer,
    error: Option<&str>,
) -> Response {
    match Asked::load(state, interaction, crate::now()).await {
        Ok(asked) => render_page(state, interaction, customer, asked, error),
        Err(e) => e.into_response(),
    }
}

fn render_page(
    state: &Shared,
    interaction: &Interaction,
    customer: &Customer,
    asked: Asked,
    error: Option<&str>,
) -> Response {
    let page = ConsentPage {
        brand: &state.brand,
        client_name: interaction.client_name(),
        username: &customer.username,
        interaction_id: &interaction.row.id,
        csrf: &interaction.row.csrf_token,
        permissions: asked.permissions,
        accounts: &customer.accounts,
        window: asked.window,
        expires: human_date(asked.until).unwrap_or_else(|| "a date too far to show".into()),
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
    let request = &interaction.request;
    let consent = request
        .authorization_details
        .iter()
        .find_map(|d| {
            (d["type"] == ACCOUNT_ACCESS_CONSENT)
                .then(|| d["consent_id"].as_str())
                .flatten()
        })
        .map(|id| (id, request.client_id.as_str()));
    let ended = state
        .store
        .deny_interaction(&interaction.row.id, crate::now(), consent)
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
    let now = crate::now();
    let asked = Asked::load(state, interaction, now).await?;
    let accounts = check_accounts_are_the_customers(customer, form)?;
    let request = &interaction.request;
    if asked.needs_accounts(&request.scope) && accounts.is_empty() {
        return Ok(render_page(
            state,
            interaction,
            customer,
            asked,
            Some("Choose at least one account to share."),
        ));
    }
    let grant = Grant {
        id: format!("grt_{}", crate::jose::random_id()),
        customer_id: customer.id.clone(),
        client_id: request.client_id.clone(),
        scopes: request.scope.clone(),
        details: asked.granted(&request.authorization_details, &accounts),
        accounts,
        audience: request.audience.clone(),
        auth_time: interaction.row.auth_time.unwrap_or(now),
        created_at: now,
        expires_at: asked.until,
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
    let consent_id = asked.consent.as_ref().map(|c| c.id.as_str());
    let approval = state
        .store
        .approve_interaction(&interaction.row.id, now, &grant, &row, consent_id)
        .await
        .map_err(PageError::internal)?;
    match approval {
        Approval::Approved => {}
        Approval::AlreadyFinished => return Err(PageError::InvalidLink("interaction already finished")),
        Approval::ConsentUnavailable => {
            return Err(PageError::InvalidLink(
                "the consent was already authorised, withdrawn, or has expired",
            ))
        }
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
