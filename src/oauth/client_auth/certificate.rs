//! Checks every certificate-based method runs.

use std::sync::Arc;

use super::AuthFailure;
use crate::oauth::clients::CachedClient;
use crate::pki::ClientCertificate;
use crate::tls::PeerCertificate;

/// The connection (or a trusted proxy) presented a certificate.
pub(super) fn check_certificate_presented(peer: &PeerCertificate) -> Result<Arc<ClientCertificate>, AuthFailure> {
    peer.0.clone().ok_or(AuthFailure::NoCertificate)
}

/// Checked on every request, even when the chain result is cached.
pub(super) fn check_validity_period(cert: &ClientCertificate, now: i64) -> Result<(), AuthFailure> {
    if cert.is_valid_at(now) {
        Ok(())
    } else {
        Err(AuthFailure::OutsideValidity)
    }
}

/// Exact-certificate pins, when the client registered any: the leaf must match one by thumbprint
/// or by issuer and serial number. Whether pins apply is decided by what was registered, not by
/// what decoded, so an unreadable pin fails closed.
pub(super) fn check_certificate_pins(client: &CachedClient, cert: &ClientCertificate) -> Result<(), AuthFailure> {
    let c = &client.client;
    if c.cert_pins.is_empty() && c.issuer_serial_pins.is_empty() {
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
