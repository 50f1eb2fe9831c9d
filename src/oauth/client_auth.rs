//! Mutual-TLS client authentication (RFC 8705 §2) as a pipeline of named checks. Each check
//! has one job and one failure reason; [`authenticate`] runs them in order, logs the reason with
//! the certificate's subject and thumbprint, and answers only `invalid_client`.

use std::sync::Arc;

use crate::domain::{AuthMethod, Client, ClientStatus, SubjectMatcher};
use crate::pki::{email_matches, ChainError, ClientCertificate, Thumbprint};
use crate::tls::PeerCertificate;

use super::clients::CachedClient;
use super::{OAuthError, OAuthForm, Shared};

/// A client whose certificate on this connection passed every check. Only [`authenticate`]
/// makes one.
#[derive(Debug, Clone)]
pub struct VerifiedClient {
    client: Arc<CachedClient>,
    cert: Arc<ClientCertificate>,
}

impl VerifiedClient {
    pub fn client(&self) -> &Client {
        &self.client.client
    }

    pub fn id(&self) -> &str {
        &self.client.client.client_id
    }

    /// The `x5t#S256` of the certificate the client authenticated with.
    pub fn thumbprint(&self) -> &Thumbprint {
        self.cert.thumbprint()
    }
}

/// Why authentication failed; logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    #[error("no client_id")]
    MissingClientId,
    #[error("unknown client")]
    UnknownClient,
    #[error("client is disabled")]
    Disabled,
    #[error("no client certificate on the connection")]
    NoCertificate,
    #[error("certificate expired or not yet valid")]
    OutsideValidity,
    #[error("chain rejected: {0}")]
    Chain(#[from] ChainError),
    #[error("certificate subject does not match the registered {0}")]
    SubjectMismatch(&'static str),
    #[error("certificate is not one the client registered")]
    UnregisteredCertificate,
    #[error("certificate does not match the client's certificate pins")]
    PinMismatch,
}

/// Runs the checks for the `client_id` in `form` against the connection's certificate.
pub async fn authenticate(
    state: &Shared,
    peer: &PeerCertificate,
    form: &OAuthForm,
) -> Result<VerifiedClient, OAuthError> {
    let result = run_checks(state, peer, form).await;
    if let Err(Failure::Auth(reason)) = &result {
        let cert = peer.get();
        tracing::warn!(
            client_id = form.get("client_id").unwrap_or("-"),
            reason = %reason,
            cert_subject = %cert.map(|c| c.subject().to_string()).unwrap_or_default(),
            cert_thumbprint = %cert.map(|c| c.thumbprint().to_base64url()).unwrap_or_default(),
            "client authentication failed"
        );
    }
    result.map_err(|f| match f {
        Failure::Auth(_) => OAuthError::InvalidClient,
        Failure::Internal(e) => e,
    })
}

enum Failure {
    Auth(AuthFailure),
    Internal(OAuthError),
}

impl From<AuthFailure> for Failure {
    fn from(f: AuthFailure) -> Self {
        Failure::Auth(f)
    }
}

async fn run_checks(state: &Shared, peer: &PeerCertificate, form: &OAuthForm) -> Result<VerifiedClient, Failure> {
    let client_id = form.get("client_id").ok_or(AuthFailure::MissingClientId)?;
    let cert = peer.0.clone().ok_or(AuthFailure::NoCertificate)?;
    let client = state
        .clients
        .get(client_id)
        .await
        .map_err(|e| Failure::Internal(OAuthError::internal(e)))?
        .ok_or(AuthFailure::UnknownClient)?;
    check_active(&client)?;
    let now = crate::now();
    check_validity_period(&cert, now)?;
    match client.client.auth_method {
        AuthMethod::TlsClientAuth => {
            check_chain_trusted(state, &client, &cert, now)?;
            check_registered_subject(&client, &cert)?;
        }
        AuthMethod::SelfSignedTlsClientAuth => check_registered_certificate(&client, &cert)?,
    }
    check_certificate_pins(&client, &cert)?;
    Ok(VerifiedClient { client, cert })
}

fn check_active(client: &CachedClient) -> Result<(), AuthFailure> {
    match client.client.status {
        ClientStatus::Active => Ok(()),
        ClientStatus::Disabled => Err(AuthFailure::Disabled),
    }
}

/// Checked on every request, even when the chain result is cached.
fn check_validity_period(cert: &ClientCertificate, now: i64) -> Result<(), AuthFailure> {
    if cert.is_valid_at(now) {
        Ok(())
    } else {
        Err(AuthFailure::OutsideValidity)
    }
}

/// RFC 8705 §2.1: the chain leads to a trust anchor (and to the pinned CA, if any). A chain
/// that validated recently for this client is not validated again.
fn check_chain_trusted(
    state: &Shared,
    client: &CachedClient,
    cert: &ClientCertificate,
    now: i64,
) -> Result<(), AuthFailure> {
    if client.chain_validated(cert.chain_digest(), now) {
        return Ok(());
    }
    state.trust.verify(cert, now, &client.client.ca_pins)?;
    client.remember_chain(*cert.chain_digest(), now, cert.not_after());
    Ok(())
}

/// RFC 8705 §2.1.2: the one registered subject form must match.
fn check_registered_subject(client: &CachedClient, cert: &ClientCertificate) -> Result<(), AuthFailure> {
    let Some(subject) = &client.client.subject else {
        return Err(AuthFailure::SubjectMismatch("subject (none registered)"));
    };
    let san = cert.san();
    let matched = match subject {
        SubjectMatcher::Dn(dn) => dn.matches(cert.subject()),
        SubjectMatcher::SanDns(name) => san.dns.iter().any(|d| d.eq_ignore_ascii_case(name)),
        SubjectMatcher::SanUri(uri) => san.uri.iter().any(|u| u == uri),
        SubjectMatcher::SanIp(ip) => san.ip.contains(ip),
        SubjectMatcher::SanEmail(email) => san.email.iter().any(|e| email_matches(email, e)),
    };
    if matched {
        Ok(())
    } else {
        Err(AuthFailure::SubjectMismatch(subject.parts().0))
    }
}

/// RFC 8705 §2.2: the leaf is one of the client's registered certificates (JWKS `x5c`, or a
/// thumbprint pin).
fn check_registered_certificate(client: &CachedClient, cert: &ClientCertificate) -> Result<(), AuthFailure> {
    let presented = cert.thumbprint();
    let registered = client.registered_thumbprints.iter().chain(&client.client.cert_pins);
    // Compare against every entry, so timing does not reveal which one matched.
    let found = registered.fold(false, |found, t| found | (t == presented));
    if found {
        Ok(())
    } else {
        Err(AuthFailure::UnregisteredCertificate)
    }
}

/// Exact-certificate pins, when the client has any: the leaf must match one by thumbprint or
/// by issuer and serial number.
fn check_certificate_pins(client: &CachedClient, cert: &ClientCertificate) -> Result<(), AuthFailure> {
    let c = &client.client;
    if c.cert_pins.is_empty() && client.issuer_serial_pins.is_empty() {
        return Ok(());
    }
    let by_thumbprint = c
        .cert_pins
        .iter()
        .fold(false, |found, t| found | (t == cert.thumbprint()));
    let by_issuer_serial = client.issuer_serial_pins.iter().any(|(issuer, serial)| {
        without_leading_zeros(serial) == without_leading_zeros(cert.serial()) && issuer.matches(cert.issuer())
    });
    if by_thumbprint || by_issuer_serial {
        Ok(())
    } else {
        Err(AuthFailure::PinMismatch)
    }
}

/// Serial numbers compare as integers: `00 7f` (DER) and `7f` (as OpenSSL prints it) are equal.
fn without_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}
