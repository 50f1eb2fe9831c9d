//! Signed request objects at PAR (RFC 9101, FAPI 2.0 Message Signing §5.3.1): the `request`
//! parameter is a JWT the client signed with one of its registered keys, whatever its
//! authentication method. Once it verifies, its claims are the authorization request: the
//! parameters sent beside it are ignored (RFC 9101 §6.3), except `client_id`, which must name
//! the same client.

use serde_json::Value;

use super::client_auth::VerifiedClient;
use super::client_keys::{self, ClientJwtError};
use super::{OAuthError, OAuthForm, Shared};
use crate::jose::profile::REQUEST_OBJECT;
use crate::jose::{Expect, TokenError};

/// FAPI 2.0 Message Signing §5.3.1: `exp` at most 60 minutes after `nbf`. Its other rule, `nbf`
/// at most 60 minutes in the past, follows: `exp` is not past (the signature check) and at most
/// 60 minutes after `nbf`.
const MAX_LIFETIME: i64 = 3600;
/// Seconds of clock skew tolerated on `exp` and `nbf`.
const LEEWAY: u64 = 5;
/// Parameters whose value is JSON: carried inside a request object as the JSON itself.
const JSON_VALUED: [&str; 2] = ["authorization_details", "claims"];

/// The authorization request a client's `request` carries, verified; or `None` when it sent
/// none and may do without.
pub async fn read(state: &Shared, client: &VerifiedClient, form: &OAuthForm) -> Result<Option<OAuthForm>, OAuthError> {
    let Some(jwt) = form.get("request") else {
        return check_not_required(client).map(|()| None);
    };
    check_signed_not_encrypted(jwt)?;
    let claims = verify_signature(state, client, jwt).await?;
    check_audience(&claims, state.issuer())?;
    check_lifetime(&claims)?;
    check_client_id(&claims, client.id())?;
    check_no_nested_request(&claims)?;
    Ok(Some(as_parameters(&claims)))
}

/// RFC 9101 §10.5 `require_signed_request_object`.
fn check_not_required(client: &VerifiedClient) -> Result<(), OAuthError> {
    if client.client().require_signed_request_object {
        Err(OAuthError::InvalidRequest(
            "this client must send its authorization request as a signed request object",
        ))
    } else {
        Ok(())
    }
}

/// A JWS in compact form, three parts; a JWE (five parts) is not accepted. Unsigned
/// (`alg: none`) objects fail the signature check, which admits only the allowed algorithms.
fn check_signed_not_encrypted(jwt: &str) -> Result<(), OAuthError> {
    if jwt.split('.').count() == 3 {
        Ok(())
    } else {
        Err(OAuthError::InvalidRequestObject(
            "the request object must be signed, not encrypted",
        ))
    }
}

/// Signed by one of the client's keys with an allowed algorithm, `iss` the client, `exp` and
/// `nbf` present and current.
async fn verify_signature(state: &Shared, client: &VerifiedClient, jwt: &str) -> Result<Value, OAuthError> {
    let expect = Expect {
        issuer: Some(client.id()),
        leeway: LEEWAY,
    };
    client_keys::verify(&state.client_jwks, client.cached(), jwt, &REQUEST_OBJECT, expect)
        .await
        .map_err(|e| {
            tracing::info!(client_id = client.id(), reason = %e, "request object refused");
            OAuthError::InvalidRequestObject(match e {
                ClientJwtError::Malformed => "the request object is unsigned or malformed",
                ClientJwtError::Token(TokenError::Expired) => "the request object has expired",
                ClientJwtError::Token(TokenError::NotYetValid) => "the request object is not yet valid",
                ClientJwtError::Token(TokenError::WrongIssuer) => "the request object's iss is not the client",
                ClientJwtError::Token(TokenError::InvalidClaims) => "the request object lacks exp, nbf, iss or aud",
                _ => "the request object's signature does not verify with the client's keys",
            })
        })
}

/// RFC 9101 §4: `aud` is this authorization server's issuer identifier (alone, or in an array).
fn check_audience(claims: &Value, issuer: &str) -> Result<(), OAuthError> {
    let ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == issuer,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(issuer)),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(OAuthError::InvalidRequestObject(
            "the request object's aud is not this issuer",
        ))
    }
}

/// Short-lived: `exp` at most an hour after `nbf`.
fn check_lifetime(claims: &Value) -> Result<(), OAuthError> {
    let (Some(nbf), Some(exp)) = (
        claims.get("nbf").and_then(Value::as_i64),
        claims.get("exp").and_then(Value::as_i64),
    ) else {
        return Err(OAuthError::InvalidRequestObject(
            "the request object's exp and nbf must be numbers",
        ));
    };
    if exp - nbf > MAX_LIFETIME {
        return Err(OAuthError::InvalidRequestObject(
            "the request object lives more than an hour",
        ));
    }
    Ok(())
}

/// RFC 9101 §5: `client_id` inside is the client that sent it.
fn check_client_id(claims: &Value, client_id: &str) -> Result<(), OAuthError> {
    match claims.get("client_id").and_then(Value::as_str) {
        Some(id) if id == client_id => Ok(()),
        _ => Err(OAuthError::InvalidRequestObject(
            "the request object's client_id is not the authenticated client",
        )),
    }
}

/// RFC 9101 §4: a request object holds no `request` or `request_uri` of its own.
fn check_no_nested_request(claims: &Value) -> Result<(), OAuthError> {
    if claims.get("request").is_some() || claims.get("request_uri").is_some() {
        Err(OAuthError::InvalidRequestObject(
            "a request object must not hold request or request_uri",
        ))
    } else {
        Ok(())
    }
}

/// The claims as request parameters: strings as they are, arrays of strings (RFC 8707
/// `resource`) as repeated parameters, and the JSON-valued parameters (RFC 9396
/// `authorization_details`, OpenID Connect `claims`) as the JSON text a form would carry. Numbers
/// (`exp`, `nbf`, `iat`) and other objects are no authorization request parameter certbound
/// reads.
fn as_parameters(claims: &Value) -> OAuthForm {
    let Some(map) = claims.as_object() else {
        return OAuthForm::default();
    };
    let pairs = map.iter().flat_map(|(name, value)| {
        let values: Vec<String> = match value {
            Value::String(s) => vec![s.clone()],
            _ if JSON_VALUED.contains(&name.as_str()) => vec![value.to_string()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).map(String::from).collect(),
            _ => vec![],
        };
        values.into_iter().map(move |v| (name.clone(), v))
    });
    OAuthForm::from_pairs(pairs.collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_become_parameters() {
        let form = as_parameters(&json!({
            "scope": "accounts", "resource": ["https://a.example", "https://b.example"],
            "exp": 1, "claims": {"x": 1}, "state": "", "authorization_details": [{"type": "t"}], "other": {"y": 2}
        }));
        assert_eq!(form.get("scope"), Some("accounts"));
        assert_eq!(form.all("resource").count(), 2);
        assert_eq!(form.get("exp"), None);
        assert_eq!(form.get("claims"), Some(r#"{"x":1}"#));
        assert_eq!(form.get("authorization_details"), Some(r#"[{"type":"t"}]"#));
        assert_eq!(form.get("other"), None);
        assert_eq!(form.get("state"), None);
    }

    #[test]
    fn lifetime_rules() {
        let now = 10_000;
        assert!(check_lifetime(&json!({"nbf": now, "exp": now + 3600})).is_ok());
        assert!(check_lifetime(&json!({"nbf": now, "exp": now + 3601})).is_err());
        assert!(check_lifetime(&json!({"nbf": "x", "exp": now})).is_err());
    }
}
