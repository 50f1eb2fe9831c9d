//! RFC 8705 §2.2 `self_signed_tls_client_auth`: the leaf is one of the certificates the client
//! registered (JWKS `x5c`, or a thumbprint pin); no chain is validated.

use std::sync::Arc;

use super::certificate::{check_certificate_pins, check_certificate_presented, check_validity_period};
use super::AuthFailure;
use crate::oauth::clients::CachedClient;
use crate::pki::ClientCertificate;
use crate::tls::PeerCertificate;

pub(super) fn verify(
    client: &CachedClient,
    peer: &PeerCertificate,
    now: i64,
) -> Result<Arc<ClientCertificate>, AuthFailure> {
    let cert = check_certificate_presented(peer)?;
    check_validity_period(&cert, now)?;
    check_registered_certificate(client, &cert)?;
    check_certificate_pins(client, &cert)?;
    Ok(cert)
}

pub(super) fn check_registered_certificate(client: &CachedClient, cert: &ClientCertificate) -> Result<(), AuthFailure> {
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
