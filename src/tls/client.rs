//! A minimal HTTPS client (one request per connection) for the few calls certbound makes
//! itself: a resource server fetching its AS's JWKS and revocation list, and `certbound doctor`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// Largest response body accepted.
const MAX_RESPONSE: usize = 1 << 20;

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
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
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
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| fail(&e))?;
            let name = ServerName::try_from(host.clone()).map_err(|e| fail(&e))?;
            let tls = self.connector.connect(name, tcp).await.map_err(|e| fail(&e))?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| fail(&e))?;
            tokio::spawn(conn);
            let path = uri.path_and_query().map_or("/", |p| p.as_str());
            let mut builder = Request::builder().uri(path).header(http::header::HOST, host.as_str());
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
            let body = Limited::new(response.into_body(), MAX_RESPONSE)
                .collect()
                .await
                .map_err(|e| fail(&e))?;
            Ok((status, body.to_bytes()))
        };
        tokio::time::timeout(Duration::from_secs(10), exchange)
            .await
            .map_err(|_| fail(&"timed out"))?
    }
}
