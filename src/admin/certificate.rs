//! A certificate an operator uploaded or pasted, read for the registration form: PEM (a chain,
//! leaf first) or DER, and what the form shows and pre-fills from it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rustls_pki_types::CertificateDer;

use super::view::when;
use super::AdminError;
use crate::pki::{certs_from_pem, ClientCertificate, TrustStore};
use axum::extract::Multipart;

/// Largest certificate upload accepted (a chain of a few certificates is far smaller).
pub const MAX_UPLOAD: usize = 32 * 1024;

/// Reads a certificate form (`multipart/form-data`): its CSRF token and the certificate, from
/// the chosen file or else the pasted text.
pub async fn upload(mut multipart: Multipart) -> Result<(Option<String>, Vec<u8>), AdminError> {
    let mut csrf = None;
    let mut upload = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| AdminError::BadRequest("malformed upload"))?
    {
        let name = field.name().unwrap_or_default().to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|_| AdminError::BadRequest("upload too large"))?;
        match name.as_str() {
            "csrf" => csrf = Some(String::from_utf8(bytes.to_vec()).map_err(|_| AdminError::Csrf("token not UTF-8"))?),
            "file" if !bytes.is_empty() => upload = bytes.to_vec(),
            "pem" if upload.is_empty() => upload = bytes.to_vec(),
            _ => {}
        }
        if upload.len() > MAX_UPLOAD {
            return Err(AdminError::BadRequest("upload too large"));
        }
    }
    Ok((csrf, upload))
}

/// Reads a chain from an upload: PEM text, or one DER certificate.
pub fn read(bytes: &[u8]) -> Result<ClientCertificate, &'static str> {
    let trimmed = bytes.trim_ascii();
    if trimmed.is_empty() {
        return Err("Upload a certificate file or paste one.");
    }
    let chain = if trimmed.starts_with(b"-----BEGIN") {
        certs_from_pem(trimmed).map_err(|_| "The PEM text holds no readable certificate.")?
    } else {
        vec![CertificateDer::from(trimmed.to_vec())]
    };
    ClientCertificate::from_chain(chain).map_err(|_| "This is not an X.509 certificate certbound can read.")
}

/// The chain as PEM, to carry in the form.
pub fn pem(cert: &ClientCertificate) -> String {
    pem_of(cert.chain())
}

/// Certificates as PEM.
pub fn pem_of(chain: &[CertificateDer<'_>]) -> String {
    let mut out = String::new();
    for der in chain {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = STANDARD.encode(der.as_ref());
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

/// One way a `tls_client_auth` registration may name the certificate (RFC 8705 §2.1.2), as the
/// form's `subject` choice: `kind value`.
pub struct SubjectChoice {
    pub value: String,
    pub label: String,
}

/// What the form shows about the certificate.
pub struct Facts {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub thumbprint: String,
    pub not_before: String,
    pub not_after: String,
    pub expired: bool,
    pub self_signed: bool,
    /// `None` when the chain leads to a configured trust anchor; else why not.
    pub untrusted: Option<String>,
    pub subjects: Vec<SubjectChoice>,
    /// A name for the client: the subject's CN, or its first DNS name.
    pub suggested_name: String,
}

impl Facts {
    pub fn of(cert: &ClientCertificate, trust: &TrustStore, now: i64) -> Self {
        let subject = cert.subject().to_string();
        let san = cert.san();
        let mut subjects = vec![SubjectChoice {
            value: format!("tls_client_auth_subject_dn {subject}"),
            label: format!("Subject DN: {subject}"),
        }];
        let sans = [
            ("tls_client_auth_san_dns", "DNS name", san.dns.clone()),
            ("tls_client_auth_san_uri", "URI", san.uri.clone()),
            (
                "tls_client_auth_san_ip",
                "IP address",
                san.ip.iter().map(|i| i.to_string()).collect(),
            ),
            ("tls_client_auth_san_email", "Email", san.email.clone()),
        ];
        for (kind, label, values) in sans {
            for v in values {
                subjects.push(SubjectChoice {
                    value: format!("{kind} {v}"),
                    label: format!("SAN {label}: {v}"),
                });
            }
        }
        let common_name = cert.subject().common_name().map(String::from);
        Self {
            issuer: cert.issuer().to_string(),
            serial: crate::encoding::hex(cert.serial()),
            thumbprint: cert.thumbprint().to_base64url(),
            not_before: when(cert.not_before()),
            not_after: when(cert.not_after()),
            expired: !cert.is_valid_at(now),
            self_signed: cert.subject().matches(cert.issuer()),
            untrusted: trust.verify(cert, now, &[]).err().map(|e| e.to_string()),
            suggested_name: common_name.or_else(|| san.dns.first().cloned()).unwrap_or_default(),
            subjects,
            subject,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pem_and_der_and_refuses_the_rest() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["tpp.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let from_pem = read(cert.pem().as_bytes()).unwrap();
        let from_der = read(cert.der()).unwrap();
        assert_eq!(from_pem.thumbprint(), from_der.thumbprint());
        assert_eq!(
            read(pem(&from_der).as_bytes()).unwrap().thumbprint(),
            from_der.thumbprint()
        );
        assert!(read(b"").is_err());
        assert!(read(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err());
        assert!(read(b"\x30\x03\x02\x01\x01").is_err());
    }
}
