//! Client authentication (RFC 6749 §2.3) as a set of methods, each a pipeline of named checks:
//! RFC 8705 §2.1 `tls_client_auth` and §2.2 `self_signed_tls_client_auth`. [`authenticate`]
//! finds the client, checks it is active, and runs the pipeline of its registered method. Every
//! failure answers only `invalid_client`; the reason is logged with the certificate's subject and
//! thumbprint.

mod certificate;
mod self_signed;
mod tls_client_auth;

use std::sync::Arc;

use super::clients::CachedClient;
use super::{OAuthError, OAuthForm, Shared};
use crate::domain::{AuthMethod, Client, ClientStatus};
use crate::pki::{ChainError, ClientCertificate};
use crate::tls::PeerCertificate;

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
}

/// Authenticates the client named by `client_id` in `form` with its registered method.
pub async fn authenticate(
    state: &Shared,
    peer: &PeerCertificate,
    form: &OAuthForm,
) -> Result<VerifiedClient, OAuthError> {
    let result = run(state, peer, form).await;
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

async fn run(state: &Shared, peer: &PeerCertificate, form: &OAuthForm) -> Result<VerifiedClient, Failure> {
    let client_id = form.get("client_id").ok_or(AuthFailure::MissingClientId)?;
    let client = state
        .clients
        .get(client_id)
        .await
        .map_err(|e| Failure::Internal(OAuthError::internal(e)))?
        .ok_or(AuthFailure::UnknownClient)?;
    check_active(&client)?;
    let now = crate::now();
    let certificate = match client.client.auth_method {
        AuthMethod::TlsClientAuth => tls_client_auth::verify(&state.trust, &client, peer, now)?,
        AuthMethod::SelfSignedTlsClientAuth => self_signed::verify(&client, peer, now)?,
    };
    Ok(VerifiedClient {
        client,
        certificate: Some(certificate),
    })
}

fn check_active(client: &CachedClient) -> Result<(), AuthFailure> {
    match client.client.status {
        ClientStatus::Active => Ok(()),
        ClientStatus::Disabled => Err(AuthFailure::Disabled),
    }
}
