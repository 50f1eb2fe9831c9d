//! Open Banking account-access consents (UK Open Banking Read/Write API v3.1, Account and
//! Transaction API): a TPP asks for a set of permissions over a time window, the customer
//! authorises it for the accounts they choose, and every resource call is held to it. The
//! authorised consent travels in access tokens as an RFC 9396 `authorization_details` object of
//! type [`ACCOUNT_ACCESS_CONSENT`], so a resource server enforces it without calling back.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The RFC 9396 type that names a consent at PAR (`{"type": …, "consent_id": …}`) and carries
/// the authorised consent in tokens.
pub const ACCOUNT_ACCESS_CONSENT: &str = "account_access_consent";

/// The v3.1 permission codes, each naming a data cluster a TPP may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Permission {
    ReadAccountsBasic,
    ReadAccountsDetail,
    ReadBalances,
    ReadBeneficiariesBasic,
    ReadBeneficiariesDetail,
    ReadDirectDebits,
    ReadOffers,
    #[serde(rename = "ReadPAN")]
    ReadPan,
    ReadParty,
    #[serde(rename = "ReadPartyPSU")]
    ReadPartyPsu,
    ReadProducts,
    ReadScheduledPaymentsBasic,
    ReadScheduledPaymentsDetail,
    ReadStandingOrdersBasic,
    ReadStandingOrdersDetail,
    ReadStatementsBasic,
    ReadStatementsDetail,
    ReadTransactionsBasic,
    ReadTransactionsCredits,
    ReadTransactionsDebits,
    ReadTransactionsDetail,
}

impl Permission {
    /// The code as the specification spells it.
    pub fn code(self) -> String {
        match serde_json::to_value(self) {
            Ok(Value::String(s)) => s,
            _ => format!("{self:?}"),
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        serde_json::from_value(Value::String(code.to_string())).ok()
    }
}

/// Why a set of permissions cannot make a consent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermissionError {
    #[error("Permissions must not be empty")]
    Empty,
    #[error("unknown permission code {0:?}")]
    Unknown(String),
    #[error("{0} is listed twice")]
    Repeated(String),
    #[error("ReadTransactionsBasic or ReadTransactionsDetail needs ReadTransactionsCredits or ReadTransactionsDebits")]
    TransactionsWithoutDirection,
    #[error("ReadTransactionsCredits or ReadTransactionsDebits needs ReadTransactionsBasic or ReadTransactionsDetail")]
    DirectionWithoutTransactions,
}

/// Parses permission codes and applies the specification's rules for a consent: not empty,
/// every code known, none twice, and the transaction permissions only in their combinations (a
/// Basic or Detail needs at least one of Credits and Debits, and each of those needs a Basic or
/// Detail).
pub fn parse_permissions(codes: &[String]) -> Result<Vec<Permission>, PermissionError> {
    use Permission::*;
    if codes.is_empty() {
        return Err(PermissionError::Empty);
    }
    let mut permissions = Vec::with_capacity(codes.len());
    for code in codes {
        let p = Permission::parse(code).ok_or_else(|| PermissionError::Unknown(code.clone()))?;
        if permissions.contains(&p) {
            return Err(PermissionError::Repeated(code.clone()));
        }
        permissions.push(p);
    }
    let has = |p: Permission| permissions.contains(&p);
    let listing = has(ReadTransactionsBasic) || has(ReadTransactionsDetail);
    let direction = has(ReadTransactionsCredits) || has(ReadTransactionsDebits);
    if listing && !direction {
        return Err(PermissionError::TransactionsWithoutDirection);
    }
    if direction && !listing {
        return Err(PermissionError::DirectionWithoutTransactions);
    }
    Ok(permissions)
}

/// Where a consent stands. `Expired` is never stored: a consent past its expiration reads so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentStatus {
    AwaitingAuthorisation,
    Authorised,
    Rejected,
    Revoked,
    Expired,
}

impl ConsentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingAuthorisation => "AwaitingAuthorisation",
            Self::Authorised => "Authorised",
            Self::Rejected => "Rejected",
            Self::Revoked => "Revoked",
            Self::Expired => "Expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::AwaitingAuthorisation,
            Self::Authorised,
            Self::Rejected,
            Self::Revoked,
            Self::Expired,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

/// An account-access consent as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub id: String,
    pub client_id: String,
    pub permissions: Vec<Permission>,
    /// `ExpirationDateTime`; `None` means until revoked.
    pub expires_at: Option<i64>,
    pub transaction_from: Option<i64>,
    pub transaction_to: Option<i64>,
    /// As stored: never `Expired`.
    pub status: ConsentStatus,
    pub created_at: i64,
    pub status_updated_at: i64,
    /// Once authorised: who, for which accounts, under which grant.
    pub customer_id: Option<String>,
    pub accounts: Vec<String>,
    pub grant_id: Option<String>,
}

impl Consent {
    /// The status a reader sees at `now`: an awaiting or authorised consent past its expiration
    /// has expired.
    pub fn status_at(&self, now: i64) -> ConsentStatus {
        let live = matches!(
            self.status,
            ConsentStatus::AwaitingAuthorisation | ConsentStatus::Authorised
        );
        match self.expires_at {
            Some(at) if live && now >= at => ConsentStatus::Expired,
            _ => self.status,
        }
    }

    /// The RFC 9396 detail that tokens of this consent carry once the customer chose `accounts`.
    pub fn granted_detail(&self, accounts: &[String]) -> Value {
        let mut detail = json!({
            "type": ACCOUNT_ACCESS_CONSENT,
            "consent_id": self.id,
            "permissions": self.permissions,
            "accounts": accounts,
        });
        let times = [
            ("expiration_date_time", self.expires_at),
            ("transaction_from_date_time", self.transaction_from),
            ("transaction_to_date_time", self.transaction_to),
        ];
        for (name, at) in times {
            if let Some(text) = at.and_then(format_date_time) {
                detail[name] = Value::String(text);
            }
        }
        detail
    }
}

/// What a token says the customer authorised: read by resource servers from its
/// `authorization_details`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedConsent {
    pub consent_id: String,
    pub permissions: Vec<Permission>,
    pub accounts: Vec<String>,
    pub expires_at: Option<i64>,
    pub transaction_from: Option<i64>,
    pub transaction_to: Option<i64>,
}

impl GrantedConsent {
    /// The consent among a token's `authorization_details`; `None` if there is none or it does
    /// not read as one (an unreadable consent grants nothing).
    pub fn from_details(details: Option<&Value>) -> Option<Self> {
        let detail = details?
            .as_array()?
            .iter()
            .find(|d| d["type"] == ACCOUNT_ACCESS_CONSENT)?;
        let strings = |name: &str| -> Option<Vec<String>> {
            detail[name]
                .as_array()?
                .iter()
                .map(|v| v.as_str().map(String::from))
                .collect()
        };
        let time = |name: &str| -> Option<Option<i64>> {
            match &detail[name] {
                Value::Null => Some(None),
                Value::String(s) => parse_date_time(s).map(Some),
                _ => None,
            }
        };
        let permissions = strings("permissions")?
            .iter()
            .map(|c| Permission::parse(c))
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            consent_id: detail["consent_id"].as_str()?.to_string(),
            permissions,
            accounts: strings("accounts")?,
            expires_at: time("expiration_date_time")?,
            transaction_from: time("transaction_from_date_time")?,
            transaction_to: time("transaction_to_date_time")?,
        })
    }

    pub fn allows(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// Whether a transaction booked at `at` falls in the consent's window.
    pub fn in_window(&self, at: i64) -> bool {
        self.transaction_from.is_none_or(|from| at >= from) && self.transaction_to.is_none_or(|to| at <= to)
    }
}

/// An ISO 8601 date-time with its offset (RFC 3339), as Open Banking bodies carry them.
pub fn parse_date_time(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// `2026-12-01T09:30:00Z` style, always UTC.
pub fn format_date_time(at: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(at).ok()?.format(&Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_specifications_combination_rules() {
        assert!(parse_permissions(&codes(&["ReadAccountsBasic", "ReadBalances"])).is_ok());
        assert!(parse_permissions(&codes(&["ReadTransactionsDetail", "ReadTransactionsDebits"])).is_ok());
        assert_eq!(parse_permissions(&[]), Err(PermissionError::Empty));
        assert_eq!(
            parse_permissions(&codes(&["ReadTransactionsDetail"])),
            Err(PermissionError::TransactionsWithoutDirection)
        );
        assert_eq!(
            parse_permissions(&codes(&["ReadTransactionsBasic", "ReadAccountsBasic"])),
            Err(PermissionError::TransactionsWithoutDirection)
        );
        assert_eq!(
            parse_permissions(&codes(&["ReadTransactionsCredits"])),
            Err(PermissionError::DirectionWithoutTransactions)
        );
        assert_eq!(
            parse_permissions(&codes(&["ReadBalances", "ReadBalances"])),
            Err(PermissionError::Repeated("ReadBalances".into()))
        );
        assert_eq!(
            parse_permissions(&codes(&["ReadEverything"])),
            Err(PermissionError::Unknown("ReadEverything".into()))
        );
        assert_eq!(Permission::parse("ReadPAN"), Some(Permission::ReadPan));
        assert_eq!(Permission::ReadPartyPsu.code(), "ReadPartyPSU");
    }

    #[test]
    fn expiry_is_read_not_stored() {
        let consent = Consent {
            id: "aac-1".into(),
            client_id: "tpp".into(),
            permissions: vec![Permission::ReadBalances],
            expires_at: Some(100),
            transaction_from: None,
            transaction_to: None,
            status: ConsentStatus::Authorised,
            created_at: 0,
            status_updated_at: 0,
            customer_id: None,
            accounts: vec![],
            grant_id: None,
        };
        assert_eq!(consent.status_at(99), ConsentStatus::Authorised);
        assert_eq!(consent.status_at(100), ConsentStatus::Expired);
        let rejected = Consent {
            status: ConsentStatus::Rejected,
            ..consent
        };
        assert_eq!(rejected.status_at(200), ConsentStatus::Rejected);
    }

    #[test]
    fn a_granted_detail_reads_back() {
        let consent = Consent {
            id: "aac-1".into(),
            client_id: "tpp".into(),
            permissions: vec![Permission::ReadTransactionsBasic, Permission::ReadTransactionsCredits],
            expires_at: Some(1_800_000_000),
            transaction_from: Some(1_700_000_000),
            transaction_to: None,
            status: ConsentStatus::AwaitingAuthorisation,
            created_at: 0,
            status_updated_at: 0,
            customer_id: None,
            accounts: vec![],
            grant_id: None,
        };
        let detail = consent.granted_detail(&["22289".into()]);
        let granted = GrantedConsent::from_details(Some(&json!([{"type": "other"}, detail]))).unwrap();
        assert_eq!(granted.consent_id, "aac-1");
        assert_eq!(granted.accounts, vec!["22289".to_string()]);
        assert_eq!(granted.expires_at, Some(1_800_000_000));
        assert!(granted.allows(Permission::ReadTransactionsCredits));
        assert!(!granted.allows(Permission::ReadTransactionsDebits));
        assert!(!granted.in_window(1_699_999_999));
        assert!(granted.in_window(1_700_000_000));
        let tampered =
            json!([{"type": ACCOUNT_ACCESS_CONSENT, "consent_id": "x", "permissions": ["ReadAll"], "accounts": []}]);
        assert_eq!(GrantedConsent::from_details(Some(&tampered)), None);
    }

    #[test]
    fn date_times_with_offsets() {
        assert_eq!(parse_date_time("2026-12-01T00:00:00+00:00"), Some(1_796_083_200));
        assert_eq!(parse_date_time("2026-12-01T01:00:00+01:00"), Some(1_796_083_200));
        assert_eq!(parse_date_time("2026-12-01"), None);
        assert_eq!(parse_date_time("2026-12-01T00:00:00"), None);
        assert_eq!(format_date_time(1_796_083_200).as_deref(), Some("2026-12-01T00:00:00Z"));
    }
}
