//! "Test a certificate against this client": the checks the token endpoint runs on a
//! certificate for the client's registered method, each with its outcome. Unlike a request,
//! every check runs (an operator wants to see all that is wrong at once) and the chain is
//! validated afresh, never from the cache.

use super::certificate::{check_certificate_pins, check_validity_period};
use super::{check_active, self_signed, tls_client_auth, AuthFailure};
use crate::domain::AuthMethod;
use crate::oauth::clients::CachedClient;
use crate::pki::{ClientCertificate, TrustStore};

/// One check, by the name the audit trail uses, and why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    pub check: &'static str,
    pub failure: Option<String>,
}

impl CheckOutcome {
    fn of(result: Result<(), AuthFailure>, check: &'static str) -> Self {
        Self {
            check,
            failure: result.err().map(|f| f.to_string()),
        }
    }

    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// The outcome of each check `client`'s method runs on `cert` at `now`; empty for a method
/// that does not authenticate with a certificate.
pub fn certificate_checks(
    trust: &TrustStore,
    client: &CachedClient,
    cert: &ClientCertificate,
    now: i64,
) -> Vec<CheckOutcome> {
    let mut outcomes = vec![CheckOutcome::of(check_active(client), "client_active")];
    match client.client.auth_method {
        AuthMethod::TlsClientAuth => {
            outcomes.push(CheckOutcome::of(
                check_validity_period(cert, now),
                "certificate_valid_now",
            ));
            let chain = trust
                .verify(cert, now, &client.client.ca_pins)
                .map_err(AuthFailure::from);
            outcomes.push(CheckOutcome::of(chain, "certificate_chain_trusted"));
            outcomes.push(CheckOutcome::of(
                tls_client_auth::check_registered_subject(client, cert),
                "certificate_subject_matches",
            ));
        }
        AuthMethod::SelfSignedTlsClientAuth => {
            outcomes.push(CheckOutcome::of(
                check_validity_period(cert, now),
                "certificate_valid_now",
            ));
            outcomes.push(CheckOutcome::of(
                self_signed::check_registered_certificate(client, cert),
                "certificate_registered",
            ));
        }
        AuthMethod::PrivateKeyJwt => return Vec::new(),
    }
    outcomes.push(CheckOutcome::of(
        check_certificate_pins(client, cert),
        "certificate_pinned",
    ));
    outcomes
}
