//! Test harness: a real certbound server on a loopback port, over real TLS, with a dev PKI, on
//! SQLite or on a fresh PostgreSQL database.
#![allow(dead_code)]

pub mod admin;
pub mod chromium;
pub mod cli;
pub mod dpop;
pub mod flow;
pub mod hostile;
pub mod keys;
pub mod openbanking;
pub mod tpp;

use std::net::SocketAddr;
use std::sync::Arc;

use certbound::config::{FileConfig, Settings};
use certbound::domain::{AuthMethod, Client, ClientStatus, SubjectMatcher};
use certbound::pki::dev::{Authority, CertSpec, IssuedCert, PkiLayout};
use certbound::pki::DistinguishedName;
use certbound::server::RunningServer;
use certbound::store::Store;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Admin URL for creating per-test PostgreSQL databases.
fn pg_admin_url() -> String {
    std::env::var("CERTBOUND_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Runs each named async test fn (taking a `Db`) once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::common::Db::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::common::Db::Postgres).await } )*
        }
    };
}

/// Creates an empty database for one test; returns its URL and name.
pub async fn create_pg_database() -> (String, String) {
    let name = format!(
        "certbound_t_{}",
        certbound::jose::random_id().to_lowercase().replace(['-', '_'], "")
    );
    let mut admin = sqlx::PgConnection::connect(&pg_admin_url())
        .await
        .expect("PostgreSQL at 127.0.0.1:5432");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let base = pg_admin_url();
    (format!("{}/{name}", base.rsplit_once('/').unwrap().0), name)
}

pub async fn drop_pg_database(name: &str) {
    let mut admin = sqlx::PgConnection::connect(&pg_admin_url()).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub pki: PkiLayout,
    pub ca: Authority,
    pub server: Option<RunningServer>,
    pub store: Store,
    pub database_url: String,
    pg_database: Option<String>,
}

impl TestEnv {
    pub async fn start(db: Db) -> Self {
        Self::start_with(db, |_| {}).await
    }

    /// Starts a server; `configure` may adjust the file-level config before it is resolved.
    pub async fn start_with(db: Db, configure: impl FnOnce(&mut FileConfig)) -> Self {
        Self::start_with_ca(db, |f, _| configure(f)).await
    }

    /// Like `start_with`, with the dev CA at hand to issue certificates the config names.
    pub async fn start_with_ca(db: Db, configure: impl FnOnce(&mut FileConfig, &Authority)) -> Self {
        certbound::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let pki = PkiLayout::new(dir.path().join("certbound-data/pki"));
        pki.init().unwrap();
        let (database_url, pg_database) = match db {
            Db::Sqlite => (format!("sqlite://{}/test.db?mode=rwc", dir.path().display()), None),
            Db::Postgres => {
                let (url, name) = create_pg_database().await;
                (url, Some(name))
            }
        };
        let mut file = FileConfig {
            listen: Some("127.0.0.1:0".into()),
            mtls_listen: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.path().join("certbound-data")),
            database_url: Some(database_url.clone().into()),
            reload_interval_ms: Some(100),
            ..FileConfig::default()
        };
        let ca = pki.authority().unwrap();
        configure(&mut file, &ca);
        let settings = Settings::resolve(file, |_| None).unwrap();
        let server = certbound::server::start(settings).await.expect("server starts");
        let store = Store::connect(&database_url).await.unwrap();
        Self {
            dir,
            pki,
            ca,
            server: Some(server),
            store,
            database_url,
            pg_database,
        }
    }

    /// A server whose mTLS listener trusts one proxy, known by its certificate (`CN=tls-proxy`,
    /// returned too), to forward client certificates in RFC 9440 headers.
    pub async fn start_behind_rfc9440_proxy(db: Db) -> (Self, IssuedCert) {
        let mut proxy = None;
        let env = Self::start_with_ca(db, |f, ca| {
            let cert = ca.issue(&CertSpec::client("tls-proxy", 30)).unwrap();
            f.mtls_forwarding = Some(certbound::tls::forwarded::ForwardingConfig {
                format: Some("rfc9440".into()),
                trusted_proxy_certs: vec![x5t_s256(&cert)],
                ..Default::default()
            });
            proxy = Some(cert);
        })
        .await;
        (env, proxy.expect("the proxy's certificate"))
    }

    /// A second node: another server process's worth of state on the same database and data
    /// directory (so the same keys), with listeners of its own.
    pub async fn start_second_node(&self) -> RunningServer {
        let settings = Settings::resolve(
            FileConfig {
                listen: Some("127.0.0.1:0".into()),
                mtls_listen: Some("127.0.0.1:0".into()),
                data_dir: Some(self.dir.path().join("certbound-data")),
                database_url: Some(self.database_url.clone().into()),
                issuer: Some(self.issuer()),
                ..FileConfig::default()
            },
            |_| None,
        )
        .unwrap();
        certbound::server::start(settings).await.unwrap()
    }

    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("server running")
    }

    /// Where clients send authenticated requests: the mTLS listener, or the only one.
    pub fn addr(&self) -> SocketAddr {
        self.server().mtls_addr.unwrap_or(self.server().local_addr)
    }

    /// The listener browsers use (no client certificate requested when an mTLS one exists).
    pub fn front_addr(&self) -> SocketAddr {
        self.server().local_addr
    }

    pub fn front_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.front_addr().port())
    }

    pub fn issuer(&self) -> String {
        self.server().issuer().to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr().port())
    }

    /// Issues a client certificate from the dev CA with subject `CN=name`.
    pub fn issue(&self, name: &str) -> IssuedCert {
        self.ca.issue(&CertSpec::client(name, 30)).unwrap()
    }

    /// An HTTPS client trusting the dev CA, presenting `identity` if given.
    pub fn http(&self, identity: Option<&IssuedCert>) -> reqwest::Client {
        http_client(&self.pki, self.addr(), identity.map(|i| (chain_of(i), key_of(i))))
    }

    /// Registers a `tls_client_auth` client whose certificate subject must be `CN=name`.
    pub async fn register_pki_client(&self, id: &str, name: &str, scopes: &str) -> Client {
        let client = pki_client(
            id,
            SubjectMatcher::Dn(DistinguishedName::parse(&format!("CN={name}")).unwrap()),
            scopes,
        );
        self.store.insert_client(&client).await.unwrap();
        client
    }

    /// Registers a resource server `rs` (SAN dns `rs.bank.example`, may introspect and read the
    /// revocation list) and returns its certificate.
    pub async fn register_resource_server(&self) -> IssuedCert {
        let mut rs = pki_client("rs", SubjectMatcher::SanDns("rs.bank.example".into()), "");
        rs.can_introspect = true;
        self.store.insert_client(&rs).await.unwrap();
        self.ca
            .issue(&CertSpec {
                sans: vec![rcgen::SanType::DnsName("rs.bank.example".try_into().unwrap())],
                ..CertSpec::client("rs", 30)
            })
            .unwrap()
    }

    /// Requests a client_credentials token; returns status and JSON body.
    pub async fn token(&self, http: &reqwest::Client, client_id: &str, extra: &[(&str, &str)]) -> (u16, Value) {
        let mut form = vec![("grant_type", "client_credentials"), ("client_id", client_id)];
        form.extend_from_slice(extra);
        post_form(http, &self.url("/token"), &form).await
    }

    /// The published JWKS.
    pub async fn jwks(&self) -> jsonwebtoken::jwk::JwkSet {
        self.http(None)
            .get(self.url("/jwks"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Verifies `token` with jsonwebtoken against the published JWKS (aud = issuer): an
    /// independent check of what certbound signed. Returns the claims.
    pub async fn verify_with_jwks(&self, token: &str, alg: jsonwebtoken::Algorithm) -> Result<Value, String> {
        let kid = jsonwebtoken::decode_header(token)
            .map_err(|e| e.to_string())?
            .kid
            .ok_or("no kid")?;
        let jwks = self.jwks().await;
        let jwk = jwks.find(&kid).ok_or("kid not published")?;
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
        let mut validation = jsonwebtoken::Validation::new(alg);
        validation.set_audience(&[self.issuer()]);
        validation.set_issuer(&[self.issuer()]);
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| e.to_string())
    }

    /// Shuts the server down and drops the PostgreSQL database.
    pub async fn finish(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        self.store.close().await;
        if let Some(name) = &self.pg_database {
            let mut admin = sqlx::PgConnection::connect(&pg_admin_url()).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    }
}

pub fn pki_client(id: &str, subject: SubjectMatcher, scopes: &str) -> Client {
    Client {
        client_id: id.into(),
        name: id.into(),
        status: ClientStatus::Active,
        auth_method: AuthMethod::TlsClientAuth,
        grant_types: vec![certbound::domain::GrantType::ClientCredentials],
        scopes: scopes.split_whitespace().map(String::from).collect(),
        redirect_uris: vec![],
        bound_access_tokens: true,
        dpop_bound_access_tokens: false,
        require_signed_request_object: false,
        subject: Some(subject),
        jwks: None,
        jwks_uri: None,
        ca_pins: vec![],
        cert_pins: vec![],
        issuer_serial_pins: vec![],
        can_introspect: false,
        authorization_details_types: Vec::new(),
        created_at: certbound::now(),
        updated_at: certbound::now(),
    }
}

pub fn chain_of(cert: &IssuedCert) -> Vec<CertificateDer<'static>> {
    certbound::pki::certs_from_pem(cert.cert_pem.as_bytes()).unwrap()
}

pub fn key_of(cert: &IssuedCert) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap()
}

/// A reqwest client over our own rustls config (aws-lc-rs, dev CA as the only root).
pub fn http_client(
    pki: &PkiLayout,
    addr: SocketAddr,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> reqwest::Client {
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(pki));
    let config = match identity {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .resolve("localhost", addr)
        .build()
        .unwrap()
}

/// Presents one certificate chain whatever the server asks, without rustls checking it first:
/// for chains a well-behaved client library would refuse to send.
#[derive(Debug)]
pub struct Fixed(pub Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for Fixed {
    fn resolve(&self, _: &[&[u8]], _: &[rustls::SignatureScheme]) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
    fn has_certs(&self) -> bool {
        true
    }
}

/// Like [`http_client`], presenting `chain` as it is.
pub fn http_client_presenting(
    pki: &PkiLayout,
    addr: SocketAddr,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key = provider.key_provider.load_private_key(key).unwrap();
    let certified = Arc::new(rustls::sign::CertifiedKey::new(chain, key));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(pki))
        .with_client_cert_resolver(Arc::new(Fixed(certified)));
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .resolve("localhost", addr)
        .build()
        .unwrap()
}

/// Serves `app` over TLS (the dev server certificate, client certificates requested) on a
/// loopback port until the test ends.
pub async fn serve_tls(pki: &PkiLayout, app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = certbound::tls::server_config(&pki.server_cert(), &pki.server_key(), true).unwrap();
    tokio::spawn(certbound::tls::serve(
        listener,
        tls,
        Arc::new(certbound::tls::forwarded::Forwarding::default()),
        app,
        std::future::pending::<()>(),
    ));
    addr
}

pub fn roots(pki: &PkiLayout) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certbound::pki::certs_from_pem(&std::fs::read(pki.ca_cert()).unwrap()).unwrap() {
        roots.add(cert).unwrap();
    }
    roots
}

pub async fn post_form(http: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = http.post(url).form(form).send().await.expect("request completes");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// `GET /metrics` on the plain-HTTP metrics listener: the whole response, checked to be 200 and
/// Prometheus text.
pub async fn scrape_metrics(addr: SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nhost: metrics\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("text/plain; version=0.0.4"));
    response
}

/// Decodes a JWT payload without verifying it.
pub fn jwt_payload(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// `x5t#S256` of a certificate, computed here independently of certbound's code.
pub fn x5t_s256(cert: &IssuedCert) -> String {
    use base64::Engine;
    use sha2::Digest;
    let der = chain_of(cert).remove(0);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(der.as_ref()))
}

pub fn assert_invalid_client(status: u16, body: &Value) {
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client", "{body}");
}

/// Sends raw bytes over mutual TLS (HTTP/1.1) and returns what the server answered, up to the
/// end of the first response or the connection.
pub async fn raw_request(env: &TestEnv, identity: Option<&IssuedCert>, request: &[u8]) -> String {
    use tokio::io::AsyncWriteExt;
    let mut tls = tls_connect(env, identity).await;
    tls.write_all(request).await.unwrap();
    read_response(&mut tls).await
}

pub type TlsStream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// A TLS connection (ALPN none: HTTP/1.1) to the mTLS listener, presenting `identity`.
pub async fn tls_connect(env: &TestEnv, identity: Option<&IssuedCert>) -> TlsStream {
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(&env.pki));
    let config = match identity {
        Some(i) => builder.with_client_auth_cert(chain_of(i), key_of(i)).unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(env.addr()).await.unwrap();
    connector.connect("localhost".try_into().unwrap(), tcp).await.unwrap()
}

/// Reads one HTTP/1.1 response (head and `Content-Length` body), or what came before the
/// connection closed, waiting at most 5 s.
pub async fn read_response(tls: &mut TlsStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, tls.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                break;
            }
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// A child process killed when dropped, so a failing test leaves nothing running.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port free at the time of asking, for a process started later (nginx,
/// chromedriver). Chosen below Linux's ephemeral range (32768 and up), so that no listener bound to
/// port 0 in the meantime (another test's server) can be handed the same port.
pub fn free_port() -> u16 {
    loop {
        let random = certbound::jose::random_id()
            .bytes()
            .fold(0u32, |acc, b| acc.wrapping_mul(31).wrapping_add(u32::from(b)));
        let port = 20_000 + (random % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// GET `url` with a bearer token and an API key; the status.
pub async fn keyed_get(http: &reqwest::Client, url: &str, token: &str, key: &str) -> u16 {
    let response = http
        .get(url)
        .bearer_auth(token)
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}
