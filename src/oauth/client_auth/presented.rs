//! What a request presents to authenticate its client besides the form: the certificate of the
//! connection (or of a trusted proxy's header), and whether it sent an `Authorization` header.
//! certbound accepts no client secrets, but it must notice one: a request that combines methods
//! is refused, and a 401 answering an `Authorization` header carries a challenge.

use axum::extract::FromRequestParts;
use axum::http::header;

use crate::audit::AuditSlot;
use crate::oauth::miss_limit::MissKey;
use crate::tls::{ClientAddr, PeerCertificate};

#[derive(Debug, Clone)]
pub struct Presented {
    pub certificate: PeerCertificate,
    pub authorization_header: bool,
    /// The address the request came from (the proxy's, behind one).
    pub peer: std::net::IpAddr,
    /// Where the attempt is noted for the audit trail, when auditing is on.
    pub audit: Option<AuditSlot>,
}

impl Presented {
    /// Who is asking, for rate limits: the certificate if any, else the address.
    pub fn asking(&self) -> MissKey {
        match self.certificate.get() {
            Some(cert) => MissKey::Certificate(*cert.thumbprint().as_bytes()),
            None => MissKey::Address(self.peer),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Presented {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            certificate: parts.extensions.get::<PeerCertificate>().cloned().unwrap_or_default(),
            authorization_header: parts.headers.contains_key(header::AUTHORIZATION),
            peer: ClientAddr::from_request_parts(parts, state)
                .await
                .unwrap_or_else(|e| match e {})
                .0,
            audit: parts.extensions.get::<AuditSlot>().cloned(),
        })
    }
}
