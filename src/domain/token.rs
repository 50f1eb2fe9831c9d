//! What a JWT access token issued by certbound says (RFC 9068 §2.2): read by introspection and
//! by resource servers.

use serde::{Deserialize, Serialize};

use super::Confirmation;

/// `aud`: one string, or several when several `resource`s were requested (RFC 8707).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// Whether any audience of the token is one of `accepted`.
    pub fn any_of(&self, accepted: &[String]) -> bool {
        match self {
            Audience::One(a) => accepted.contains(a),
            Audience::Many(list) => list.iter().any(|a| accepted.contains(a)),
        }
    }
}

/// RFC 9068 §2.2 access token claims.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// The customer's grant the token was issued under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// RFC 9396: for a customer's grant, the accounts they chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<serde_json::Value>,
}

/// On whose behalf a token acts: its `sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The client itself (client credentials, RFC 6749 §4.4).
    Client,
    /// A bank customer, through the grant they gave the client.
    Customer { id: String, grant_id: String },
}

/// What a grant decided an access token may say: for whom, which scopes, for which resource
/// servers, and which of the customer's accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub subject: Subject,
    pub scope: Vec<String>,
    /// RFC 8707 resources; empty means the issuer itself is the audience.
    pub audience: Vec<String>,
    /// The accounts a customer chose; carried as RFC 9396 `authorization_details` of type
    /// [`ACCOUNT_ACCESS`].
    pub accounts: Vec<String>,
    /// RFC 9396 `authorization_details` granted beyond the accounts (a consent, a payment).
    pub details: Vec<serde_json::Value>,
    /// Tokens end by then at the latest: a grant (and the consent behind it) bounds them.
    pub not_after: Option<i64>,
}

/// The RFC 9396 `authorization_details` type that lists the accounts a token may reach:
/// `{"type": "account_access", "accounts": ["…"]}`.
pub const ACCOUNT_ACCESS: &str = "account_access";
