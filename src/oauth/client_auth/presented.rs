//! What a request presents to authenticate its client besides the form: the certificate of the
//! connection (or of a trusted proxy's header), and whether it sent an `Authorization` header.
//! certbound accepts no client secrets, but it must notice one: a request that combines methods
//! is refused, and a 401 answering an `Authorization` header carries a challenge.

use axum::extract::FromRequestParts;
use axum::http::header;

use crate::tls::PeerCertificate;

#[derive(Debug, Clone, Default)]
pub struct Presented {
    pub certificate: PeerCertificate,
    pub authorization_header: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Presented {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            certificate: parts.extensions.get::<PeerCertificate>().cloned().unwrap_or_default(),
            authorization_header: parts.headers.contains_key(header::AUTHORIZATION),
        })
    }
}
