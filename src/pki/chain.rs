//! Chain validation for `tls_client_auth` (RFC 8705 §2.1): the presented chain must lead to a
//! configured trust anchor, every certificate must be within its validity period, and the leaf
//! must carry the clientAuth extended key usage when it has an EKU extension at all. webpki
//! builds and verifies the path; [`super::path_checks`] adds the RFC 5280 rules it leaves out.

use std::path::Path;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};

use super::path_checks::check_path;
use super::{certs_from_pem, ClientCertificate, SpkiPin};

/// The CAs certbound trusts to issue client certificates.
#[derive(Debug, Default)]
pub struct TrustStore {
    anchors: Vec<TrustAnchor<'static>>,
}

/// Why a chain did not validate; logged, never returned to the caller in detail.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    #[error("certificate expired")]
    Expired,
    #[error("certificate not yet valid")]
    NotYetValid,
    #[error("chain does not lead to a trusted CA")]
    UntrustedIssuer,
    #[error("chain does not lead to the pinned CA")]
    PinMismatch,
    #[error("certificate is not for client authentication")]
    WrongUsage,
    #[error("a serial number is not a positive DER INTEGER of at most 20 octets")]
    BadSerial,
    #[error("a key in the chain is too weak (RSA below 2048 bits or an unapproved curve)")]
    WeakKey,
    #[error("the certificate's keyUsage does not allow digitalSignature")]
    LeafKeyUsage,
    #[error("an intermediate CA's keyUsage does not allow keyCertSign")]
    CaKeyUsage,
    #[error("an end-entity certificate carries nameConstraints")]
    NameConstraintsOnLeaf,
    #[error("chain is invalid: {0}")]
    Invalid(String),
}

#[derive(Debug, thiserror::Error)]
pub enum TrustStoreError {
    #[error("reading {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {reason}")]
    Certificate { path: String, reason: String },
}

impl TrustStore {
    /// Adds every certificate of a PEM bundle as a trust anchor.
    pub fn add_pem_file(&mut self, path: &Path) -> Result<(), TrustStoreError> {
        let shown = path.display().to_string();
        let pem = std::fs::read(path).map_err(|source| TrustStoreError::Io {
            path: shown.clone(),
            source,
        })?;
        let certs = certs_from_pem(&pem).map_err(|e| TrustStoreError::Certificate {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        for cert in certs {
            self.add_der(&cert).map_err(|reason| TrustStoreError::Certificate {
                path: shown.clone(),
                reason,
            })?;
        }
        Ok(())
    }

    pub fn add_der(&mut self, der: &CertificateDer<'_>) -> Result<(), String> {
        let anchor = webpki::anchor_from_trusted_cert(der).map_err(|e| format!("{e:?}"))?;
        self.anchors.push(anchor.to_owned());
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Each anchor's subject, DER, without the outer SEQUENCE: what a TLS server lists as the
    /// CAs whose certificates it wants (RFC 8446 §4.2.4).
    pub fn subjects(&self) -> impl Iterator<Item = &[u8]> {
        self.anchors.iter().map(|a| a.subject.as_ref())
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Validates the presented chain at time `now` (Unix seconds). With `ca_pins`, only paths
    /// through a CA (anchor or intermediate) whose key matches a pin are accepted; path building
    /// keeps trying other paths, so a same-named CA cannot shadow the pinned one.
    pub fn verify(&self, cert: &ClientCertificate, now: i64, ca_pins: &[SpkiPin]) -> Result<(), ChainError> {
        let chain = cert.chain();
        let leaf = EndEntityCert::try_from(&chain[0]).map_err(|e| ChainError::Invalid(format!("{e:?}")))?;
        let time = UnixTime::since_unix_epoch(Duration::from_secs(now.max(0) as u64));
        let pin_check = |path: &webpki::VerifiedPath<'_>| -> Result<(), webpki::Error> {
            if ca_pins.is_empty() {
                return Ok(());
            }
            let anchor = SpkiPin::of_spki(webpki::spki_for_anchor(path.anchor()).as_ref());
            let mut keys = std::iter::once(anchor).chain(
                path.intermediate_certificates()
                    .map(|c| SpkiPin::of_spki(c.subject_public_key_info().as_ref())),
            );
            if keys.any(|k| ca_pins.contains(&k)) {
                Ok(())
            } else {
                Err(webpki::Error::UnknownIssuer)
            }
        };
        let path = leaf
            .verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &self.anchors,
                &chain[1..],
                time,
                KeyUsage::client_auth(),
                None,
                Some(&pin_check),
            )
            .map_err(webpki_error(ca_pins))?;
        check_path(&chain[0], path.intermediate_certificates().map(|c| c.der()))
    }
}

/// webpki's verdict in our terms.
fn webpki_error(ca_pins: &[SpkiPin]) -> impl Fn(webpki::Error) -> ChainError + '_ {
    move |e| match e {
        webpki::Error::CertExpired { .. } => ChainError::Expired,
        webpki::Error::CertNotValidYet { .. } => ChainError::NotYetValid,
        webpki::Error::UnknownIssuer if !ca_pins.is_empty() => ChainError::PinMismatch,
        webpki::Error::UnknownIssuer => ChainError::UntrustedIssuer,
        webpki::Error::RequiredEkuNotFoundContext(_) => ChainError::WrongUsage,
        other => ChainError::Invalid(format!("{other:?}")),
    }
}
