//! Certificates: parsing, thumbprints, distinguished names, chain validation and the dev PKI.
//!
//! Everything here is pure and synchronous; the TLS layer calls [`ClientCertificate::from_chain`]
//! once per connection and the OAuth layer asks the result questions.

pub mod chain;
pub mod dev;
pub mod dn;
mod path_checks;

use std::net::IpAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

pub use chain::{ChainError, TrustStore};
pub use dn::DistinguishedName;

/// Longest chain a peer may present; real TPP chains are two or three certificates long.
pub const MAX_CHAIN_LEN: usize = 8;

/// A SHA-256 digest with a fixed meaning, compared in constant time and shown as base64url.
macro_rules! sha256_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Eq)]
        pub struct $name([u8; 32]);

        impl $name {
            /// Parses the unpadded base64url form.
            pub fn from_base64url(s: &str) -> Option<Self> {
                let bytes = URL_SAFE_NO_PAD.decode(s.trim()).ok()?;
                Some(Self(bytes.try_into().ok()?))
            }

            /// The unpadded base64url form used on the wire and in configuration.
            pub fn to_base64url(&self) -> String {
                URL_SAFE_NO_PAD.encode(self.0)
            }

            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.ct_eq(&other.0).into()
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_base64url())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.to_base64url())
            }
        }
    };
}

sha256_type!(
    /// `x5t#S256`: SHA-256 of a certificate's DER encoding (RFC 8705 §3.1).
    Thumbprint
);
sha256_type!(
    /// SHA-256 of a CA's DER SubjectPublicKeyInfo. Pinning a CA by its key rather than its DN
    /// keeps two CAs that share a DN from being confused.
    SpkiPin
);

impl Thumbprint {
    pub fn of_der(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }
}

impl SpkiPin {
    pub fn of_spki(spki_der: &[u8]) -> Self {
        Self(Sha256::digest(spki_der).into())
    }

    /// The pin of a CA certificate given as DER.
    pub fn of_certificate(cert_der: &[u8]) -> Result<Self, CertError> {
        let (_, cert) = X509Certificate::from_der(cert_der).map_err(|_| CertError::Unparsable)?;
        Ok(Self::of_spki(cert.tbs_certificate.subject_pki.raw))
    }
}

/// Why a certificate could not be used at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertError {
    #[error("no certificate")]
    Empty,
    #[error("certificate chain longer than {MAX_CHAIN_LEN}")]
    ChainTooLong,
    #[error("certificate is not valid DER X.509")]
    Unparsable,
    #[error("no PEM certificate found")]
    NoPem,
}

/// Subject alternative names of a certificate, in the forms RFC 8705 §2.1.2 matches on.
#[derive(Debug, Clone, Default)]
pub struct SubjectAltNames {
    pub dns: Vec<String>,
    pub uri: Vec<String>,
    pub ip: Vec<IpAddr>,
    pub email: Vec<String>,
}

/// A client certificate chain as presented on a connection, parsed once.
///
/// Holding one proves only that the peer owns the leaf's private key (the TLS handshake checked
/// that); whether the certificate is trusted is decided per client by the OAuth layer.
#[derive(Debug, Clone)]
pub struct ClientCertificate {
    chain: Vec<CertificateDer<'static>>,
    thumbprint: Thumbprint,
    chain_digest: [u8; 32],
    subject: DistinguishedName,
    issuer: DistinguishedName,
    serial: Vec<u8>,
    not_before: i64,
    not_after: i64,
    san: SubjectAltNames,
}

impl ClientCertificate {
    /// Parses a chain, leaf first.
    pub fn from_chain(chain: Vec<CertificateDer<'static>>) -> Result<Self, CertError> {
        if chain.is_empty() {
            return Err(CertError::Empty);
        }
        if chain.len() > MAX_CHAIN_LEN {
            return Err(CertError::ChainTooLong);
        }
        for extra in &chain[1..] {
            X509Certificate::from_der(extra).map_err(|_| CertError::Unparsable)?;
        }
        let leaf_der = chain[0].as_ref();
        let (rest, leaf) = X509Certificate::from_der(leaf_der).map_err(|_| CertError::Unparsable)?;
        if !rest.is_empty() {
            return Err(CertError::Unparsable);
        }
        let mut digest = Sha256::new();
        for cert in &chain {
            digest.update((cert.len() as u32).to_be_bytes());
            digest.update(cert.as_ref());
        }
        let validity = leaf.validity();
        Ok(Self {
            thumbprint: Thumbprint::of_der(leaf_der),
            chain_digest: digest.finalize().into(),
            subject: DistinguishedName::from_x509(leaf.subject()).map_err(|_| CertError::Unparsable)?,
            issuer: DistinguishedName::from_x509(leaf.issuer()).map_err(|_| CertError::Unparsable)?,
            serial: leaf.raw_serial().to_vec(),
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
            san: subject_alt_names(&leaf),
            chain,
        })
    }

    pub fn thumbprint(&self) -> &Thumbprint {
        &self.thumbprint
    }

    /// Identifies the exact chain presented, for caching chain-validation results.
    pub fn chain_digest(&self) -> &[u8; 32] {
        &self.chain_digest
    }

    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    pub fn leaf_der(&self) -> &[u8] {
        self.chain[0].as_ref()
    }

    pub fn subject(&self) -> &DistinguishedName {
        &self.subject
    }

    pub fn issuer(&self) -> &DistinguishedName {
        &self.issuer
    }

    /// The serial number as its DER integer content bytes.
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }

    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    pub fn is_valid_at(&self, now: i64) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    pub fn san(&self) -> &SubjectAltNames {
        &self.san
    }
}

fn subject_alt_names(cert: &X509Certificate<'_>) -> SubjectAltNames {
    let mut san = SubjectAltNames::default();
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return san;
    };
    for name in &ext.value.general_names {
        match name {
            GeneralName::DNSName(d) => san.dns.push(d.to_string()),
            GeneralName::URI(u) => san.uri.push(u.to_string()),
            GeneralName::RFC822Name(e) => san.email.push(e.to_string()),
            GeneralName::IPAddress(bytes) => {
                if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                    san.ip.push(IpAddr::from(v4));
                } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                    san.ip.push(IpAddr::from(v6));
                }
            }
            _ => {}
        }
    }
    san
}

/// Reads every certificate from PEM text.
pub fn certs_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, CertError> {
    use rustls_pki_types::pem::PemObject;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|_| CertError::NoPem)?;
    if certs.is_empty() {
        return Err(CertError::NoPem);
    }
    Ok(certs)
}

/// Email addresses compare case-sensitively in the local part and case-insensitively in the
/// domain (RFC 5280 §4.2.1.6).
pub fn email_matches(registered: &str, presented: &str) -> bool {
    match (registered.rsplit_once('@'), presented.rsplit_once('@')) {
        (Some((rl, rd)), Some((pl, pd))) => rl == pl && rd.eq_ignore_ascii_case(pd),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8705 Appendix A.
    const RFC8705_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBBjCBrAIBAjAKBggqhkjOPQQDAjAPMQ0wCwYDVQQDDARtdGxzMB4XDTE4MTAx
ODEyMzcwOVoXDTIyMDUwMjEyMzcwOVowDzENMAsGA1UEAwwEbXRsczBZMBMGByqG
SM49AgEGCCqGSM49AwEHA0IABNcnyxwqV6hY8QnhxxzFQ03C7HKW9OylMbnQZjjJ
/Au08/coZwxS7LfA4vOLS9WuneIXhbGGWvsDSb0tH6IxLm8wCgYIKoZIzj0EAwID
SQAwRgIhAP0RC1E+vwJD/D1AGHGzuri+hlV/PpQEKTWUVeORWz83AiEA5x2eXZOV
bUlJSGQgjwD5vaUaKlLR50Q2DmFfQj1L+SY=
-----END CERTIFICATE-----
";

    #[test]
    fn x5t_s256_matches_rfc8705_appendix_a() {
        let der = certs_from_pem(RFC8705_CERT.as_bytes()).unwrap().remove(0);
        let cert = ClientCertificate::from_chain(vec![der]).unwrap();
        assert_eq!(
            cert.thumbprint().to_base64url(),
            "A4DtL2JmUMhAsvJj5tKyn64SqzmuXbMrJa0n761y5v0"
        );
        assert_eq!(cert.subject().to_string(), "CN=mtls");
        assert!(!cert.is_valid_at(crate::now()));
    }

    #[test]
    fn thumbprint_round_trips_and_rejects_wrong_lengths() {
        let t = Thumbprint::of_der(b"x");
        assert_eq!(Thumbprint::from_base64url(&t.to_base64url()), Some(t));
        assert_eq!(Thumbprint::from_base64url("AAAA"), None);
        assert_eq!(Thumbprint::from_base64url("not base64!"), None);
    }

    #[test]
    fn garbage_chains_are_rejected() {
        assert_eq!(ClientCertificate::from_chain(vec![]).unwrap_err(), CertError::Empty);
        let garbage = CertificateDer::from(vec![0x30, 0x03, 0x01, 0x01, 0xff]);
        assert_eq!(
            ClientCertificate::from_chain(vec![garbage]).unwrap_err(),
            CertError::Unparsable
        );
        assert_eq!(certs_from_pem(b"hello").unwrap_err(), CertError::NoPem);
    }

    #[test]
    fn email_domain_is_case_insensitive_local_part_is_not() {
        assert!(email_matches("tpp@Bank.example", "tpp@bank.EXAMPLE"));
        assert!(!email_matches("TPP@bank.example", "tpp@bank.example"));
        assert!(!email_matches("tpp", "tpp"));
    }
}
