//! What the client asks the customer for, gathered for the consent page and for the grant it
//! ends in: the scopes, the RFC 9396 details, and the Open Banking consent they name (loaded
//! again here, since its status may have changed since PAR).

use serde_json::Value;

use super::permissions::{self, Permission};
use super::Interaction;
use crate::domain::consent::{format_date_time, ACCOUNT_ACCESS_CONSENT};
use crate::domain::{Consent, ConsentStatus};
use crate::oauth::Shared;
use crate::web::PageError;

pub(super) struct Asked {
    pub consent: Option<Consent>,
    /// The page's list, in plain words.
    pub permissions: Vec<Permission>,
    /// The consent's transaction window, in words.
    pub window: Option<String>,
    /// When access ends unless withdrawn.
    pub until: i64,
}

impl Asked {
    pub async fn load(state: &Shared, interaction: &Interaction, now: i64) -> Result<Self, PageError> {
        let request = &interaction.request;
        let consent = match consent_id(&request.authorization_details) {
            None => None,
            Some(id) => Some(check_consent_awaiting(state, id, &request.client_id, now).await?),
        };
        // A consent says precisely what the `accounts` scope would only summarise.
        let scopes: Vec<String> = request
            .scope
            .iter()
            .filter(|s| consent.is_none() || *s != "accounts")
            .cloned()
            .collect();
        let mut lines = permissions::describe(&scopes);
        if let Some(consent) = &consent {
            lines.extend(permissions::describe_consent(&consent.permissions));
        }
        lines.extend(
            request
                .authorization_details
                .iter()
                .filter(|d| d["type"] != ACCOUNT_ACCESS_CONSENT)
                .map(permissions::describe_detail),
        );
        let by_lifetime = now + state.lifetimes.grant;
        let until = consent
            .as_ref()
            .and_then(|c| c.expires_at)
            .map_or(by_lifetime, |at| at.min(by_lifetime));
        Ok(Self {
            window: consent.as_ref().and_then(window),
            consent,
            permissions: lines,
            until,
        })
    }

    /// Whether the customer must choose at least one account.
    pub fn needs_accounts(&self, scopes: &[String]) -> bool {
        self.consent.is_some() || permissions::need_accounts(scopes)
    }

    /// The details the grant carries: as requested, with the consent replaced by what the
    /// customer authorised (its permissions, window and the accounts chosen).
    pub fn granted(&self, requested: &[Value], accounts: &[String]) -> Vec<Value> {
        requested
            .iter()
            .map(|d| match &self.consent {
                Some(consent) if d["type"] == ACCOUNT_ACCESS_CONSENT => consent.granted_detail(accounts),
                _ => d.clone(),
            })
            .collect()
    }
}

fn consent_id(details: &[Value]) -> Option<&str> {
    details
        .iter()
        .find(|d| d["type"] == ACCOUNT_ACCESS_CONSENT)
        .and_then(|d| d["consent_id"].as_str())
}

/// The consent is still the client's and awaiting authorisation: it may have been authorised in
/// another tab, revoked by the TPP, or expired since PAR.
async fn check_consent_awaiting(state: &Shared, id: &str, client_id: &str, now: i64) -> Result<Consent, PageError> {
    match state.store.consent(id).await.map_err(PageError::internal)? {
        Some(c) if c.client_id == client_id && c.status_at(now) == ConsentStatus::AwaitingAuthorisation => Ok(c),
        _ => Err(PageError::InvalidLink(
            "the consent was already authorised, withdrawn, or has expired",
        )),
    }
}

/// "Transactions from 1 January 2026 to 30 November 2026", in UTC dates.
fn window(consent: &Consent) -> Option<String> {
    let date = |at: i64| human_date(at).or_else(|| format_date_time(at));
    match (
        consent.transaction_from.and_then(date),
        consent.transaction_to.and_then(date),
    ) {
        (Some(from), Some(to)) => Some(format!("Transactions from {from} to {to}.")),
        (Some(from), None) => Some(format!("Transactions from {from} onwards.")),
        (None, Some(to)) => Some(format!("Transactions up to {to}.")),
        (None, None) => None,
    }
}

/// `1 March 2027`, in UTC.
pub(super) fn human_date(timestamp: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(timestamp).ok()?;
    Some(format!("{} {} {}", t.day(), t.month(), t.year()))
}
