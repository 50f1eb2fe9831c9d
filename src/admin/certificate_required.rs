//! `[admin] client_ca`: with it, every console request (the sign-in page included) also needs a
//! client certificate that chains to the administrators' CA, on top of the password: a stolen
//! password alone does not open the console. The certificate comes from the TLS handshake (the
//! browser listener then asks for one, listing that CA) or from a trusted proxy.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AdminError;
use crate::pki::TrustStore;
use crate::tls::PeerCertificate;

/// The middleware (`axum::middleware::from_fn_with_state` with the CA).
pub async fn require(State(ca): State<Arc<TrustStore>>, request: Request, next: Next) -> Response {
    match check_administrator_certificate(&ca, request.extensions().get::<PeerCertificate>()) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// A certificate was presented and chains, now, to the administrators' CA.
fn check_administrator_certificate(ca: &TrustStore, presented: Option<&PeerCertificate>) -> Result<(), AdminError> {
    let certificate = presented
        .and_then(|p| p.get())
        .ok_or_else(|| AdminError::CertificateRequired("none presented".into()))?;
    ca.verify(certificate, crate::now(), &[])
        .map_err(|e| AdminError::CertificateRequired(format!("{e} (subject {})", certificate.subject())))
}
