//! A demo Open Banking-style read API over seed data, protected the way banks protect theirs:
//! the TPP's certificate on the connection, an access token bound to it with the right scope,
//! and the client's API key (`certbound serve --demo-bank`, under `/bank/v1/`).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::rs::{Authenticated, Guard, Policy};

/// Where the API is mounted; tokens for it may name this as their `resource`.
pub const PATH: &str = "/bank/v1";

pub fn router(guard: &Guard) -> Router {
    let accounts = Router::new()
        .route("/accounts", get(accounts))
        .route("/accounts/{id}/balances", get(balances))
        .route("/accounts/{id}/transactions", get(transactions))
        .layer(guard.require(Policy::scopes(&["accounts"]).with_api_key()));
    let payments = Router::new()
        .route("/payments", get(payments))
        .layer(guard.require(Policy::scopes(&["payments"]).with_api_key()));
    Router::new().nest(PATH, accounts.merge(payments))
}

struct Account {
    id: &'static str,
    nickname: &'static str,
    currency: &'static str,
    iban: &'static str,
    balance: &'static str,
}

const ACCOUNTS: &[Account] = &[
    Account {
        id: "22289",
        nickname: "Bills",
        currency: "GBP",
        iban: "GB29NWBK60161331926819",
        balance: "1230.00",
    },
    Account {
        id: "31820",
        nickname: "Household",
        currency: "EUR",
        iban: "DE89370400440532013000",
        balance: "57.36",
    },
    Account {
        id: "40417",
        nickname: "Workshop",
        currency: "GBP",
        iban: "GB82WEST12345698765432",
        balance: "4120.75",
    },
];

/// A 404 in the Open Banking error shape.
struct NotFound;

impl IntoResponse for NotFound {
    fn into_response(self) -> Response {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"Code": "NotFound", "Message": "no such account"})),
        )
            .into_response()
    }
}

/// The accounts a request may see: those the customer chose, for a token issued under a
/// customer's grant; the whole demo data set for a client acting for itself
/// (client credentials, as in the README's first example).
fn visible(who: &Authenticated) -> Vec<&'static Account> {
    match who.grant_id() {
        Some(_) => {
            let granted = who.accounts();
            ACCOUNTS.iter().filter(|a| granted.contains(&a.id)).collect()
        }
        None => ACCOUNTS.iter().collect(),
    }
}

/// An account the request may see; one it may not is as absent as one that does not exist.
fn find(who: &Authenticated, id: &str) -> Result<&'static Account, NotFound> {
    visible(who).into_iter().find(|a| a.id == id).ok_or(NotFound)
}

fn envelope(data: Value, who: &Authenticated) -> Json<Value> {
    Json(json!({
        "Data": data,
        "Meta": { "TotalPages": 1, "ClientId": who.client_id(), "Subject": who.subject() },
    }))
}

async fn accounts(who: Authenticated) -> Json<Value> {
    let list: Vec<Value> = visible(&who)
        .into_iter()
        .map(|a| {
            json!({
                "AccountId": a.id, "Currency": a.currency, "Nickname": a.nickname,
                "AccountType": "Personal", "AccountSubType": "CurrentAccount",
                "Account": [{ "SchemeName": "UK.OBIE.IBAN", "Identification": a.iban }],
            })
        })
        .collect();
    envelope(json!({ "Account": list }), &who)
}

async fn balances(who: Authenticated, Path(id): Path<String>) -> Result<Json<Value>, NotFound> {
    let a = find(&who, &id)?;
    Ok(envelope(
        json!({ "Balance": [{
            "AccountId": a.id, "CreditDebitIndicator": "Credit", "Type": "InterimAvailable",
            "DateTime": "2026-11-01T09:00:00+00:00", "Amount": { "Amount": a.balance, "Currency": a.currency },
        }]}),
        &who,
    ))
}

async fn transactions(who: Authenticated, Path(id): Path<String>) -> Result<Json<Value>, NotFound> {
    let a = find(&who, &id)?;
    let list: Vec<Value> = [
        ("T1", "Debit", "12.50", "Coffee Roasters"),
        ("T2", "Credit", "2000.00", "Salary"),
    ]
    .iter()
    .map(|(tid, direction, amount, info)| {
        json!({
            "AccountId": a.id, "TransactionId": tid, "CreditDebitIndicator": direction,
            "Status": "Booked", "BookingDateTime": "2026-10-30T10:00:00+00:00",
            "Amount": { "Amount": amount, "Currency": a.currency }, "TransactionInformation": info,
        })
    })
    .collect();
    Ok(envelope(json!({ "Transaction": list }), &who))
}

async fn payments(who: Authenticated) -> Json<Value> {
    envelope(json!({ "DomesticPayment": [] }), &who)
}
