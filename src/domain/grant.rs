//! What a customer granted a client at the consent page: the scopes, the accounts they chose,
//! and for how long. Tokens issued under it carry its id; revoking it ends them all.

use serde_json::Value;

use super::consent::ACCOUNT_ACCESS_CONSENT;
use super::{Authorization, Jkt, Subject};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub customer_id: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub accounts: Vec<String>,
    /// RFC 9396 `authorization_details` as granted: what the client asked for, with what the
    /// customer chose (an account-access consent with its accounts).
    pub details: Vec<Value>,
    /// RFC 8707 resources the client asked for; empty means the issuer.
    pub audience: Vec<String>,
    /// When the customer signed in for it (OIDC `auth_time`).
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    /// When its authorization code was redeemed.
    pub redeemed_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// RFC 9449 §10: the DPoP key its code and refresh token are bound to, if any.
    pub dpop_jkt: Option<Jkt>,
}

impl Grant {
    /// The Open Banking consent this grant authorised, if any.
    pub fn consent_id(&self) -> Option<&str> {
        self.details
            .iter()
            .find(|d| d["type"] == ACCOUNT_ACCESS_CONSENT)
            .and_then(|d| d["consent_id"].as_str())
    }

    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }

    /// What a token issued under this grant may say: it acts for the customer, with `scope` and
    /// `audience` (the grant's, or narrower ones a refresh asked for), over the chosen accounts,
    /// with `details` (the grant's, or a subset the token request asked for), never past the
    /// grant's own expiry.
    pub fn authorization(&self, scope: Vec<String>, audience: Vec<String>, details: Vec<Value>) -> Authorization {
        Authorization {
            subject: Subject::Customer {
                id: self.customer_id.clone(),
                grant_id: self.id.clone(),
            },
            scope,
            audience,
            // With a consent, the accounts travel inside it, under its permissions; a token
            // request that leaves the consent out gets no account access at all.
            accounts: if self.consent_id().is_some() {
                Vec::new()
            } else {
                self.accounts.clone()
            },
            details,
            not_after: Some(self.expires_at),
        }
    }
}
