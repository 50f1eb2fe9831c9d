//! A development PKI: a CA, a server certificate for localhost, and client certificates for
//! TPPs. `certbound pki init|issue` and the test suite use it; production deployments bring
//! their own CA bundle.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use time::OffsetDateTime;

pub use rcgen::DnType as NameAttribute;

#[derive(Debug, thiserror::Error)]
pub enum DevPkiError {
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("invalid certificate name {0:?}: use letters, digits, '-', '_' or '.'")]
    BadName(String),
}

/// What to put in a certificate.
#[derive(Debug, Clone)]
pub struct CertSpec {
    pub subject: Vec<(DnType, String)>,
    pub sans: Vec<SanType>,
    pub not_before: i64,
    pub not_after: i64,
    pub eku: Vec<ExtendedKeyUsagePurpose>,
    pub is_ca: bool,
}

impl CertSpec {
    /// A TPP certificate: subject `CN=name`, clientAuth, valid from an hour ago for `days`.
    pub fn client(name: &str, days: u32) -> Self {
        let now = crate::now();
        Self {
            subject: vec![(DnType::CommonName, name.to_string())],
            sans: Vec::new(),
            not_before: now - 3600,
            not_after: now + i64::from(days) * 86_400,
            eku: vec![ExtendedKeyUsagePurpose::ClientAuth],
            is_ca: false,
        }
    }

    /// A TLS server certificate for the given DNS names and IP addresses.
    pub fn server(hosts: &[&str]) -> Self {
        let sans = hosts
            .iter()
            .map(|h| match h.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*h).try_into().expect("valid DNS name")),
            })
            .collect();
        Self {
            subject: vec![(
                DnType::CommonName,
                hosts.first().copied().unwrap_or("localhost").to_string(),
            )],
            sans,
            eku: vec![ExtendedKeyUsagePurpose::ServerAuth],
            ..Self::client("server", 825)
        }
    }

    /// A CA certificate valid for ten years.
    pub fn ca(subject: Vec<(DnType, String)>) -> Self {
        Self {
            subject,
            eku: Vec::new(),
            is_ca: true,
            ..Self::client("ca", 3650)
        }
    }

    fn params(&self) -> Result<CertificateParams, DevPkiError> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        for (ty, value) in &self.subject {
            dn.push(ty.clone(), value.as_str());
        }
        params.distinguished_name = dn;
        params.subject_alt_names = self.sans.clone();
        params.not_before = timestamp(self.not_before)?;
        params.not_after = timestamp(self.not_after)?;
        params.extended_key_usages = self.eku.clone();
        let mut serial = [0u8; 16];
        aws_lc_rs::rand::fill(&mut serial).map_err(|_| rcgen::Error::RingUnspecified)?;
        serial[0] &= 0x7f;
        params.serial_number = Some(serial.to_vec().into());
        params.use_authority_key_identifier_extension = true;
        if self.is_ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        } else {
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        }
        Ok(params)
    }
}

fn timestamp(secs: i64) -> Result<OffsetDateTime, DevPkiError> {
    OffsetDateTime::from_unix_timestamp(secs).map_err(|_| DevPkiError::Rcgen(rcgen::Error::Time))
}

/// A certificate with its private key, both PEM.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    pub cert_pem: String,
    pub key_pem: String,
}

impl IssuedCert {
    pub fn der(&self) -> rustls_pki_types::CertificateDer<'static> {
        super::certs_from_pem(self.cert_pem.as_bytes())
            .expect("rcgen writes valid PEM")
            .remove(0)
    }
}

/// A CA that can issue certificates.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

impl Authority {
    /// A new self-signed root CA.
    pub fn generate(subject: Vec<(DnType, String)>) -> Result<Self, DevPkiError> {
        let key = KeyPair::generate()?;
        let params = CertSpec::ca(subject).params()?;
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads a CA from its certificate and key.
    pub fn load(cert_pem: &str, key_pem: &str) -> Result<Self, DevPkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        Ok(Self {
            issuer: Issuer::from_ca_cert_pem(cert_pem, key)?,
            cert_pem: cert_pem.to_string(),
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// Issues a certificate with a fresh P-256 key.
    pub fn issue(&self, spec: &CertSpec) -> Result<IssuedCert, DevPkiError> {
        let key = KeyPair::generate()?;
        let cert = spec.params()?.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Issues a subordinate CA.
    pub fn issue_intermediate(&self, subject: Vec<(DnType, String)>) -> Result<Self, DevPkiError> {
        let issued = self.issue(&CertSpec::ca(subject))?;
        Self::load(&issued.cert_pem, &issued.key_pem)
    }
}

/// A self-signed client certificate, as `self_signed_tls_client_auth` clients use.
pub fn self_signed(spec: &CertSpec) -> Result<IssuedCert, DevPkiError> {
    let key = KeyPair::generate()?;
    let cert = spec.params()?.self_signed(&key)?;
    Ok(IssuedCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// File names `pki init` writes into its directory.
pub struct PkiLayout {
    pub dir: PathBuf,
}

impl PkiLayout {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join("ca.key")
    }
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
    pub fn client_cert(&self, name: &str) -> PathBuf {
        self.dir.join("clients").join(format!("{name}.pem"))
    }
    pub fn client_key(&self, name: &str) -> PathBuf {
        self.dir.join("clients").join(format!("{name}.key"))
    }
    pub fn exists(&self) -> bool {
        self.ca_cert().exists() && self.server_cert().exists() && self.server_key().exists()
    }

    /// Writes `ca.pem ca.key server.pem server.key` (server certificate for localhost and
    /// 127.0.0.1).
    pub fn init(&self) -> Result<(), DevPkiError> {
        let ca = Authority::generate(vec![
            (DnType::OrganizationName, "certbound development".into()),
            (DnType::CommonName, "certbound dev CA".into()),
        ])?;
        let server = ca.issue(&CertSpec::server(&["localhost", "127.0.0.1", "::1"]))?;
        write(&self.ca_cert(), ca.cert_pem(), false)?;
        write(&self.ca_key(), &ca.key_pem(), true)?;
        write(&self.server_cert(), &server.cert_pem, false)?;
        write(&self.server_key(), &server.key_pem, true)?;
        Ok(())
    }

    pub fn authority(&self) -> Result<Authority, DevPkiError> {
        let cert = read(&self.ca_cert())?;
        let key = read(&self.ca_key())?;
        Authority::load(&cert, &key)
    }

    /// Issues `clients/NAME.pem` and `clients/NAME.key` with subject `CN=NAME`.
    pub fn issue_client(&self, name: &str, days: u32) -> Result<(PathBuf, PathBuf), DevPkiError> {
        let valid = !name.is_empty()
            && !name.starts_with('.')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid {
            return Err(DevPkiError::BadName(name.to_string()));
        }
        let issued = self.authority()?.issue(&CertSpec::client(name, days))?;
        let (cert, key) = (self.client_cert(name), self.client_key(name));
        write(&cert, &issued.cert_pem, false)?;
        write(&key, &issued.key_pem, true)?;
        Ok((cert, key))
    }
}

fn read(path: &Path) -> Result<String, DevPkiError> {
    std::fs::read_to_string(path).map_err(|e| DevPkiError::Io(path.display().to_string(), e))
}

fn write(path: &Path, contents: &str, private: bool) -> Result<(), DevPkiError> {
    let result = if private {
        crate::write_private_file(path, contents.as_bytes())
    } else {
        path.parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::write(path, contents))
    };
    result.map_err(|e| DevPkiError::Io(path.display().to_string(), e))
}
