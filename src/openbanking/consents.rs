//! `POST|GET|DELETE /open-banking/v3.1/aisp/account-access-consents[/{ConsentId}]`: a TPP, with a
//! client-credentials token bound to its certificate and scope `accounts`, creates a consent
//! (permissions checked against the specification's rules, dates checked), reads it, or withdraws
//! it, which revokes the grant the customer authorised it under and so every token of it. Only
//! the client that created a consent sees it; for any other, it answers as if it did not exist.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};

use super::{interaction_id, ObError};
use crate::domain::consent::{format_date_time, parse_date_time, parse_permissions};
use crate::domain::{Consent, ConsentStatus};
use crate::rs::{Authenticated, Guard, Policy};
use crate::store::consents::Revoked;
use crate::store::Store;

/// Where the resource lives.
pub const PATH: &str = "/open-banking/v3.1/aisp/account-access-consents";
/// Consent request bodies are a few hundred bytes.
const MAX_BODY: usize = 16 * 1024;
/// The members `Data` may have (OBReadConsent1).
const DATA_MEMBERS: [&str; 4] = [
    "Permissions",
    "ExpirationDateTime",
    "TransactionFromDateTime",
    "TransactionToDateTime",
];

#[derive(Clone)]
struct Api {
    store: Store,
    /// The absolute URL of [`PATH`] for `Links.Self`.
    self_base: String,
}

/// The resource, behind `guard` (scope `accounts`, a sender-constrained token).
pub fn router(store: Store, base_url: &str, guard: &Guard) -> Router {
    let api = Api {
        store,
        self_base: format!("{base_url}{PATH}"),
    };
    Router::new()
        .route(PATH, post(create))
        .route(&format!("{PATH}/{{id}}"), get(read).delete(revoke))
        .layer(guard.require(Policy::scopes(&["accounts"]).expect("a literal scope-token")))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(interaction_id::layer))
        .with_state(api)
}

async fn create(
    State(api): State<Api>,
    who: Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ObError> {
    check_client_credentials_token(&who)?;
    check_json_content_type(&headers)?;
    let data = check_body_shape(&body)?;
    let now = crate::now();
    let consent = Consent {
        id: format!("aac-{}", interaction_id::new_uuid()),
        client_id: who.client_id().to_string(),
        permissions: check_permissions(&data)?,
        expires_at: check_expiration(&data, now)?,
        transaction_from: optional_date(&data, "TransactionFromDateTime", "Data.TransactionFromDateTime")?,
        transaction_to: optional_date(&data, "TransactionToDateTime", "Data.TransactionToDateTime")?,
        status: ConsentStatus::AwaitingAuthorisation,
        created_at: now,
        status_updated_at: now,
        customer_id: None,
        accounts: Vec::new(),
        grant_id: None,
    };
    check_window_order(&consent)?;
    api.store.insert_consent(&consent).await.map_err(ObError::internal)?;
    tracing::info!(consent_id = %consent.id, client_id = %consent.client_id, "account-access consent created");
    Ok((StatusCode::CREATED, axum::Json(document(&api, &consent, now))).into_response())
}

async fn read(State(api): State<Api>, who: Authenticated, Path(id): Path<String>) -> Result<Response, ObError> {
    check_client_credentials_token(&who)?;
    let consent = check_consent_of(&api, &who, &id).await?;
    Ok(axum::Json(document(&api, &consent, crate::now())).into_response())
}

async fn revoke(State(api): State<Api>, who: Authenticated, Path(id): Path<String>) -> Result<Response, ObError> {
    check_client_credentials_token(&who)?;
    check_id_format(&id)?;
    match api.store.revoke_consent(&id, who.client_id(), crate::now()).await {
        Ok(Revoked::Done) => {
            tracing::info!(consent_id = %id, client_id = who.client_id(), "account-access consent revoked");
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Ok(Revoked::NotFound) => Err(not_yours()),
        Err(e) => Err(ObError::internal(e)),
    }
}

/// The consent resource is the TPP's own, not a customer's: a token issued under a customer's
/// grant may not manage it.
fn check_client_credentials_token(who: &Authenticated) -> Result<(), ObError> {
    match who.grant_id() {
        None => Ok(()),
        Some(_) => Err(ObError::ConsentMismatch("a client credentials token is required")),
    }
}

fn check_json_content_type(headers: &HeaderMap) -> Result<(), ObError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let essence = content_type.and_then(|c| c.split(';').next()).map(str::trim);
    match essence {
        Some(e) if e.eq_ignore_ascii_case("application/json") => Ok(()),
        _ => Err(ObError::HeaderInvalid("content-type")),
    }
}

/// `{"Data": {…}, "Risk": {…}}`, `Data` with only the members OBReadConsent1 defines.
fn check_body_shape(body: &[u8]) -> Result<Map<String, Value>, ObError> {
    let Ok(Value::Object(mut root)) = serde_json::from_slice::<Value>(body) else {
        return Err(ObError::InvalidFormat);
    };
    match root.get("Risk") {
        Some(Value::Object(_)) => {}
        Some(_) => return Err(ObError::FieldInvalid("Risk", "must be an object".into())),
        None => return Err(ObError::FieldMissing("Risk")),
    }
    let data = match root.remove("Data") {
        Some(Value::Object(data)) => data,
        Some(_) => return Err(ObError::FieldInvalid("Data", "must be an object".into())),
        None => return Err(ObError::FieldMissing("Data")),
    };
    if let Some(unexpected) = data.keys().find(|k| !DATA_MEMBERS.contains(&k.as_str())) {
        return Err(ObError::FieldUnexpected(format!("Data.{unexpected}")));
    }
    Ok(data)
}

/// Known codes, none twice, in the specification's combinations.
fn check_permissions(data: &Map<String, Value>) -> Result<Vec<crate::domain::Permission>, ObError> {
    let path = "Data.Permissions";
    let codes: Vec<String> = match data.get("Permissions") {
        None => return Err(ObError::FieldMissing(path)),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(String::from))
            .collect::<Option<_>>()
            .ok_or_else(|| ObError::FieldInvalid(path, "must be an array of permission codes".into()))?,
        Some(_) => {
            return Err(ObError::FieldInvalid(
                path,
                "must be an array of permission codes".into(),
            ))
        }
    };
    parse_permissions(&codes).map_err(|e| ObError::FieldInvalid(path, e.to_string()))
}

/// Optional; when given, a date-time with its offset, in the future.
fn check_expiration(data: &Map<String, Value>, now: i64) -> Result<Option<i64>, ObError> {
    let path = "Data.ExpirationDateTime";
    let expires = optional_date(data, "ExpirationDateTime", path)?;
    match expires {
        Some(at) if at <= now => Err(ObError::FieldInvalidDate(path, "must be in the future")),
        other => Ok(other),
    }
}

fn optional_date(data: &Map<String, Value>, name: &str, path: &'static str) -> Result<Option<i64>, ObError> {
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_date_time(s).map(Some).ok_or(ObError::FieldInvalidDate(
            path,
            "must be an ISO 8601 date-time with an offset",
        )),
        Some(_) => Err(ObError::FieldInvalidDate(
            path,
            "must be an ISO 8601 date-time with an offset",
        )),
    }
}

fn check_window_order(consent: &Consent) -> Result<(), ObError> {
    match (consent.transaction_from, consent.transaction_to) {
        (Some(from), Some(to)) if from > to => Err(ObError::FieldInvalid(
            "Data.TransactionToDateTime",
            "must not be before TransactionFromDateTime".into(),
        )),
        _ => Ok(()),
    }
}

/// Consent ids are `aac-` and a UUID; anything else is not worth a database read.
fn check_id_format(id: &str) -> Result<(), ObError> {
    let ok = id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(not_yours())
    }
}

/// The consent, if this client created it; unknown and foreign ids get the same 403.
async fn check_consent_of(api: &Api, who: &Authenticated, id: &str) -> Result<Consent, ObError> {
    check_id_format(id)?;
    match api.store.consent(id).await.map_err(ObError::internal)? {
        Some(c) if c.client_id == who.client_id() => Ok(c),
        _ => Err(not_yours()),
    }
}

fn not_yours() -> ObError {
    ObError::ConsentMismatch("no consent of this client has that ConsentId")
}

/// OBReadConsentResponse1.
fn document(api: &Api, consent: &Consent, now: i64) -> Value {
    let mut data = json!({
        "ConsentId": consent.id,
        "Status": consent.status_at(now).as_str(),
        "CreationDateTime": format_date_time(consent.created_at),
        "StatusUpdateDateTime": format_date_time(consent.status_updated_at),
        "Permissions": consent.permissions,
    });
    let dates = [
        ("ExpirationDateTime", consent.expires_at),
        ("TransactionFromDateTime", consent.transaction_from),
        ("TransactionToDateTime", consent.transaction_to),
    ];
    for (name, at) in dates {
        if let Some(text) = at.and_then(format_date_time) {
            data[name] = text.into();
        }
    }
    json!({
        "Data": data,
        "Risk": {},
        "Links": { "Self": format!("{}/{}", api.self_base, consent.id) },
        "Meta": { "TotalPages": 1 },
    })
}
