//! Issuing RFC 9068 JWT access tokens, bound to the client certificate (RFC 8705 §3).

use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::client_auth::VerifiedClient;
use super::error::no_store;
use super::{OAuthError, Shared};
use crate::jose::random_id;

/// What a grant decided to authorise.
pub struct Grant {
    pub scope: Vec<String>,
    /// RFC 8707 resources; empty means the issuer itself is the audience.
    pub audience: Vec<String>,
}

/// The claims as signed; borrowed so the hot path does not copy them.
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
    cnf: Option<Cnf<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Audience<'a> {
    One(&'a str),
    Many(&'a [String]),
}

#[derive(Serialize)]
struct Cnf<'a> {
    #[serde(rename = "x5t#S256")]
    x5t_s256: &'a str,
}

/// RFC 6749 §5.1 successful response.
#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
}

pub fn issue(state: &Shared, client: &VerifiedClient, grant: Grant) -> Result<Response, OAuthError> {
    let now = crate::now();
    let jti = random_id();
    let scope = grant.scope.join(" ");
    let scope = (!scope.is_empty()).then_some(scope.as_str());
    let thumbprint = client.thumbprint().to_base64url();
    let aud = match grant.audience.as_slice() {
        [] => Audience::One(state.issuer()),
        [one] => Audience::One(one),
        many => Audience::Many(many),
    };
    let claims = Claims {
        iss: state.issuer(),
        sub: client.id(),
        aud,
        client_id: client.id(),
        scope,
        jti: &jti,
        iat: now,
        exp: now + state.access_token_ttl,
        cnf: client
            .client()
            .bound_access_tokens
            .then_some(Cnf { x5t_s256: &thumbprint }),
    };
    let token = state
        .keys()
        .signing_key()
        .sign_access_token(&claims)
        .map_err(OAuthError::internal)?;
    let mut response = axum::Json(TokenResponse {
        access_token: &token,
        token_type: "Bearer",
        expires_in: state.access_token_ttl,
        scope,
    })
    .into_response();
    no_store(&mut response);
    Ok(response)
}
