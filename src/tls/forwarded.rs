//! Where a request's client certificate comes from when TLS is terminated by a proxy (nginx,
//! Envoy, HAProxy, a cloud load balancer) that forwards it in a header.
//!
//! Fail closed: a certificate header is honoured only from a configured trusted proxy (by
//! address, or better by the proxy's own client certificate) and only in the one format
//! configured for the listener. A request carrying any known certificate header from anyone
//! else is refused with 400, so a misconfiguration is visible instead of silently exploitable
//! (Keycloak CVE-2024-10039).

use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{HeaderMap, HeaderName};
use rustls_pki_types::CertificateDer;
use serde::Deserialize;

use super::PeerCertificate;
use crate::pki::{certs_from_pem, ClientCertificate, Thumbprint, MAX_CHAIN_LEN};

/// Header names proxies use for client certificates. Any of them on a request from an untrusted
/// peer is refused.
const KNOWN_HEADERS: [HeaderName; 10] = [
    HeaderName::from_static("client-cert"),
    HeaderName::from_static("client-cert-chain"),
    HeaderName::from_static("x-forwarded-client-cert"),
    HeaderName::from_static("x-amzn-mtls-clientcert"),
    HeaderName::from_static("x-amzn-mtls-clientcert-leaf"),
    HeaderName::from_static("x-ssl-client-cert"),
    HeaderName::from_static("x-ssl-client-der"),
    HeaderName::from_static("x-ssl-cert"),
    HeaderName::from_static("x-client-cert"),
    HeaderName::from_static("ssl-client-cert"),
];

/// Bound on forwarded certificates kept parsed, keyed by the header value.
const PARSED_CACHE_ENTRIES: usize = 1024;
/// Longest header value accepted (a chain of MAX_CHAIN_LEN certificates, URL-escaped PEM).
const MAX_HEADER_LEN: usize = 48 * 1024;

/// How a proxy encodes the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardFormat {
    /// RFC 9440 `Client-Cert: :BASE64-DER:` and `Client-Cert-Chain`.
    Rfc9440,
    /// nginx `$ssl_client_escaped_cert`: URL-escaped PEM (default header `X-SSL-Client-Cert`).
    Nginx,
    /// Envoy `X-Forwarded-Client-Cert` with `Cert="…"` and optionally `Chain="…"`.
    Envoy,
    /// AWS ALB `X-Amzn-Mtls-Clientcert`: URL-encoded PEM chain that leaves `+`, `/`, `=` raw.
    AwsAlb,
    /// HAProxy `ssl_c_der,base64` (default header `X-SSL-Client-Der`).
    Haproxy,
}

impl ForwardFormat {
    fn default_header(self) -> &'static str {
        match self {
            ForwardFormat::Rfc9440 => "client-cert",
            ForwardFormat::Nginx => "x-ssl-client-cert",
            ForwardFormat::Envoy => "x-forwarded-client-cert",
            ForwardFormat::AwsAlb => "x-amzn-mtls-clientcert",
            ForwardFormat::Haproxy => "x-ssl-client-der",
        }
    }
}

impl FromStr for ForwardFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|_| format!("unknown forwarding format {s:?} (rfc9440, nginx, envoy, aws-alb, haproxy)"))
    }
}

/// An IP network, `10.0.0.0/8` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for IpNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an IP address or CIDR");
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (
                a.parse::<IpAddr>().map_err(|_| bad())?,
                Some(p.parse::<u8>().map_err(|_| bad())?),
            ),
            None => (s.parse::<IpAddr>().map_err(|_| bad())?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { addr, prefix })
    }
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Forwarding settings of one listener, as configured.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardingConfig {
    pub format: Option<String>,
    /// Header to read, for formats whose header name varies by deployment.
    pub header: Option<String>,
    /// Proxies trusted by source address (CIDRs).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Proxies trusted by the `x5t#S256` of the client certificate they present to certbound.
    #[serde(default)]
    pub trusted_proxy_certs: Vec<String>,
}

/// Why a request's certificate headers were refused; each is a 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardError {
    UntrustedPeer,
    Duplicate,
    TooLong,
    Unparsable,
}

impl std::fmt::Display for ForwardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for ForwardError {}

impl ForwardError {
    pub fn description(&self) -> &'static str {
        match self {
            ForwardError::UntrustedPeer => "client certificate headers are not accepted from this peer",
            ForwardError::Duplicate => "the client certificate header appears more than once",
            ForwardError::TooLong => "the forwarded client certificate chain is too long",
            ForwardError::Unparsable => "the forwarded client certificate cannot be parsed",
        }
    }
}

/// Refused before any endpoint runs: 400 `invalid_request` in the RFC 6749 §5.2 shape, which
/// both OAuth clients and resource-server callers read.
impl axum::response::IntoResponse for ForwardError {
    fn into_response(self) -> axum::response::Response {
        let body = serde_json::json!({ "error": "invalid_request", "error_description": self.description() });
        let mut response = (http::StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
        response
    }
}

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
        let has_header = headers.contains_key(&self.header) || KNOWN_HEADERS.iter().any(|h| headers.contains_key(h));
        if !trusted {
            return if has_header {
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

/// Decodes a header value (and, for RFC 9440, the chain header) into a DER chain, leaf first.
pub fn decode(
    format: ForwardFormat,
    value: &[u8],
    chain: Option<&[u8]>,
) -> Result<Vec<CertificateDer<'static>>, ForwardError> {
    let text = std::str::from_utf8(value).map_err(|_| ForwardError::Unparsable)?.trim();
    match format {
        ForwardFormat::Rfc9440 => {
            let mut certs = vec![sf_binary(text)?];
            if let Some(chain) = chain {
                let chain = std::str::from_utf8(chain).map_err(|_| ForwardError::Unparsable)?;
                for item in chain.split(',') {
                    certs.push(sf_binary(item.trim())?);
                }
            }
            Ok(certs)
        }
        ForwardFormat::Nginx | ForwardFormat::AwsAlb => pem_chain(&percent_decode(text)?),
        ForwardFormat::Haproxy => Ok(vec![CertificateDer::from(
            STANDARD.decode(text).map_err(|_| ForwardError::Unparsable)?,
        )]),
        ForwardFormat::Envoy => {
            let elements = split_unquoted(text, ',');
            // Several elements mean several proxies appended their view; which one describes the
            // original client depends on trusting all of them. Require Envoy to set one
            // (forward_client_cert_details: SANITIZE_SET).
            let [element] = elements.as_slice() else {
                return Err(ForwardError::Unparsable);
            };
            let field = |name: &str| {
                split_unquoted(element, ';').into_iter().find_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().trim_matches('"').to_string())
                })
            };
            match (field("Chain"), field("Cert")) {
                (Some(chain), _) => pem_chain(&percent_decode(&chain)?),
                (None, Some(cert)) => pem_chain(&percent_decode(&cert)?),
                (None, None) => Err(ForwardError::Unparsable),
            }
        }
    }
}

/// RFC 8941 byte sequence: `:base64:`.
fn sf_binary(item: &str) -> Result<CertificateDer<'static>, ForwardError> {
    let inner = item
        .strip_prefix(':')
        .and_then(|s| s.strip_suffix(':'))
        .ok_or(ForwardError::Unparsable)?;
    Ok(CertificateDer::from(
        STANDARD.decode(inner).map_err(|_| ForwardError::Unparsable)?,
    ))
}

/// `%XX` decoding only: `+` stays `+` (it is a base64 character in PEM, and ALB leaves it raw).
fn percent_decode(s: &str) -> Result<Vec<u8>, ForwardError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(ForwardError::Unparsable)?;
            let hex = std::str::from_utf8(hex).map_err(|_| ForwardError::Unparsable)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ForwardError::Unparsable)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn pem_chain(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, ForwardError> {
    certs_from_pem(pem).map_err(|_| ForwardError::Unparsable)
}

/// Splits on `sep` outside double quotes.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Encodes a chain the way each proxy does; used by tests and `certbound doctor`.
pub fn encode(format: ForwardFormat, chain: &[CertificateDer<'_>]) -> Vec<(&'static str, String)> {
    let pem = |certs: &[CertificateDer<'_>]| -> String {
        certs
            .iter()
            .map(|c| {
                let b64 = STANDARD.encode(c.as_ref());
                let lines: Vec<&str> = b64
                    .as_bytes()
                    .chunks(64)
                    .map(|l| std::str::from_utf8(l).expect("ascii"))
                    .collect();
                format!(
                    "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                    lines.join("\n")
                )
            })
            .collect()
    };
    let escape = |s: &str, keep: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || keep.as_bytes().contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    match format {
        ForwardFormat::Rfc9440 => {
            let mut headers = vec![("client-cert", format!(":{}:", STANDARD.encode(chain[0].as_ref())))];
            if chain.len() > 1 {
                let rest: Vec<String> = chain[1..]
                    .iter()
                    .map(|c| format!(":{}:", STANDARD.encode(c.as_ref())))
                    .collect();
                headers.push(("client-cert-chain", rest.join(", ")));
            }
            headers
        }
        ForwardFormat::Nginx => vec![("x-ssl-client-cert", escape(&pem(&chain[..1]), "-_.~"))],
        ForwardFormat::AwsAlb => vec![("x-amzn-mtls-clientcert", escape(&pem(chain), "-_.~+/="))],
        ForwardFormat::Haproxy => vec![("x-ssl-client-der", STANDARD.encode(chain[0].as_ref()))],
        ForwardFormat::Envoy => {
            let hash = hex(Thumbprint::of_der(chain[0].as_ref()).as_bytes());
            vec![(
                "x-forwarded-client-cert",
                format!(
                    "Hash={hash};Cert=\"{}\";Chain=\"{}\"",
                    escape(&pem(&chain[..1]), "-_.~"),
                    escape(&pem(chain), "-_.~")
                ),
            )]
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::dev::{Authority, CertSpec, NameAttribute};

    const ALL: [ForwardFormat; 5] = [
        ForwardFormat::Rfc9440,
        ForwardFormat::Nginx,
        ForwardFormat::Envoy,
        ForwardFormat::AwsAlb,
        ForwardFormat::Haproxy,
    ];

    fn chain() -> Vec<CertificateDer<'static>> {
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

    #[test]
    fn alb_encoding_with_raw_plus_slash_equals_decodes() {
        let chain = chain();
        let encoded = &encode(ForwardFormat::AwsAlb, &chain)[0].1;
        assert!(encoded.contains('+') || encoded.contains('/') || encoded.contains('='));
        assert_eq!(decode(ForwardFormat::AwsAlb, encoded.as_bytes(), None).unwrap(), chain);
    }

    #[test]
    fn cidrs() {
        let net: IpNet = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.255.0.1".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.0.0.1".parse().unwrap()));
        let one: IpNet = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        assert!("nonsense".parse::<IpNet>().is_err());
        assert!(Forwarding::from_config(&ForwardingConfig {
            format: Some("nginx".into()),
            ..Default::default()
        })
        .is_err());
        assert!("traefik".parse::<ForwardFormat>().is_err());
    }
}
