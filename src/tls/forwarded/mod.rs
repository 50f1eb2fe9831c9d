//! Where a request's client certificate comes from when TLS is terminated by a proxy (nginx,
//! Envoy, HAProxy, a cloud load balancer) that forwards it in a header.
//!
//! Fail closed: a certificate header is honoured only from a configured trusted proxy (by
//! address, or better by the proxy's own client certificate) and only in the one format
//! configured for the listener. A request carrying any header that is or looks like a
//! certificate header ([`KNOWN_CERTIFICATE_HEADERS`], `headers`) from anyone
//! else is refused with 400, so a misconfiguration is visible instead of silently exploitable
//! (Keycloak CVE-2024-10039).

mod codec;
mod config;
mod error;
mod headers;

use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use http::{HeaderMap, HeaderName};

use super::PeerCertificate;
use crate::pki::{ClientCertificate, Thumbprint, MAX_CHAIN_LEN};

pub use codec::{decode, encode};
pub use config::{ForwardFormat, ForwardingConfig, IpNet};
pub use error::ForwardError;
pub use headers::KNOWN_CERTIFICATE_HEADERS;

/// Bound on forwarded certificates kept parsed, keyed by the header value.
const PARSED_CACHE_ENTRIES: usize = 1024;
/// Longest header value accepted (a chain of MAX_CHAIN_LEN certificates, URL-escaped PEM).
const MAX_HEADER_LEN: usize = 48 * 1024;

/// The resolved rules for one listener.
pub struct Forwarding {
    format: Option<ForwardFormat>,
    header: HeaderName,
    trusted_proxies: Vec<IpNet>,
    trusted_proxy_certs: Vec<Thumbprint>,
    parsed: Mutex<HashMap<Box<[u8]>, Arc<ClientCertificate>>>,
}

impl std::fmt::Debug for Forwarding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarding")
            .field("format", &self.format)
            .field("header", &self.header)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish()
    }
}

impl Default for Forwarding {
    /// Nothing forwarded is honoured; certificate headers are refused from everyone.
    fn default() -> Self {
        Self {
            format: None,
            header: HeaderName::from_static("client-cert"),
            trusted_proxies: Vec::new(),
            trusted_proxy_certs: Vec::new(),
            parsed: Mutex::new(HashMap::new()),
        }
    }
}

impl Forwarding {
    pub fn from_config(config: &ForwardingConfig) -> Result<Self, String> {
        let format = config.format.as_deref().map(ForwardFormat::from_str).transpose()?;
        let header = match (&config.header, format) {
            (Some(h), _) => {
                HeaderName::from_str(&h.to_ascii_lowercase()).map_err(|_| format!("invalid header name {h:?}"))?
            }
            (None, Some(f)) => HeaderName::from_static(f.default_header()),
            (None, None) => HeaderName::from_static("client-cert"),
        };
        let trusted_proxies = config
            .trusted_proxies
            .iter()
            .map(|s| s.parse())
            .collect::<Result<Vec<IpNet>, _>>()?;
        let trusted_proxy_certs = config
            .trusted_proxy_certs
            .iter()
            .map(|t| Thumbprint::from_base64url(t).ok_or_else(|| format!("{t:?} is not an x5t#S256 thumbprint")))
            .collect::<Result<Vec<_>, _>>()?;
        if format.is_some() && trusted_proxies.is_empty() && trusted_proxy_certs.is_empty() {
            return Err("a forwarding format needs trusted_proxies or trusted_proxy_certs".into());
        }
        Ok(Self {
            format,
            header,
            trusted_proxies,
            trusted_proxy_certs,
            ..Self::default()
        })
    }

    /// Whether a connection comes from a trusted proxy.
    fn is_trusted(&self, peer: IpAddr, native: &PeerCertificate) -> bool {
        if self.format.is_none() {
            return false;
        }
        let by_cert = native.get().is_some_and(|c| {
            self.trusted_proxy_certs
                .iter()
                .fold(false, |found, t| found | (t == c.thumbprint()))
        });
        by_cert || self.trusted_proxies.iter().any(|net| net.contains(peer))
    }

    /// The client certificate for a request: the connection's own, or, from a trusted proxy,
    /// the forwarded one (none if the proxy forwarded none).
    pub fn resolve(
        &self,
        peer: IpAddr,
        native: &PeerCertificate,
        headers: &HeaderMap,
    ) -> Result<PeerCertificate, ForwardError> {
        let trusted = self.is_trusted(peer, native);
        if !trusted {
            return if headers.contains_key(&self.header) || headers::any_certificate_header(headers) {
                Err(ForwardError::UntrustedPeer)
            } else {
                Ok(native.clone())
            };
        }
        let format = self.format.expect("trusted implies a format");
        let mut values = headers.get_all(&self.header).iter();
        let Some(value) = values.next() else {
            return Ok(PeerCertificate(None));
        };
        if values.next().is_some() {
            return Err(ForwardError::Duplicate);
        }
        let chain_value = match format {
            ForwardFormat::Rfc9440 => single(headers, "client-cert-chain")?,
            _ => None,
        };
        let value = value.as_bytes();
        if value.len() > MAX_HEADER_LEN || chain_value.is_some_and(|c| c.len() > MAX_HEADER_LEN) {
            return Err(ForwardError::TooLong);
        }
        let key: Box<[u8]> = [value, b"\n", chain_value.unwrap_or_default()].concat().into();
        if let Some(cert) = self.parsed.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(PeerCertificate(Some(cert.clone())));
        }
        let chain = decode(format, value, chain_value)?;
        if chain.len() > MAX_CHAIN_LEN {
            return Err(ForwardError::TooLong);
        }
        let cert = Arc::new(ClientCertificate::from_chain(chain).map_err(|_| ForwardError::Unparsable)?);
        let mut parsed = self.parsed.lock().unwrap_or_else(|e| e.into_inner());
        if parsed.len() >= PARSED_CACHE_ENTRIES {
            parsed.clear();
        }
        parsed.insert(key, cert.clone());
        Ok(PeerCertificate(Some(cert)))
    }
}

fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a [u8]>, ForwardError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next().map(|v| v.as_bytes());
    if values.next().is_some() {
        return Err(ForwardError::Duplicate);
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::certs_from_pem;
    use crate::pki::dev::{Authority, CertSpec, NameAttribute};
    use rustls_pki_types::CertificateDer;

    const ALL: [ForwardFormat; 5] = [
        ForwardFormat::Rfc9440,
        ForwardFormat::Nginx,
        ForwardFormat::Envoy,
        ForwardFormat::AwsAlb,
        ForwardFormat::Haproxy,
    ];

    pub(super) fn chain() -> Vec<CertificateDer<'static>> {
        let root = Authority::generate(vec![(NameAttribute::CommonName, "root".into())]).unwrap();
        let issuing = root
            .issue_intermediate(vec![(NameAttribute::CommonName, "issuing".into())])
            .unwrap();
        let leaf = issuing.issue(&CertSpec::client("tpp", 1)).unwrap();
        vec![
            leaf.der(),
            certs_from_pem(issuing.cert_pem().as_bytes()).unwrap().remove(0),
        ]
    }

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, v.parse().unwrap());
        }
        map
    }

    fn trusting(format: ForwardFormat) -> Forwarding {
        Forwarding::from_config(&ForwardingConfig {
            format: Some(format_name(format).into()),
            trusted_proxies: vec!["10.0.0.0/8".into()],
            ..ForwardingConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn every_format_round_trips_from_a_trusted_proxy() {
        let chain = chain();
        for format in ALL {
            let got = trusting(format)
                .resolve(
                    "10.1.2.3".parse().unwrap(),
                    &PeerCertificate(None),
                    &headers(&encode(format, &chain)),
                )
                .unwrap();
            let cert = got.get().unwrap_or_else(|| panic!("{format:?}"));
            assert_eq!(cert.thumbprint(), &Thumbprint::of_der(chain[0].as_ref()), "{format:?}");
        }
    }

    fn format_name(format: ForwardFormat) -> &'static str {
        match format {
            ForwardFormat::Rfc9440 => "rfc9440",
            ForwardFormat::Nginx => "nginx",
            ForwardFormat::Envoy => "envoy",
            ForwardFormat::AwsAlb => "aws-alb",
            ForwardFormat::Haproxy => "haproxy",
        }
    }

    #[test]
    fn untrusted_peers_and_unconfigured_listeners_refuse_certificate_headers() {
        let chain = chain();
        let forged = headers(&encode(ForwardFormat::Rfc9440, &chain));
        let fwd = trusting(ForwardFormat::Rfc9440);
        assert_eq!(
            fwd.resolve("192.168.1.1".parse().unwrap(), &PeerCertificate(None), &forged)
                .unwrap_err(),
            ForwardError::UntrustedPeer
        );
        // Loopback is not trusted unless configured.
        let default = Forwarding::default();
        assert_eq!(
            default
                .resolve("127.0.0.1".parse().unwrap(), &PeerCertificate(None), &forged)
                .unwrap_err(),
            ForwardError::UntrustedPeer
        );
        // Any known certificate header, not only the configured one.
        let other = headers(&[("x-ssl-cert", "x".into())]);
        assert_eq!(
            fwd.resolve("192.168.1.1".parse().unwrap(), &PeerCertificate(None), &other)
                .unwrap_err(),
            ForwardError::UntrustedPeer
        );
        // Without headers, the connection's own certificate stands.
        let native = PeerCertificate(Some(Arc::new(ClientCertificate::from_chain(chain.clone()).unwrap())));
        let got = default
            .resolve("127.0.0.1".parse().unwrap(), &native, &HeaderMap::new())
            .unwrap();
        assert!(got.get().is_some());
    }

    #[test]
    fn a_trusted_proxy_without_a_header_means_no_client_certificate() {
        let chain = chain();
        let proxy_cert = PeerCertificate(Some(Arc::new(ClientCertificate::from_chain(chain).unwrap())));
        let got = trusting(ForwardFormat::Nginx)
            .resolve("10.0.0.1".parse().unwrap(), &proxy_cert, &HeaderMap::new())
            .unwrap();
        assert!(got.get().is_none(), "the proxy's own certificate is not the client's");
    }

    #[test]
    fn proxies_can_be_trusted_by_their_certificate() {
        let chain = chain();
        let proxy = ClientCertificate::from_chain(chain.clone()).unwrap();
        let fwd = Forwarding::from_config(&ForwardingConfig {
            format: Some("haproxy".into()),
            trusted_proxy_certs: vec![proxy.thumbprint().to_base64url()],
            ..ForwardingConfig::default()
        })
        .unwrap();
        let forwarded = headers(&encode(ForwardFormat::Haproxy, &chain[..1]));
        let via_proxy = PeerCertificate(Some(Arc::new(proxy)));
        assert!(fwd
            .resolve("203.0.113.9".parse().unwrap(), &via_proxy, &forwarded)
            .is_ok());
        assert_eq!(
            fwd.resolve("203.0.113.9".parse().unwrap(), &PeerCertificate(None), &forwarded)
                .unwrap_err(),
            ForwardError::UntrustedPeer
        );
    }

    #[test]
    fn duplicates_garbage_and_ambiguity_are_refused() {
        let chain = chain();
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let none = PeerCertificate(None);
        let mut twice = headers(&encode(ForwardFormat::Rfc9440, &chain[..1]));
        twice.append("client-cert", twice["client-cert"].clone());
        assert_eq!(
            trusting(ForwardFormat::Rfc9440)
                .resolve(peer, &none, &twice)
                .unwrap_err(),
            ForwardError::Duplicate
        );

        for (format, name, value) in [
            (ForwardFormat::Rfc9440, "client-cert", "not-sf-binary"),
            (ForwardFormat::Rfc9440, "client-cert", ":!!!:"),
            (ForwardFormat::Nginx, "x-ssl-client-cert", "%ZZ"),
            (
                ForwardFormat::Nginx,
                "x-ssl-client-cert",
                "-----BEGIN%20CERTIFICATE-----",
            ),
            (ForwardFormat::Haproxy, "x-ssl-client-der", "AAAA"),
            (ForwardFormat::Envoy, "x-forwarded-client-cert", "Hash=abc"),
            (ForwardFormat::Envoy, "x-forwarded-client-cert", "Cert=\"a\",Cert=\"b\""),
        ] {
            let err = trusting(format)
                .resolve(peer, &none, &headers(&[(name, value.to_string())]))
                .unwrap_err();
            assert_eq!(err, ForwardError::Unparsable, "{format:?} {value}");
        }

        let long_chain: Vec<_> = std::iter::repeat_n(chain[0].clone(), MAX_CHAIN_LEN + 1).collect();
        let err = trusting(ForwardFormat::AwsAlb)
            .resolve(peer, &none, &headers(&encode(ForwardFormat::AwsAlb, &long_chain)))
            .unwrap_err();
        assert_eq!(err, ForwardError::TooLong);
    }
}
