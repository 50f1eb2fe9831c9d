//! Forwarded client-certificate headers in each proxy's format (RFC 9440, nginx, AWS ALB,
//! HAProxy, Envoy XFCC), through the same resolution a request from a proxy takes.

use std::net::{IpAddr, Ipv4Addr};

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::pki::Thumbprint;
use crate::tls::forwarded::{encode, ForwardFormat, Forwarding, ForwardingConfig};
use crate::tls::PeerCertificate;

/// Each format and the header it is read from by default.
const FORMATS: [(&str, &str); 5] = [
    ("rfc9440", "client-cert"),
    ("nginx", "x-ssl-client-cert"),
    ("aws-alb", "x-amzn-mtls-clientcert"),
    ("haproxy", "x-ssl-client-der"),
    ("envoy", "x-forwarded-client-cert"),
];
const PROXY: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const STRANGER: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));

/// Input: a format byte, then the header value, then (after a NUL) the RFC 9440 chain header.
/// From the trusted proxy the result is an error or a certificate whose thumbprint is its
/// leaf's; from anyone else the same headers are always refused.
pub fn run(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (format, header) = FORMATS[selector as usize % FORMATS.len()];
    let forwarding = Forwarding::from_config(&ForwardingConfig {
        format: Some(format.to_string()),
        trusted_proxies: vec!["127.0.0.1/32".to_string()],
        ..ForwardingConfig::default()
    })
    .expect("a valid forwarding configuration");
    let (value, chain) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let mut headers = HeaderMap::new();
    let Ok(value) = HeaderValue::from_bytes(value) else {
        return;
    };
    headers.insert(HeaderName::from_static(header), value);
    if let Some(chain) = chain {
        let Ok(chain) = HeaderValue::from_bytes(chain) else {
            return;
        };
        headers.insert(HeaderName::from_static("client-cert-chain"), chain);
    }
    let none = PeerCertificate(None);
    if let Ok(PeerCertificate(Some(cert))) = forwarding.resolve(PROXY, &none, &headers) {
        assert!(*cert.thumbprint() == Thumbprint::of_der(cert.leaf_der()));
    }
    assert!(
        forwarding.resolve(STRANGER, &none, &headers).is_err(),
        "an untrusted peer's header"
    );
}

/// Each format's encoding of a real chain (leaf and intermediate).
pub fn seeds() -> Vec<Vec<u8>> {
    let chain = super::sample_chain();
    FORMATS
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            let format: ForwardFormat = name.parse().expect("a known format");
            let headers = encode(format, chain);
            let mut seed = vec![i as u8];
            seed.extend_from_slice(headers[0].1.as_bytes());
            if let Some((_, chain)) = headers.get(1) {
                seed.push(0);
                seed.extend_from_slice(chain.as_bytes());
            }
            seed
        })
        .collect()
}
