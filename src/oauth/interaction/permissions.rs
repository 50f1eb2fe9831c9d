//! Scopes in plain words for the consent page. A scope this server does not know is shown by
//! its name (escaped, as everything a client controls), marked as undescribed.

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
