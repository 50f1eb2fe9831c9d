//! RFC 8705 §2.1 `tls_client_auth`: a certificate that chains to a trust anchor and carries the
//! client's one registered subject.

use std::sync::Arc;

use super::certificate::{check_certificate_pins, check_certificate_presented, check_validity_period};
use super::AuthFailure;
use crate::domain::SubjectMatcher;
use crate::oauth::clients::CachedClient;
use crate::pki::{email_matches, ClientCertificate, TrustStore};
use crate::tls::PeerCertificate;

pub(super) fn verify(
    trust: &TrustStore,
    client: &CachedClient,
    peer: &PeerCertificate,
    now: i64,
) -> Result<Arc<ClientCertificate>, AuthFailure> {
    let cert = check_certificate_presented(peer)?;
    check_validity_period(&cert, now)?;
    check_chain_trusted(trust, client, &cert, now)?;
    check_registered_subject(client, &cert)?;
    check_certificate_pins(client, &cert)?;
    Ok(cert)
}

/// The chain leads to a trust anchor (and to the pinned CA, if any). A chain that validated
/// recently for this client is not validated again.
fn check_chain_trusted(
    trust: &TrustStore,
    client: &CachedClient,
    cert: &ClientCertificate,
    now: i64,
) -> Result<(), AuthFailure> {
    if client.chain_validated(cert.chain_digest(), now) {
        return Ok(());
    }
    trust.verify(cert, now, &client.client.ca_pins)?;
    client.remember_chain(*cert.chain_digest(), now, cert.not_after());
    Ok(())
}

/// RFC 8705 §2.1.2: the one registered subject form must match.
pub(super) fn check_registered_subject(client: &CachedClient, cert: &ClientCertificate) -> Result<(), AuthFailure> {
    let Some(subject) = &client.client.subject else {
        return Err(AuthFailure::SubjectMismatch("subject (none registered)"));
    };
    let san = cert.san();
    let matched = match subject {
        SubjectMatcher::Dn(dn) => dn.matches(cert.subject()),
        SubjectMatcher::SanDns(name) => san.dns.iter().any(|d| d.eq_ignore_ascii_case(name)),
        SubjectMatcher::SanUri(uri) => san.uri.iter().any(|u| u == uri),
        SubjectMatcher::SanIp(ip) => san.ip.contains(ip),
        SubjectMatcher::SanEmail(email) => san.email.iter().any(|e| email_matches(email, e)),
    };
    if matched {
        Ok(())
    } else {
        Err(AuthFailure::SubjectMismatch(subject.parts().0))
    }
}
