//! Which TLS versions and cipher suites certbound speaks, as server and as client (FAPI 2.0 SP
//! §5.2.1, RFC 9325). `fapi2` (the default) allows TLS 1.3 and, for TLS 1.2, only the four ECDHE
//! AES-GCM suites FAPI 2.0 lists: rustls' own TLS 1.2 defaults also offer CHACHA20-POLY1305, which
//! FAPI 2.0 does not. `modern` allows TLS 1.3 alone.

use std::str::FromStr;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{CipherSuite, SupportedCipherSuite, SupportedProtocolVersion};

/// FAPI 2.0 SP §5.2.1.4: the TLS 1.2 suites permitted.
pub const FAPI_TLS12_SUITES: [CipherSuite; 4] = [
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
];

static FAPI2_VERSIONS: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
static MODERN_VERSIONS: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TlsProfile {
    /// TLS 1.3, and TLS 1.2 with [`FAPI_TLS12_SUITES`] only.
    #[default]
    Fapi2,
    /// TLS 1.3 only.
    Modern,
}

impl TlsProfile {
    /// aws-lc-rs with only this profile's cipher suites.
    pub fn provider(self) -> Arc<CryptoProvider> {
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        provider.cipher_suites.retain(|suite| match suite {
            SupportedCipherSuite::Tls13(_) => true,
            SupportedCipherSuite::Tls12(_) => self == Self::Fapi2 && FAPI_TLS12_SUITES.contains(&suite.suite()),
        });
        Arc::new(provider)
    }

    pub fn versions(self) -> &'static [&'static SupportedProtocolVersion] {
        match self {
            Self::Fapi2 => FAPI2_VERSIONS,
            Self::Modern => MODERN_VERSIONS,
        }
    }
}

impl FromStr for TlsProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fapi2" => Ok(Self::Fapi2),
            "modern" => Ok(Self::Modern),
            other => Err(format!("{other:?} is not fapi2 or modern")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_permitted_suites_remain() {
        let tls12: Vec<CipherSuite> = TlsProfile::Fapi2
            .provider()
            .cipher_suites
            .iter()
            .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
            .map(|s| s.suite())
            .collect();
        assert_eq!(tls12.len(), 4);
        assert!(tls12.iter().all(|s| FAPI_TLS12_SUITES.contains(s)));
        let modern = TlsProfile::Modern.provider();
        assert!(modern
            .cipher_suites
            .iter()
            .all(|s| matches!(s, SupportedCipherSuite::Tls13(_))));
        assert_eq!("modern".parse(), Ok(TlsProfile::Modern));
        assert!("tls10".parse::<TlsProfile>().is_err());
    }
}
