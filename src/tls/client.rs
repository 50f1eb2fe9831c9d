//! A minimal HTTPS client (one request per connection) for the few calls certbound makes
//! itself: a resource server fetching its AS's JWKS and revocation list, `certbound doctor`, and
//! the AS fetching a client's `jwks_uri`. The last one points wherever a client registered, so it
//! can be kept off loopback and private networks (no server-side request forgery into the
//! bank's own network); redirects are never followed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// Largest response body accepted by default.
const MAX_RESPONSE: usize = 1 << 20;
const TIMEOUT: Duration = Duration::from_secs(10);

/// Which addresses a request may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destinations {
    Any,
    /// Public unicast addresses only: no loopback, private, link-local, shared, multicast or
    /// unspecified ones, for IPv4 and IPv6 (and IPv4 mapped in IPv6).
    PublicOnly,
}

/// What one request may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub destinations: Destinations,
    pub timeout: Duration,
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            destinations: Destinations::Any,
            timeout: TIMEOUT,
            max_body: MAX_RESPONSE,
        }
    }
}

/// A response: status, `Cache-Control`, body.
#[derive(Debug)]
pub struct Fetched {
    pub status: StatusCode,
    pub cache_control: Option<String>,
    pub body: Bytes,
}

pub struct HttpsClient {
    connector: tokio_rustls::TlsConnector,
}

impl HttpsClient {
    /// Trusts the CAs in `ca_pem`; presents `identity` (certificate and key PEM) if given.
    pub fn new(ca_pem: &[u8], identity: Option<&(Vec<u8>, Vec<u8>)>) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem) {
            roots.add(cert.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        }
        Self::with_roots(roots, identity)
    }

    /// Trusts the operating system's CA store (for servers on the internet, such as a client's
    /// `jwks_uri`).
    pub fn with_system_roots() -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for cert in found.certs {
            let _ = roots.add(cert);
        }
        Self::with_roots(roots, None)
    }

    fn with_roots(roots: rustls::RootCertStore, identity: Option<&(Vec<u8>, Vec<u8>)>) -> Result<Self, String> {
        // The FAPI 2.0 profile as a client too: a server that offers only other suites is not
        // talked to.
        let profile = super::TlsProfile::Fapi2;
        let builder = rustls::ClientConfig::builder_with_provider(profile.provider())
            .with_protocol_versions(profile.versions())
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots);
        let config = match identity {
            Some((cert, key)) => {
                let chain = CertificateDer::pem_slice_iter(cert)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string())?;
                let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| e.to_string())?;
                builder.with_client_auth_cert(chain, key).map_err(|e| e.to_string())?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(Self {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        })
    }

    /// GET, or POST of a form, and the body of a 200 response.
    pub async fn fetch(&self, url: &str, form: Option<String>) -> Result<Bytes, String> {
        match self.send(url, &[], form).await? {
            (StatusCode::OK, body) => Ok(body),
            (status, _) => Err(format!("{url}: HTTP {status}")),
        }
    }

    /// One request with extra headers; any status.
    pub async fn send(
        &self,
        url: &str,
        headers: &[(&str, String)],
        form: Option<String>,
    ) -> Result<(StatusCode, Bytes), String> {
        self.request(url, headers, form, Limits::default())
            .await
            .map(|f| (f.status, f.body))
    }

    /// One request within `limits`.
    pub async fn request(
        &self,
        url: &str,
        headers: &[(&str, String)],
        form: Option<String>,
        limits: Limits,
    ) -> Result<Fetched, String> {
        let fail = |e: &dyn std::fmt::Display| format!("{url}: {e}");
        let uri: Uri = url.parse().map_err(|_| fail(&"invalid URL"))?;
        if uri.scheme_str() != Some("https") {
            return Err(fail(&"not an https URL"));
        }
        let host = uri
            .host()
            .ok_or_else(|| fail(&"no host"))?
            .trim_matches(['[', ']'])
            .to_string();
        let port = uri.port_u16().unwrap_or(443);
        let exchange = async {
            let address = resolve(&host, port, limits.destinations).await.map_err(|e| fail(&e))?;
            let tcp = tokio::net::TcpStream::connect(address).await.map_err(|e| fail(&e))?;
            let name = ServerName::try_from(host.clone()).map_err(|e| fail(&e))?;
            let tls = self.connector.connect(name, tcp).await.map_err(|e| fail(&e))?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| fail(&e))?;
            tokio::spawn(conn);
            let path = uri.path_and_query().map_or("/", |p| p.as_str());
            let authority = uri.authority().map_or(host.as_str(), |a| a.as_str());
            let mut builder = Request::builder().uri(path).header(http::header::HOST, authority);
            for (name, value) in headers {
                builder = builder.header(*name, value.as_str());
            }
            let request = match form {
                Some(body) => builder
                    .method(http::Method::POST)
                    .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Full::new(Bytes::from(body))),
                None => builder.method(http::Method::GET).body(Full::new(Bytes::new())),
            }
            .map_err(|e| fail(&e))?;
            let response = sender.send_request(request).await.map_err(|e| fail(&e))?;
            let status = response.status();
            let cache_control = response
                .headers()
                .get(http::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            let body = Limited::new(response.into_body(), limits.max_body)
                .collect()
                .await
                .map_err(|e| fail(&e))?;
            Ok(Fetched {
                status,
                cache_control,
                body: body.to_bytes(),
            })
        };
        tokio::time::timeout(limits.timeout, exchange)
            .await
            .map_err(|_| fail(&"timed out"))?
    }
}

/// The address to connect to: the first the name resolves to, after checking every one of them
/// against `destinations` (a name with one private address among public ones is refused).
async fn resolve(host: &str, port: u16, destinations: Destinations) -> Result<SocketAddr, String> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| e.to_string())?
        .collect();
    let first = *addresses.first().ok_or("the name resolves to no address")?;
    if destinations == Destinations::PublicOnly {
        if let Some(bad) = addresses.iter().find(|a| !is_public(a.ip())) {
            return Err(format!("{} is not a public address", bad.ip()));
        }
    }
    Ok(first)
}

/// Whether an address is public unicast.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn private_destinations_are_refused_before_connecting() {
        let client = HttpsClient::new(b"", None).unwrap();
        let limits = Limits {
            destinations: Destinations::PublicOnly,
            ..Limits::default()
        };
        let err = client
            .request("https://127.0.0.1:9/jwks", &[], None, limits)
            .await
            .unwrap_err();
        assert!(err.contains("not a public address"), "{err}");
        let err = client
            .request("http://example.com/", &[], None, limits)
            .await
            .unwrap_err();
        assert!(err.contains("not an https URL"), "{err}");
    }
}
