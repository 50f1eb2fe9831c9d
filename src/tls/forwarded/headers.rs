//! Which request headers carry, or look like they carry, a forwarded client certificate.
//!
//! From a peer that is not a trusted proxy, any of them is refused (400) rather than ignored:
//! a deployment that later trusts one of these names cannot have been spoofed from the start,
//! and a misconfigured proxy chain shows up at once (Keycloak CVE-2024-10039).

use http::HeaderMap;

/// Header names proxies and load balancers use for a client certificate or facts read from it
/// (lowercase, as HTTP/2 and `http::HeaderName` spell them). Documented in
/// docs/configuration.md.
pub const KNOWN_CERTIFICATE_HEADERS: &[&str] = &[
    // RFC 9440 (nginx, HAProxy and Apache setups that follow it).
    "client-cert",
    "client-cert-chain",
    // Envoy, Istio.
    "x-forwarded-client-cert",
    // AWS Application Load Balancer (mTLS passthrough / verify).
    "x-amzn-mtls-clientcert",
    "x-amzn-mtls-clientcert-leaf",
    "x-amzn-mtls-clientcert-serial-number",
    "x-amzn-mtls-clientcert-issuer",
    "x-amzn-mtls-clientcert-subject",
    // nginx and HAProxy conventions.
    "x-ssl-client-cert",
    "x-ssl-client-der",
    "x-ssl-cert",
    "x-ssl-client-s-dn",
    "x-ssl-client-i-dn",
    "x-ssl-client-verify",
    "x-client-cert",
    "x-client-certificate",
    "x-client-verify",
    "x-client-dn",
    "ssl-client-cert",
    "ssl_client_cert",
    // Azure App Service / IIS ARR.
    "x-arr-clientcert",
    // Traefik.
    "x-forwarded-tls-client-cert",
    "x-forwarded-tls-client-cert-info",
    // Google Cloud load balancers (custom mTLS headers).
    "x-client-cert-present",
    "x-client-cert-chain-verified",
    "x-client-cert-hash",
    "x-client-cert-dnsname-sans",
    "x-client-cert-uri-sans",
    "x-client-cert-serial-number",
    // Cloudflare API Shield forwarding, F5 BIG-IP iRules.
    "cf-client-cert-der-base64",
    "cf-client-cert-sha256",
    "x-ssl-client-cert-pem",
];

/// Words that, together with "cert" in a header name, say it is about the TLS client's
/// certificate (`x-tls-peer-cert`, `x-mtls-certificate`, `x-client-cert-sha1`, …).
const QUALIFIERS: &[&str] = &["client", "ssl", "tls", "peer", "x509"];

/// Whether any header of the request carries or looks like a forwarded client certificate:
/// a known name, a name with "cert" and a qualifier, or a value holding a PEM certificate
/// (plain or URL-escaped) or an RFC 9440 byte sequence of DER (`:MII…:`).
pub fn any_certificate_header(headers: &HeaderMap) -> bool {
    headers
        .iter()
        .any(|(name, value)| is_certificate_name(name.as_str()) || looks_like_certificate(value.as_bytes()))
}

fn is_certificate_name(name: &str) -> bool {
    KNOWN_CERTIFICATE_HEADERS.contains(&name) || (name.contains("cert") && QUALIFIERS.iter().any(|q| name.contains(q)))
}

fn looks_like_certificate(value: &[u8]) -> bool {
    const MARKERS: [&[u8]; 3] = [b"BEGIN CERTIFICATE", b"BEGIN%20CERTIFICATE", b"BEGIN+CERTIFICATE"];
    value.starts_with(b":MII")
        || MARKERS
            .iter()
            .any(|m| value.windows(m.len()).any(|w| w.eq_ignore_ascii_case(m)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue};

    fn with(name: &str, value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        map
    }

    #[test]
    fn every_known_name_is_a_valid_lowercase_header_name() {
        for name in KNOWN_CERTIFICATE_HEADERS {
            let parsed = HeaderName::from_bytes(name.as_bytes()).unwrap();
            assert_eq!(parsed.as_str(), *name);
            assert!(any_certificate_header(&with(name, "x")), "{name}");
        }
    }

    #[test]
    fn names_and_values_that_look_like_certificates_are_caught() {
        for name in [
            "X-Client-Certificate",
            "X-ARR-ClientCert",
            "X-Tls-Peer-Cert",
            "x-mtls-cert-sha1",
        ] {
            assert!(any_certificate_header(&with(name, "x")), "{name}");
        }
        for value in [
            "-----BEGIN CERTIFICATE-----MIIB",
            "-----BEGIN%20CERTIFICATE-----%0AMIIB",
            ":MIIBszCCAVmgAwIBAgIU:",
            "Hash=abc;Cert=\"-----begin certificate-----\"",
        ] {
            assert!(any_certificate_header(&with("x-anything", value)), "{value}");
        }
    }

    #[test]
    fn ordinary_headers_are_not_certificates() {
        for (name, value) in [
            ("authorization", "Bearer eyJhbGciOiJQUzI1NiJ9.e30.sig"),
            ("dpop", "eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.sig"),
            ("x-api-key", "cbk_0123456789abcdef"),
            ("x-fapi-interaction-id", "93bac548-d2de-4546-b106-880a5018460d"),
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-certification-level", "gold"),
            ("accept", "*/*"),
        ] {
            assert!(!any_certificate_header(&with(name, value)), "{name}");
        }
    }
}
