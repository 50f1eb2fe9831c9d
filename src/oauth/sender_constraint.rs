//! What an access token is bound to (FAPI 2.0 SP §5.3.2.2: only sender-constrained tokens).
//! A DPoP proof on the token request binds to its key (RFC 9449), whatever the client
//! authentication; otherwise the certificate the client authenticated with, or the one on the
//! connection (RFC 8705 §3). A client registered `dpop_bound_access_tokens` must send a proof; a
//! client with neither gets no token, unless it registered for unbound tokens.

use super::client_auth::VerifiedClient;
use super::OAuthError;
use crate::domain::{Confirmation, Jkt};
use crate::tls::PeerCertificate;

pub fn confirmation(
    client: &VerifiedClient,
    peer: &PeerCertificate,
    dpop_key: Option<Jkt>,
) -> Result<Option<Confirmation>, OAuthError> {
    if let Some(key) = dpop_key {
        return Ok(Some(Confirmation::Jkt(key)));
    }
    let registration = client.client();
    if registration.dpop_bound_access_tokens {
        return Err(OAuthError::InvalidDpopProof("this client's tokens need a DPoP proof"));
    }
    if !registration.bound_access_tokens {
        return Ok(None);
    }
    let certificate = client.certificate().or(peer.get()).ok_or(OAuthError::InvalidRequest(
        "sender-constrained tokens need a client certificate or a DPoP proof",
    ))?;
    Ok(Some(Confirmation::X5tS256(*certificate.thumbprint())))
}
