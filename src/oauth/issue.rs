//! Issuing tokens once a grant has decided what they may say: RFC 9068 JWT access tokens,
//! sender-constrained by their confirmation (RFC 8705 §3), OpenID Connect ID tokens, and the
//! RFC 6749 §5.1 response.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};

use super::client_auth::VerifiedClient;
use super::error::no_store;
use super::{OAuthError, Shared};
use crate::domain::token::ACCOUNT_ACCESS;
use crate::domain::{Authorization, Confirmation, Subject};
use crate::jose::{random_id, JwtType};

/// The access token's claims as signed; borrowed so the hot path does not copy them.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: Audience<'a>,
    client_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    jti: &'a str,
    iat: i64,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<&'a Confirmation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_id: Option<&'a str>,
    #[serde(skip_serializing_if = "<[Value]>::is_empty")]
    authorization_details: &'a [Value],
}

#[derive(Serialize)]
#[serde(untagged)]
enum Audience<'a> {
    One(&'a str),
    Many(&'a [String]),
}

/// RFC 9396 details a token carries: those granted, and for a grant without a consent the
/// accounts the customer chose, as an [`ACCOUNT_ACCESS`] detail. Empty (no allocation) for a
/// client acting for itself.
fn token_details(authorization: &Authorization) -> Vec<Value> {
    let mut details = authorization.details.clone();
    if !authorization.accounts.is_empty() {
        details.push(json!({ "type": ACCOUNT_ACCESS, "accounts": authorization.accounts }));
    }
    details
}

/// Signs an access token for `client` saying what `authorization` allows with `details`, bound
/// by `cnf`. It expires after the configured lifetime or with its grant, whichever is first.
fn access_token(
    state: &Shared,
    client: &VerifiedClient,
    authorization: &Authorization,
    details: &[Value],
    scope: Option<&str>,
    cnf: Option<&Confirmation>,
    now: i64,
) -> Result<String, OAuthError> {
    let jti = random_id();
    let (sub, grant_id) = match &authorization.subject {
        Subject::Client => (client.id(), None),
        Subject::Customer { id, grant_id } => (id.as_str(), Some(grant_id.as_str())),
    };
    let aud = match authorization.audience.as_slice() {
        [] => Audience::One(state.issuer()),
        [one] => Audience::One(one),
        many => Audience::Many(many),
    };
    let claims = Claims {
        iss: state.issuer(),
        sub,
        aud,
        client_id: client.id(),
        scope,
        jti: &jti,
        iat: now,
        exp: expires_at(state, authorization, now),
        cnf,
        grant_id,
        authorization_details: details,
    };
    state
        .keys()
        .signing_key()
        .sign_access_token(&claims)
        .map_err(OAuthError::internal)
}

/// The configured lifetime from `now`, cut short by the grant's end.
fn expires_at(state: &Shared, authorization: &Authorization, now: i64) -> i64 {
    let by_lifetime = now + state.lifetimes.access_token;
    authorization
        .not_after
        .map_or(by_lifetime, |limit| by_lifetime.min(limit))
}

/// OpenID Connect Core §2 ID token claims.
#[derive(Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    /// UK Open Banking: the consent the customer authorised.
    #[serde(skip_serializing_if = "Option::is_none")]
    openbanking_intent_id: Option<&'a str>,
}

/// An ID token for the customer `sub`, for the client, signed with the same keys as access
/// tokens (`typ: JWT`), naming the consent behind it if there is one.
pub fn id_token(
    state: &Shared,
    client_id: &str,
    sub: &str,
    auth_time: i64,
    nonce: Option<&str>,
    consent_id: Option<&str>,
    now: i64,
) -> Result<String, OAuthError> {
    let claims = IdTokenClaims {
        iss: state.issuer(),
        sub,
        aud: client_id,
        exp: now + state.lifetimes.access_token,
        iat: now,
        auth_time,
        nonce,
        openbanking_intent_id: consent_id,
    };
    state
        .keys()
        .signing_key()
        .sign(JwtType::IdToken, &claims)
        .map_err(OAuthError::internal)
}

/// RFC 6749 §5.1 successful response, always `Cache-Control: no-store`.
#[derive(Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// RFC 9396 §7: what the access token was granted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorization_details: Vec<Value>,
}

impl TokenResponse {
    /// Issues the access token for `authorization` and wraps it in a response: `token_type`
    /// `DPoP` for a DPoP-bound token (RFC 9449 §5.1), else `Bearer`.
    pub fn new(
        state: &Shared,
        client: &VerifiedClient,
        authorization: &Authorization,
        cnf: Option<&Confirmation>,
    ) -> Result<Self, OAuthError> {
        let scope = authorization.scope.join(" ");
        let scope = (!scope.is_empty()).then_some(scope);
        let details = token_details(authorization);
        let now = crate::now();
        let access_token = access_token(state, client, authorization, &details, scope.as_deref(), cnf, now)?;
        Ok(Self {
            access_token,
            token_type: if cnf.is_some_and(Confirmation::is_dpop) {
                "DPoP"
            } else {
                "Bearer"
            },
            expires_in: expires_at(state, authorization, now) - now,
            scope,
            refresh_token: None,
            id_token: None,
            authorization_details: details,
        })
    }
}

impl IntoResponse for TokenResponse {
    /// Serialised into a buffer sized for the tokens, which are most of the response.
    fn into_response(self) -> Response {
        let tokens = self.access_token.len() + self.id_token.as_ref().map_or(0, String::len);
        let mut body = Vec::with_capacity(tokens + 160);
        if let Err(e) = serde_json::to_writer(&mut body, &self) {
            return OAuthError::internal(e).into_response();
        }
        let mut response = body.into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        no_store(&mut response);
        response
    }
}
