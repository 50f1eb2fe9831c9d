//! What an access token is bound to (FAPI 2.0 SP §5.3.2.2: only sender-constrained tokens). For
//! a client registered with `tls_client_certificate_bound_access_tokens` (RFC 8705 §3.4), the
//! certificate it authenticated with, or else the one on the connection.

use super::client_auth::VerifiedClient;
use super::OAuthError;
use crate::domain::Confirmation;
use crate::tls::PeerCertificate;

pub fn confirmation(client: &VerifiedClient, peer: &PeerCertificate) -> Result<Option<Confirmation>, OAuthError> {
    if !client.client().bound_access_tokens {
        return Ok(None);
    }
    let certificate = client.certificate().or(peer.get()).ok_or(OAuthError::InvalidRequest(
        "certificate-bound tokens need a client certificate on the connection",
    ))?;
    Ok(Some(Confirmation::X5tS256(*certificate.thumbprint())))
}
