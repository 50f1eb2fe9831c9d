//! Scopes, Open Banking permissions and RFC 9396 details in plain words for the consent page.
//! Anything this server does not know is shown by its name (escaped, as everything a client
//! controls), marked as undescribed.

use serde_json::Value;

use crate::domain::Permission as ConsentPermission;
use crate::oauth::authorization_details::PAYMENT_INITIATION;

/// One line of the consent page.
pub(super) struct Permission {
    pub title: String,
    pub detail: String,
}

/// The scopes described in plain words, advertised in metadata (`scopes_supported`).
pub const DESCRIBED_SCOPES: [&str; 3] = ["openid", "accounts", "payments"];

/// The scopes that give access to accounts: the customer picks which ones.
const ACCOUNT_SCOPES: &[&str] = &["accounts", "payments"];

pub(super) fn describe(scopes: &[String]) -> Vec<Permission> {
    scopes
        .iter()
        .map(|scope| {
            let (title, detail) = match scope.as_str() {
                "openid" => (
                    "Confirm who you are".to_string(),
                    "A customer number that identifies you to this app; not your name or password.".to_string(),
                ),
                "accounts" => (
                    "See your account details".to_string(),
                    "Account names and numbers, balances and transactions of the accounts you choose.".to_string(),
                ),
                "payments" => (
                    "See your payments".to_string(),
                    "Payments from the accounts you choose.".to_string(),
                ),
                other => (
                    format!("Access labelled “{other}”"),
                    "Your bank has no description of this permission; deny if you did not expect it.".to_string(),
                ),
            };
            Permission { title, detail }
        })
        .collect()
}

/// Whether the scopes give access to accounts, so that at least one must be chosen.
pub(super) fn need_accounts(scopes: &[String]) -> bool {
    scopes.iter().any(|s| ACCOUNT_SCOPES.contains(&s.as_str()))
}

/// An Open Banking consent's permissions in plain words, one line per data cluster. A Detail
/// permission implies its Basic one, so only the wider is shown.
pub(super) fn describe_consent(granted: &[ConsentPermission]) -> Vec<Permission> {
    use ConsentPermission::*;
    let has = |p: ConsentPermission| granted.contains(&p);
    let line = |title: &str, detail: &str| Permission {
        title: title.to_string(),
        detail: detail.to_string(),
    };
    let mut lines = Vec::new();
    let pairs: [(ConsentPermission, ConsentPermission, &str, &str, &str); 6] = [
        (
            ReadAccountsBasic,
            ReadAccountsDetail,
            "See your accounts",
            "Their names, types and currencies.",
            "Their names, types, currencies and account numbers.",
        ),
        (
            ReadBeneficiariesBasic,
            ReadBeneficiariesDetail,
            "See your saved payees",
            "Their names and references.",
            "Their names, references and account numbers.",
        ),
        (
            ReadStandingOrdersBasic,
            ReadStandingOrdersDetail,
            "See your standing orders",
            "Amounts, dates and references.",
            "Amounts, dates, references and the payees' account numbers.",
        ),
        (
            ReadScheduledPaymentsBasic,
            ReadScheduledPaymentsDetail,
            "See your scheduled payments",
            "Amounts, dates and references.",
            "Amounts, dates, references and the payees' account numbers.",
        ),
        (
            ReadStatementsBasic,
            ReadStatementsDetail,
            "See your statements",
            "Statement periods and totals.",
            "Statement periods, totals and every amount on them.",
        ),
        (
            ReadTransactionsBasic,
            ReadTransactionsDetail,
            "See your transactions",
            "amounts and dates.",
            "amounts, dates, descriptions and the other party's details.",
        ),
    ];
    for (basic, detail, title, basic_words, detail_words) in pairs {
        let words = if has(detail) {
            detail_words
        } else if has(basic) {
            basic_words
        } else {
            continue;
        };
        if basic == ReadTransactionsBasic {
            let direction = match (has(ReadTransactionsCredits), has(ReadTransactionsDebits)) {
                (true, true) => "Money in and money out",
                (true, false) => "Money in only",
                _ => "Money out only",
            };
            lines.push(line(title, &format!("{direction}: {words}")));
        } else {
            lines.push(line(title, words));
        }
    }
    let singles: [(ConsentPermission, &str, &str); 7] = [
        (
            ReadBalances,
            "See your balances",
            "The balance of each account you choose.",
        ),
        (
            ReadDirectDebits,
            "See your direct debits",
            "Who collects them and the last amounts paid.",
        ),
        (ReadProducts, "See your products", "The kind of account and its terms."),
        (
            ReadOffers,
            "See offers made to you",
            "Offers such as overdraft or balance-transfer limits.",
        ),
        (
            ReadParty,
            "See the account holders",
            "Names and contact details of everyone on the account.",
        ),
        (
            ReadPartyPsu,
            "See your personal details",
            "Your name and contact details.",
        ),
        (
            ReadPan,
            "See full card numbers",
            "Card numbers in full rather than masked.",
        ),
    ];
    for (permission, title, words) in singles {
        if has(permission) {
            lines.push(line(title, words));
        }
    }
    lines
}

/// An RFC 9396 detail the page has no consent for: the example payment in words, any other type
/// by its name and members (escaped like everything a client sends).
pub(super) fn describe_detail(detail: &Value) -> Permission {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    if detail["type"] == PAYMENT_INITIATION {
        let amount = &detail["instructedAmount"];
        return Permission {
            title: format!(
                "Pay {} {} to {}",
                text(&amount["amount"]),
                text(&amount["currency"]),
                text(&detail["creditorName"])
            ),
            detail: format!(
                "To account {}. Reference: {}",
                text(&detail["creditorAccount"]["iban"]),
                detail["remittanceInformationUnstructured"].as_str().unwrap_or("none")
            ),
        };
    }
    let members: Vec<String> = detail
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, _)| name.as_str() != "type")
        .map(|(name, value)| format!("{name}: {value}"))
        .collect();
    Permission {
        title: format!("Access labelled “{}”", text(&detail["type"])),
        detail: format!(
            "Your bank has no description of this; deny if you did not expect it. {}",
            members.join("; ")
        ),
    }
}
