//! A demo Open Banking-style read API over seed data, protected the way banks protect theirs:
//! the TPP's certificate on the connection, an access token bound to it with the right scope,
//! and the client's API key (`certbound serve --demo-bank`, under `/bank/v1/`). A token issued
//! under an account-access consent sees only the consent's accounts, only the data its
//! permissions name, and only transactions inside its window.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::domain::consent::parse_date_time;
use crate::domain::{GrantedConsent, Permission};
use crate::openbanking::{interaction_id, ObError};
use crate::rs::{Authenticated, Guard, Policy};

/// Where the API is mounted; tokens for it may name this as their `resource`.
pub const PATH: &str = "/bank/v1";

pub fn router(guard: &Guard) -> Router {
    let accounts = Router::new()
        .route("/accounts", get(accounts))
        .route("/accounts/{id}/balances", get(balances))
        .route("/accounts/{id}/transactions", get(transactions))
        .layer(
            guard.require(
                Policy::scopes(&["accounts"])
                    .expect("a literal scope-token")
                    .with_api_key(),
            ),
        );
    let payments = Router::new().route("/payments", get(payments)).layer(
        guard.require(
            Policy::scopes(&["payments"])
                .expect("a literal scope-token")
                .with_api_key(),
        ),
    );
    Router::new()
        .nest(PATH, accounts.merge(payments))
        .layer(axum::middleware::from_fn(interaction_id::layer))
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

/// Why a request gets nothing: the account is not there for it, or its consent does not cover
/// the data asked for.
enum Refused {
    NotFound,
    Permission(ObError),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::NotFound => NotFound.into_response(),
            Refused::Permission(e) => e.into_response(),
        }
    }
}

/// The request's reach: a customer's consent (its accounts, permissions and window), a
/// customer's grant without one (its accounts, everything in them), or the client acting for
/// itself (the whole demo data set, as in the README's first example).
enum Reach {
    Consent(GrantedConsent),
    Accounts(Vec<String>),
    All,
}

impl Reach {
    fn of(who: &Authenticated) -> Self {
        if let Some(consent) = who.consent() {
            return Reach::Consent(consent);
        }
        match who.grant_id() {
            Some(_) => Reach::Accounts(who.accounts().into_iter().map(String::from).collect()),
            None => Reach::All,
        }
    }

    fn accounts(&self) -> Vec<&'static Account> {
        let chosen = match self {
            Reach::Consent(c) => &c.accounts,
            Reach::Accounts(list) => list,
            Reach::All => return ACCOUNTS.iter().collect(),
        };
        ACCOUNTS.iter().filter(|a| chosen.iter().any(|c| c == a.id)).collect()
    }

    /// An account the request may see; one it may not is as absent as one that does not exist.
    fn account(&self, id: &str) -> Result<&'static Account, Refused> {
        self.accounts()
            .into_iter()
            .find(|a| a.id == id)
            .ok_or(Refused::NotFound)
    }

    /// Whether one of `permissions` was granted; always, without a consent.
    fn allows_any(&self, permissions: &[Permission]) -> bool {
        match self {
            Reach::Consent(c) => permissions.iter().any(|p| c.allows(*p)),
            _ => true,
        }
    }

    fn require(&self, permissions: &[Permission], missing: &'static str) -> Result<(), Refused> {
        if self.allows_any(permissions) {
            Ok(())
        } else {
            Err(Refused::Permission(ObError::ConsentMismatch(missing)))
        }
    }
}

fn envelope(data: Value, who: &Authenticated) -> Json<Value> {
    Json(json!({
        "Data": data,
        "Meta": { "TotalPages": 1, "ClientId": who.client_id(), "Subject": who.subject() },
    }))
}

/// Needs ReadAccountsBasic or ReadAccountsDetail; account numbers only with Detail.
async fn accounts(who: Authenticated) -> Result<Json<Value>, Refused> {
    let reach = Reach::of(&who);
    reach.require(
        &[Permission::ReadAccountsBasic, Permission::ReadAccountsDetail],
        "the consent does not include ReadAccountsBasic or ReadAccountsDetail",
    )?;
    let detail = reach.allows_any(&[Permission::ReadAccountsDetail]);
    let list: Vec<Value> = reach
        .accounts()
        .into_iter()
        .map(|a| {
            let mut account = json!({
                "AccountId": a.id, "Currency": a.currency, "Nickname": a.nickname,
                "AccountType": "Personal", "AccountSubType": "CurrentAccount",
            });
            if detail {
                account["Account"] = json!([{ "SchemeName": "UK.OBIE.IBAN", "Identification": a.iban }]);
            }
            account
        })
        .collect();
    Ok(envelope(json!({ "Account": list }), &who))
}

/// Needs ReadBalances.
async fn balances(who: Authenticated, Path(id): Path<String>) -> Result<Json<Value>, Refused> {
    let reach = Reach::of(&who);
    let a = reach.account(&id)?;
    reach.require(&[Permission::ReadBalances], "the consent does not include ReadBalances")?;
    Ok(envelope(
        json!({ "Balance": [{
            "AccountId": a.id, "CreditDebitIndicator": "Credit", "Type": "InterimAvailable",
            "DateTime": "2026-11-01T09:00:00+00:00", "Amount": { "Amount": a.balance, "Currency": a.currency },
        }]}),
        &who,
    ))
}

/// Booked transactions of every demo account: id, direction, amount, booking time, description.
const TRANSACTIONS: &[(&str, &str, &str, &str, &str)] = &[
    ("T1", "Debit", "12.50", "2026-10-30T10:00:00+00:00", "Coffee Roasters"),
    ("T2", "Credit", "2000.00", "2026-11-01T08:00:00+00:00", "Salary"),
    ("T3", "Debit", "86.20", "2026-06-15T12:30:00+00:00", "Energy bill"),
    (
        "T4",
        "Credit",
        "150.00",
        "2025-12-24T17:45:00+00:00",
        "Gift from a friend",
    ),
];

/// Needs ReadTransactionsBasic or ReadTransactionsDetail; only the directions granted
/// (ReadTransactionsCredits, ReadTransactionsDebits), only inside the consent's window, and the
/// description only with Detail.
async fn transactions(who: Authenticated, Path(id): Path<String>) -> Result<Json<Value>, Refused> {
    let reach = Reach::of(&who);
    let a = reach.account(&id)?;
    reach.require(
        &[Permission::ReadTransactionsBasic, Permission::ReadTransactionsDetail],
        "the consent does not include ReadTransactionsBasic or ReadTransactionsDetail",
    )?;
    let detail = reach.allows_any(&[Permission::ReadTransactionsDetail]);
    let list: Vec<Value> = TRANSACTIONS
        .iter()
        .filter(|(_, direction, _, booked, _)| match &reach {
            Reach::Consent(c) => {
                let permission = if *direction == "Credit" {
                    Permission::ReadTransactionsCredits
                } else {
                    Permission::ReadTransactionsDebits
                };
                c.allows(permission) && parse_date_time(booked).is_some_and(|at| c.in_window(at))
            }
            _ => true,
        })
        .map(|(tid, direction, amount, booked, info)| {
            let mut t = json!({
                "AccountId": a.id, "TransactionId": tid, "CreditDebitIndicator": direction,
                "Status": "Booked", "BookingDateTime": booked,
                "Amount": { "Amount": amount, "Currency": a.currency },
            });
            if detail {
                t["TransactionInformation"] = (*info).into();
            }
            t
        })
        .collect();
    Ok(envelope(json!({ "Transaction": list }), &who))
}

async fn payments(who: Authenticated) -> Json<Value> {
    envelope(json!({ "DomesticPayment": [] }), &who)
}
