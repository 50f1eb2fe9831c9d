//! RFC 9396 rich authorization requests: `authorization_details` at PAR (a JSON array in the
//! form, the array itself in a request object), each object of a type this server knows and the
//! client registered for, valid against the type's JSON Schema. The built-in
//! `account_access_consent` type names an Open Banking consent the client created and that still
//! awaits authorisation; a signed request object may name it as the `openbanking_intent_id`
//! claim instead (UK Open Banking's way). At the token endpoint a client may ask for a subset of
//! what was granted (§6.1), never more.

use std::collections::BTreeMap;

use serde_json::Value;

use super::client_auth::VerifiedClient;
use super::{OAuthError, OAuthForm, Shared};
use crate::domain::consent::ACCOUNT_ACCESS_CONSENT;
use crate::domain::ConsentStatus;

/// The schema of the built-in consent reference.
const ACCOUNT_ACCESS_CONSENT_SCHEMA: &str =
    include_str!("../../schemas/authorization_details/account_access_consent.json");
/// certbound's example payment type (RFC 9396 §2.1), registered unless the operator replaces it.
pub const PAYMENT_INITIATION: &str = "payment_initiation";
const PAYMENT_INITIATION_SCHEMA: &str = include_str!("../../schemas/authorization_details/payment_initiation.json");

/// Most objects one request may carry.
const MAX_DETAILS: usize = 16;

/// The types this server accepts, each with the validator of its schema.
pub struct DetailTypes {
    validators: BTreeMap<String, jsonschema::Validator>,
}

impl DetailTypes {
    /// The built-in types, then the operator's (type name → JSON Schema), which may replace the
    /// payment example but not the consent reference.
    pub fn new(configured: &BTreeMap<String, Value>) -> Result<Self, String> {
        let mut schemas: BTreeMap<String, Value> = BTreeMap::new();
        for (name, text) in [
            (PAYMENT_INITIATION, PAYMENT_INITIATION_SCHEMA),
            (ACCOUNT_ACCESS_CONSENT, ACCOUNT_ACCESS_CONSENT_SCHEMA),
        ] {
            let schema = serde_json::from_str(text).map_err(|e| format!("built-in schema {name}: {e}"))?;
            schemas.insert(name.to_string(), schema);
        }
        for (name, schema) in configured {
            if name == ACCOUNT_ACCESS_CONSENT {
                return Err(format!("{ACCOUNT_ACCESS_CONSENT} is built in and cannot be redefined"));
            }
            schemas.insert(name.clone(), schema.clone());
        }
        let mut validators = BTreeMap::new();
        for (name, schema) in schemas {
            let validator = jsonschema::validator_for(&schema)
                .map_err(|e| format!("authorization_details type {name}: invalid JSON Schema: {e}"))?;
            validators.insert(name, validator);
        }
        Ok(Self { validators })
    }

    /// `authorization_details_types_supported` (RFC 9396 §10).
    pub fn names(&self) -> Vec<&str> {
        self.validators.keys().map(String::as_str).collect()
    }
}

/// The `authorization_details` of an authorization request, checked; empty when there are none.
pub async fn requested(
    state: &Shared,
    client: &VerifiedClient,
    form: &OAuthForm,
    now: i64,
) -> Result<Vec<Value>, OAuthError> {
    let mut details = match form.get("authorization_details") {
        Some(text) => parse(text)?,
        None => Vec::new(),
    };
    add_openbanking_intent(&mut details, form.get("claims"))?;
    check_types_known(&state.detail_types, &details)?;
    check_types_registered(client, &details)?;
    check_schemas(&state.detail_types, &details)?;
    check_consent(state, client, &details, now).await?;
    Ok(details)
}

/// RFC 9396 §2: a non-empty JSON array of objects, each with a string `type`.
fn parse(text: &str) -> Result<Vec<Value>, OAuthError> {
    let malformed =
        OAuthError::InvalidAuthorizationDetails("authorization_details must be a JSON array of objects with a type");
    let Ok(Value::Array(details)) = serde_json::from_str::<Value>(text) else {
        return Err(malformed);
    };
    if details.is_empty() || details.len() > MAX_DETAILS {
        return Err(OAuthError::InvalidAuthorizationDetails(
            "authorization_details must hold between 1 and 16 objects",
        ));
    }
    if details.iter().all(|d| d.get("type").is_some_and(Value::is_string)) {
        Ok(details)
    } else {
        Err(malformed)
    }
}

/// UK Open Banking: the consent named as `openbanking_intent_id` in the OpenID Connect `claims`
/// request (its `id_token` or `userinfo` member) is an `account_access_consent` detail. Naming
/// two different consents, one each way, is refused.
fn add_openbanking_intent(details: &mut Vec<Value>, claims: Option<&str>) -> Result<(), OAuthError> {
    let Some(claims) = claims else { return Ok(()) };
    let claims: Value = serde_json::from_str(claims)
        .ok()
        .filter(Value::is_object)
        .ok_or(OAuthError::InvalidRequest("claims must be a JSON object"))?;
    let named: Vec<&Value> = ["id_token", "userinfo"]
        .iter()
        .filter_map(|member| claims.get(member)?.get("openbanking_intent_id")?.get("value"))
        .collect();
    let Some(first) = named.first() else { return Ok(()) };
    let intent = first
        .as_str()
        .filter(|id| named.iter().all(|n| n.as_str() == Some(id)))
        .ok_or(OAuthError::InvalidRequest(
            "openbanking_intent_id must be one consent id",
        ))?;
    let existing = details.iter().find(|d| d["type"] == ACCOUNT_ACCESS_CONSENT);
    match existing {
        Some(d) if d["consent_id"] != intent => Err(OAuthError::InvalidRequest(
            "openbanking_intent_id names another consent than authorization_details",
        )),
        Some(_) => Ok(()),
        None => {
            details.push(serde_json::json!({ "type": ACCOUNT_ACCESS_CONSENT, "consent_id": intent }));
            Ok(())
        }
    }
}

/// Every type is one this server knows.
fn check_types_known(types: &DetailTypes, details: &[Value]) -> Result<(), OAuthError> {
    if details.iter().all(|d| types.validators.contains_key(kind(d))) {
        Ok(())
    } else {
        Err(OAuthError::InvalidAuthorizationDetails(
            "unknown authorization_details type",
        ))
    }
}

/// RFC 9396 §10: every type is one the client registered for.
fn check_types_registered(client: &VerifiedClient, details: &[Value]) -> Result<(), OAuthError> {
    let registered = &client.client().authorization_details_types;
    if details.iter().all(|d| registered.iter().any(|t| t == kind(d))) {
        Ok(())
    } else {
        Err(OAuthError::InvalidAuthorizationDetails(
            "the client is not registered for this authorization_details type",
        ))
    }
}

/// Every object is valid against its type's schema.
fn check_schemas(types: &DetailTypes, details: &[Value]) -> Result<(), OAuthError> {
    for detail in details {
        let valid = types.validators.get(kind(detail)).is_some_and(|v| v.is_valid(detail));
        if !valid {
            return Err(OAuthError::InvalidAuthorizationDetails(
                "an authorization_details object does not match its type",
            ));
        }
    }
    Ok(())
}

/// At most one consent, created by this client, still awaiting authorisation and unexpired.
/// Unknown, foreign, used and expired consents get the same answer.
async fn check_consent(state: &Shared, client: &VerifiedClient, details: &[Value], now: i64) -> Result<(), OAuthError> {
    let mut consents = details.iter().filter(|d| d["type"] == ACCOUNT_ACCESS_CONSENT);
    let Some(named) = consents.next() else { return Ok(()) };
    if consents.next().is_some() {
        return Err(OAuthError::InvalidAuthorizationDetails(
            "at most one consent per request",
        ));
    }
    let id = named["consent_id"].as_str().unwrap_or_default();
    let consent = state.store.consent(id).await.map_err(OAuthError::internal)?;
    match consent {
        Some(c) if c.client_id == client.id() && c.status_at(now) == ConsentStatus::AwaitingAuthorisation => Ok(()),
        _ => Err(OAuthError::InvalidAuthorizationDetails(
            "the consent is unknown, not this client's, or not awaiting authorisation",
        )),
    }
}

fn kind(detail: &Value) -> &str {
    detail["type"].as_str().unwrap_or_default()
}

/// RFC 9396 §6.1: the details a token request asks for (all that were granted when it names
/// none). Each requested object must be part of a granted one: every member it has, with the
/// same value (the granted object may carry more, such as the accounts the customer chose).
pub fn narrowed(granted: &[Value], form: &OAuthForm) -> Result<Vec<Value>, OAuthError> {
    let Some(text) = form.get("authorization_details") else {
        return Ok(granted.to_vec());
    };
    let requested = parse(text)?;
    let mut chosen = Vec::new();
    for wanted in &requested {
        let found = granted
            .iter()
            .find(|g| is_part_of(wanted, g))
            .ok_or(OAuthError::InvalidAuthorizationDetails(
                "authorization_details beyond what was granted",
            ))?;
        if !chosen.contains(found) {
            chosen.push(found.clone());
        }
    }
    Ok(chosen)
}

fn is_part_of(wanted: &Value, granted: &Value) -> bool {
    match (wanted.as_object(), granted.as_object()) {
        (Some(w), Some(g)) => w.iter().all(|(k, v)| g.get(k) == Some(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_shipped_schemas_compile_and_hold() {
        let types = DetailTypes::new(&BTreeMap::new()).unwrap();
        assert_eq!(types.names(), vec![ACCOUNT_ACCESS_CONSENT, PAYMENT_INITIATION]);
        let payment = json!({"type": "payment_initiation", "instructedAmount": {"currency": "EUR", "amount": "123.50"},
            "creditorName": "Merchant A", "creditorAccount": {"iban": "DE02100100109307118603"}});
        assert!(check_schemas(&types, std::slice::from_ref(&payment)).is_ok());
        let mut extra = payment.clone();
        extra["debtor"] = json!("x");
        assert!(check_schemas(&types, &[extra]).is_err());
        let mut amount = payment;
        amount["instructedAmount"]["amount"] = json!("1e9");
        assert!(check_schemas(&types, &[amount]).is_err());
        let redefined = BTreeMap::from([(ACCOUNT_ACCESS_CONSENT.to_string(), json!({}))]);
        assert!(DetailTypes::new(&redefined).is_err());
    }

    #[test]
    fn parsing() {
        assert!(parse(r#"[{"type":"a"}]"#).is_ok());
        for bad in [
            "",
            "{}",
            "[]",
            "[1]",
            r#"[{"type":1}]"#,
            r#"[{"kind":"a"}]"#,
            "[{\"type\":\"a\"}",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn openbanking_intent_becomes_a_consent_detail() {
        let mut details = Vec::new();
        let claims = r#"{"id_token":{"openbanking_intent_id":{"value":"aac-1","essential":true}}}"#;
        add_openbanking_intent(&mut details, Some(claims)).unwrap();
        assert_eq!(
            details,
            vec![json!({"type": ACCOUNT_ACCESS_CONSENT, "consent_id": "aac-1"})]
        );
        add_openbanking_intent(&mut details, Some(claims)).unwrap();
        assert_eq!(details.len(), 1);
        let other = r#"{"userinfo":{"openbanking_intent_id":{"value":"aac-2"}}}"#;
        assert!(add_openbanking_intent(&mut details, Some(other)).is_err());
        let split = r#"{"id_token":{"openbanking_intent_id":{"value":"a"}},"userinfo":{"openbanking_intent_id":{"value":"b"}}}"#;
        assert!(add_openbanking_intent(&mut Vec::new(), Some(split)).is_err());
        assert!(add_openbanking_intent(&mut Vec::new(), Some("[]")).is_err());
    }

    #[test]
    fn a_token_request_may_narrow_but_not_widen() {
        let granted = vec![
            json!({"type": "account_access_consent", "consent_id": "aac-1", "accounts": ["1"]}),
            json!({"type": "payment_initiation", "creditorName": "A"}),
        ];
        let form = |text: &str| OAuthForm::from_pairs([("authorization_details".to_string(), text.to_string())]);
        assert_eq!(narrowed(&granted, &OAuthForm::default()).unwrap(), granted);
        let one = narrowed(
            &granted,
            &form(r#"[{"type":"account_access_consent","consent_id":"aac-1"}]"#),
        )
        .unwrap();
        assert_eq!(one, vec![granted[0].clone()]);
        assert!(narrowed(
            &granted,
            &form(r#"[{"type":"account_access_consent","consent_id":"aac-2"}]"#)
        )
        .is_err());
        assert!(narrowed(&granted, &form(r#"[{"type":"payment_initiation","creditorName":"B"}]"#)).is_err());
    }
}
