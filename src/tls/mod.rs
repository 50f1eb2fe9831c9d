//! The HTTPS listener: rustls with an optional client certificate, whose chain reaches handlers
//! as a [`PeerCertificate`] parsed once per connection.
//!
//! The handshake proves the peer holds the certificate's private key; it does not decide trust.
//! Trust is per client (RFC 8705 §2: a PKI chain for `tls_client_auth`, a registered certificate
//! for `self_signed_tls_client_auth`), so the verifier here accepts any certificate and the OAuth
//! layer judges it.

mod body_deadline;
pub mod client;
pub mod forwarded;
pub mod limits;
pub mod profile;
mod serve;
mod verifier;

pub use body_deadline::{is_body_timeout, BodyTimeout};
pub use limits::{Limits, LimitsConfig};
pub use profile::TlsProfile;
pub use serve::{serve, serve_with};

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::pki::ClientCertificate;
pub use forwarded::Forwarding;

/// The local address of the listener a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerAddr(pub std::net::SocketAddr);

/// Present on a request whose client certificate came from a trusted proxy's header rather than
/// the TLS handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardedCertificate;

/// The address of the peer a request arrived from (the proxy's, behind one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let unspecified = ClientAddr(std::net::Ipv4Addr::UNSPECIFIED.into());
        Ok(parts.extensions.get::<ClientAddr>().copied().unwrap_or(unspecified))
    }
}

/// The client certificate of the connection a request arrived on, if any.
#[derive(Debug, Clone, Default)]
pub struct PeerCertificate(pub Option<Arc<ClientCertificate>>);

impl PeerCertificate {
    /// Parses the chain rustls received. An unparsable chain counts as no certificate (and is
    /// logged), so it can only ever fail client authentication.
    fn from_chain(chain: Option<&[CertificateDer<'static>]>, peer: SocketAddr) -> Self {
        let Some(chain) = chain.filter(|c| !c.is_empty()) else {
            return Self(None);
        };
        match ClientCertificate::from_chain(chain.to_vec()) {
            Ok(cert) => Self(Some(Arc::new(cert))),
            Err(e) => {
                tracing::warn!(%peer, error = %e, "unusable client certificate");
                Self(None)
            }
        }
    }

    pub fn get(&self) -> Option<&ClientCertificate> {
        self.0.as_deref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PeerCertificate {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<PeerCertificate>().cloned().unwrap_or_default())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("reading {0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: no usable PEM {1}")]
    Pem(String, &'static str),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Whether a listener asks clients for a certificate. It never requires one: the application
/// decides what a request without one may do.
#[derive(Debug, Clone)]
pub enum CertificateRequest {
    No,
    /// From any CA (TPPs: trust is the client registration's business).
    Any,
    /// Listing these CAs' subjects (DER, without the outer SEQUENCE).
    From(Vec<Vec<u8>>),
}

/// A rustls server configuration for the given certificate and key under the default (FAPI 2.0)
/// profile. With `request_client_cert`, clients are asked for a certificate but not required to
/// send one.
pub fn server_config(
    cert_path: &Path,
    key_path: &Path,
    request_client_cert: bool,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let request = match request_client_cert {
        true => CertificateRequest::Any,
        false => CertificateRequest::No,
    };
    server_config_with(TlsProfile::default(), cert_path, key_path, request)
}

/// The same under `profile`.
pub fn server_config_with(
    profile: TlsProfile,
    cert_path: &Path,
    key_path: &Path,
    request: CertificateRequest,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| TlsSetupError::Io(p.display().to_string(), e));
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(cert_path)?)
        .collect::<Result<_, _>>()
        .ok()
        .filter(|c: &Vec<_>| !c.is_empty())
        .ok_or_else(|| TlsSetupError::Pem(cert_path.display().to_string(), "certificate"))?;
    let key = PrivateKeyDer::from_pem_slice(&read(key_path)?)
        .map_err(|_| TlsSetupError::Pem(key_path.display().to_string(), "private key"))?;
    let provider = profile.provider();
    let builder = ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(profile.versions())?;
    let hints = match request {
        CertificateRequest::No => None,
        CertificateRequest::Any => Some(Vec::new()),
        CertificateRequest::From(subjects) => Some(
            subjects
                .iter()
                .map(|s| rustls::DistinguishedName::in_sequence(s))
                .collect(),
        ),
    };
    let builder = match hints {
        Some(hints) => {
            builder.with_client_cert_verifier(Arc::new(verifier::AnyClientCertificate::new(provider, hints)))
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
