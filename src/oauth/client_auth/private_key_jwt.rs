//! RFC 7523 §2.2 `private_key_jwt`, with FAPI 2.0 SP §5.3.2.1's rules: a JWT the client signed
//! with one of its registered keys, for this authorization server (its issuer identifier, alone,
//! as `aud`), short-lived, and used once across every node.

use serde::Deserialize;
use serde_json::Value;

use super::AuthFailure;
use crate::jose::profile::CLIENT_ASSERTION;
use crate::jose::Expect;
use crate::oauth::client_keys;
use crate::oauth::clients::CachedClient;
use crate::oauth::{OAuthForm, Shared};
use crate::store::StoreError;

/// RFC 7523 §2.2.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`.
const LEEWAY: u64 = 5;
/// The furthest ahead an assertion's `exp` may be.
const MAX_LIFETIME: i64 = 300;

/// The claims an assertion must carry (`iss` is checked by the profile).
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    aud: Value,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    jti: String,
}

/// What went wrong; a store failure is the server's, the rest the client's.
pub(super) enum Refusal {
    Auth(AuthFailure),
    Store(StoreError),
}

impl From<AuthFailure> for Refusal {
    fn from(f: AuthFailure) -> Self {
        Refusal::Auth(f)
    }
}

pub(super) async fn verify(state: &Shared, client: &CachedClient, form: &OAuthForm, now: i64) -> Result<(), Refusal> {
    check_assertion_type(form)?;
    let assertion = form.get("client_assertion").ok_or(AuthFailure::MissingAssertion)?;
    let client_id = client.client.client_id.as_str();
    let expect = Expect {
        issuer: Some(client_id),
        leeway: LEEWAY,
    };
    let claims: Claims = client_keys::verify(&state.client_jwks, client, assertion, &CLIENT_ASSERTION, expect)
        .await
        .map_err(AuthFailure::Assertion)?;
    check_subject(&claims, client_id)?;
    check_audience(&claims, state.issuer())?;
    check_lifetime(&claims, now)?;
    check_issued_at(&claims, now)?;
    check_not_replayed(state, client_id, &claims).await
}

fn check_assertion_type(form: &OAuthForm) -> Result<(), AuthFailure> {
    match form.get("client_assertion_type") {
        Some(ASSERTION_TYPE) => Ok(()),
        _ => Err(AuthFailure::AssertionType),
    }
}

/// RFC 7523 §3: `sub` is the client (`iss` too, checked with the signature).
fn check_subject(claims: &Claims, client_id: &str) -> Result<(), AuthFailure> {
    if claims.sub == client_id {
        Ok(())
    } else {
        Err(AuthFailure::AssertionSubject)
    }
}

/// FAPI 2.0 SP §5.3.2.1: the issuer identifier as a single string; not the token endpoint's
/// URL, not an array.
fn check_audience(claims: &Claims, issuer: &str) -> Result<(), AuthFailure> {
    match &claims.aud {
        Value::String(aud) if aud == issuer => Ok(()),
        _ => Err(AuthFailure::AssertionAudience),
    }
}

/// Short-lived: `exp` (present, and checked with the signature) at most a few minutes ahead.
fn check_lifetime(claims: &Claims, now: i64) -> Result<(), AuthFailure> {
    if claims.exp <= now + MAX_LIFETIME {
        Ok(())
    } else {
        Err(AuthFailure::AssertionLifetime)
    }
}

/// Not issued in the future.
fn check_issued_at(claims: &Claims, now: i64) -> Result<(), AuthFailure> {
    match claims.iat {
        Some(iat) if iat > now + LEEWAY as i64 => Err(AuthFailure::AssertionIssuedAt),
        _ => Ok(()),
    }
}

/// RFC 7523 §3 item 7: a `jti` is used once; recorded in the database until the assertion
/// expires, so a replay through another node is refused too.
async fn check_not_replayed(state: &Shared, client_id: &str, claims: &Claims) -> Result<(), Refusal> {
    let scope = format!("client-assertion:{client_id}");
    let first = state
        .jtis
        .record(&scope, &claims.jti, claims.exp + LEEWAY as i64)
        .await
        .map_err(Refusal::Store)?;
    if first {
        Ok(())
    } else {
        Err(AuthFailure::AssertionReplayed.into())
    }
}
