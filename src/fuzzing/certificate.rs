//! Certificates as operators hand them to the CLI (PEM files, DER) and as peers present them:
//! parsing, names, thumbprints, and chain validation with the certificate as its own anchor.

use rustls_pki_types::CertificateDer;

use crate::pki::{certs_from_pem, ClientCertificate, DistinguishedName, Thumbprint, TrustStore, MAX_CHAIN_LEN};

/// PEM when the input says so, DER otherwise. A certificate that parses has its leaf's
/// thumbprint, names that survive their string form, and validates or fails without panicking.
pub fn run(data: &[u8]) {
    let ders = if data.starts_with(b"-----BEGIN") {
        let _ = crate::domain::client::jwks_from_pem_certificates(&[data.to_vec()]);
        certs_from_pem(data).unwrap_or_default()
    } else {
        vec![CertificateDer::from(data.to_vec())]
    };
    for der in ders.into_iter().take(MAX_CHAIN_LEN) {
        let Ok(cert) = ClientCertificate::from_chain(vec![der.clone()]) else {
            continue;
        };
        assert!(*cert.thumbprint() == Thumbprint::of_der(&der));
        for name in [cert.subject(), cert.issuer()] {
            let written = name.to_string();
            if written.is_empty() {
                continue;
            }
            let back = DistinguishedName::parse(&written).unwrap_or_else(|e| panic!("{written:?}: {e}"));
            assert!(back.matches(name), "{written:?}");
        }
        let mut anchors = TrustStore::default();
        if anchors.add_der(&der).is_ok() {
            let _ = anchors.verify(&cert, crate::now(), &[]);
        }
    }
}

/// A dev leaf and intermediate, as DER and as one PEM bundle.
pub fn seeds() -> Vec<Vec<u8>> {
    let chain = super::sample_chain();
    let mut seeds: Vec<Vec<u8>> = chain.iter().map(|c| c.to_vec()).collect();
    seeds.push(chain.iter().map(|c| pem(c)).collect::<String>().into_bytes());
    seeds
}

fn pem(der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}
