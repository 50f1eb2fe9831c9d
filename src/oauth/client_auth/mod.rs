//! Client authentication (RFC 6749 §2.3) as a set of methods, each a pipeline of named checks:
//! RFC 8705 §2.1 `tls_client_auth`, §2.2 `self_signed_tls_client_auth`, and RFC 7523
//! `private_key_jwt`. [`authenticate`] finds the client, checks it is active and that the request
//! uses one method only, and runs the pipeline of its registered method. Every failure answers
//! only `invalid_client`; the reason is logged with the certificate's subject and thumbprint.

mod certificate;
pub mod diagnose;
mod presented;
mod private_key_jwt;
mod self_signed;
mod tls_client_auth;

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

pub use presented::Presented;
pub use private_key_jwt::ASSERTION_TYPE;

use super::client_keys::ClientJwtError;
use super::clients::CachedClient;
use super::{OAuthError, OAuthForm, Shared};
use crate::domain::{AuthMethod, Client, ClientStatus};
use crate::pki::{ChainError, ClientCertificate};

/// A client that passed every check of its authentication method on this request. Only
/// [`authenticate`] makes one.
#[derive(Debug, Clone)]
pub struct VerifiedClient {
    client: Arc<CachedClient>,
    /// The certificate it authenticated with, for the methods that use one.
    certificate: Option<Arc<ClientCertificate>>,
}

impl VerifiedClient {
    pub fn client(&self) -> &Client {
        &self.client.client
    }

    pub fn id(&self) -> &str {
        &self.client.client.client_id
    }

    /// The client with its parsed keys.
    pub fn cached(&self) -> &CachedClient {
        &self.client
    }

    /// The certificate the client authenticated with, if its method uses one.
    pub fn certificate(&self) -> Option<&ClientCertificate> {
        self.certificate.as_deref()
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
    #[error("no client_assertion")]
    MissingAssertion,
    #[error("client_assertion_type is not jwt-bearer")]
    AssertionType,
    #[error("client assertion refused: {0}")]
    Assertion(ClientJwtError),
    #[error("client assertion sub is not the client")]
    AssertionSubject,
    #[error("client assertion aud is not the issuer identifier alone")]
    AssertionAudience,
    #[error("client assertion lives too long")]
    AssertionLifetime,
    #[error("client assertion issued in the future")]
    AssertionIssuedAt,
    #[error("client assertion jti seen before")]
    AssertionReplayed,
    #[error("client authentication method the server does not accept (client secret)")]
    UnsupportedMethod,
}

impl AuthFailure {
    /// The check that failed, by the name the audit trail records.
    pub fn check(&self) -> &'static str {
        match self {
            Self::MissingClientId => "client_id_present",
            Self::UnknownClient => "client_known",
            Self::Disabled => "client_active",
            Self::UnsupportedMethod => "method_supported",
            Self::NoCertificate => "certificate_presented",
            Self::OutsideValidity => "certificate_valid_now",
            Self::Chain(_) => "certificate_chain_trusted",
            Self::SubjectMismatch(_) => "certificate_subject_matches",
            Self::UnregisteredCertificate => "certificate_registered",
            Self::PinMismatch => "certificate_pinned",
            Self::MissingAssertion => "assertion_present",
            Self::AssertionType => "assertion_type",
            Self::Assertion(_) => "assertion_verified",
            Self::AssertionSubject => "assertion_subject",
            Self::AssertionAudience => "assertion_audience",
            Self::AssertionLifetime => "assertion_lifetime",
            Self::AssertionIssuedAt => "assertion_issued_at",
            Self::AssertionReplayed => "assertion_unused",
        }
    }
}

/// Authenticates the client named by `client_id` in `form` (or by the assertion's issuer) with
/// its registered method. The attempt and its outcome are noted for the audit trail.
pub async fn authenticate(
    state: &Shared,
    presented: &Presented,
    form: &OAuthForm,
) -> Result<VerifiedClient, OAuthError> {
    let result = run(state, presented, form).await;
    if let Some(audit) = &presented.audit {
        audit.client(client_id(form).as_deref());
        match &result {
            Err(Failure::Auth(reason)) => audit.failed(reason.check(), reason.to_string()),
            Err(Failure::TwoMethods) => audit.failed("one_method", "more than one authentication method".into()),
            _ => {}
        }
    }
    if let Err(Failure::Auth(reason)) = &result {
        let cert = presented.certificate.get();
        tracing::warn!(
            client_id = form.get("client_id").unwrap_or("-"),
            reason = %reason,
            cert_subject = %cert.map(|c| c.subject().to_string()).unwrap_or_default(),
            cert_thumbprint = %cert.map(|c| c.thumbprint().to_base64url()).unwrap_or_default(),
            "client authentication failed"
        );
    }
    result.map_err(|f| match f {
        Failure::Auth(_) if presented.authorization_header => OAuthError::InvalidClientChallenge,
        Failure::Auth(_) => OAuthError::InvalidClient,
        Failure::TwoMethods => {
            tracing::warn!(
                client_id = form.get("client_id").unwrap_or("-"),
                "more than one authentication method"
            );
            // RFC 6749 §5.2: an attempt through the Authorization header is answered with 401
            // and a challenge.
            if presented.authorization_header {
                OAuthError::InvalidClientChallenge
            } else {
                OAuthError::InvalidRequest("a request must use one client authentication method only")
            }
        }
        Failure::Internal(e) => e,
    })
}

enum Failure {
    Auth(AuthFailure),
    /// RFC 6749 §2.3: a client must not use more than one method in a request.
    TwoMethods,
    Internal(OAuthError),
}

impl From<AuthFailure> for Failure {
    fn from(f: AuthFailure) -> Self {
        Failure::Auth(f)
    }
}

async fn run(state: &Shared, presented: &Presented, form: &OAuthForm) -> Result<VerifiedClient, Failure> {
    let client_id = client_id(form).ok_or(AuthFailure::MissingClientId)?;
    let client = state
        .clients
        .get_asked_by(&client_id, presented.asking())
        .await
        .map_err(|e| Failure::Internal(OAuthError::internal(e)))?
        .ok_or(AuthFailure::UnknownClient)?;
    check_active(&client)?;
    check_one_method(&client, presented, form)?;
    let now = crate::now();
    let peer = &presented.certificate;
    let certificate = match client.client.auth_method {
        AuthMethod::TlsClientAuth => Some(tls_client_auth::verify(&state.trust, &client, peer, now)?),
        AuthMethod::SelfSignedTlsClientAuth => Some(self_signed::verify(&client, peer, now)?),
        AuthMethod::PrivateKeyJwt => {
            private_key_jwt::verify(state, &client, form, now)
                .await
                .map_err(|r| match r {
                    private_key_jwt::Refusal::Auth(f) => Failure::Auth(f),
                    private_key_jwt::Refusal::Store(e) => Failure::Internal(OAuthError::internal(e)),
                })?;
            None
        }
    };
    Ok(VerifiedClient { client, certificate })
}

/// The form's `client_id`, or else (RFC 7523 §3: it may be left out) the unverified issuer of
/// the client assertion, which its signature check then holds to.
fn client_id(form: &OAuthForm) -> Option<String> {
    if let Some(id) = form.get("client_id") {
        return Some(id.to_string());
    }
    let payload = form.get("client_assertion")?.split('.').nth(1)?;
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("iss")?.as_str().map(String::from)
}

pub(super) fn check_active(client: &CachedClient) -> Result<(), AuthFailure> {
    match client.client.status {
        ClientStatus::Active => Ok(()),
        ClientStatus::Disabled | ClientStatus::Deleted => Err(AuthFailure::Disabled),
    }
}

/// One method per request (RFC 6749 §2.3): an `Authorization` header, a client secret, a client
/// assertion, and — for a client registered for an mTLS method — its certificate each count.
/// For a `private_key_jwt` client a certificate only binds tokens, and does not count. A secret
/// or an `Authorization` header alone is a method certbound does not accept.
fn check_one_method(client: &CachedClient, presented: &Presented, form: &OAuthForm) -> Result<(), Failure> {
    let secret = presented.authorization_header || form.get("client_secret").is_some();
    let assertion = form.get("client_assertion").is_some() || form.get("client_assertion_type").is_some();
    let certificate = client.client.auth_method.uses_certificate() && presented.certificate.get().is_some();
    let methods = [secret, assertion, certificate].into_iter().filter(|m| *m).count();
    if methods > 1 {
        return Err(Failure::TwoMethods);
    }
    if secret {
        return Err(AuthFailure::UnsupportedMethod.into());
    }
    Ok(())
}
