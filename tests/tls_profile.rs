//! The TLS profile (FAPI 2.0 SP §5.2.1, RFC 9325) over real handshakes: under `fapi2` a TLS 1.2
//! client offering only CHACHA20-POLY1305 is refused and one offering an ECDHE AES-GCM suite is
//! served; under `modern` TLS 1.2 is refused altogether; and certbound's own HTTPS client (remote
//! mode, `jwks_uri`, `doctor`) will not talk to a server that offers only other suites.

mod common;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use common::{Db, TestEnv};
use rustls::crypto::CryptoProvider;
use rustls::{CipherSuite, SupportedProtocolVersion};
use rustls_pki_types::ServerName;

const CHACHA: [CipherSuite; 2] = [
    CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];
const AES_GCM: [CipherSuite; 2] = [
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
];

/// aws-lc-rs with only `suites`.
fn provider_with(suites: &[CipherSuite]) -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.cipher_suites.retain(|s| suites.contains(&s.suite()));
    assert!(!provider.cipher_suites.is_empty());
    Arc::new(provider)
}

/// A TLS handshake with the server at `addr`, offering only `suites` of `version`.
async fn handshake(
    env: &TestEnv,
    addr: std::net::SocketAddr,
    version: &'static SupportedProtocolVersion,
    suites: &[CipherSuite],
) -> Result<(), String> {
    let config = rustls::ClientConfig::builder_with_provider(provider_with(suites))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(common::roots(&env.pki))
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

const TLS13_ALL: [CipherSuite; 3] = [
    CipherSuite::TLS13_AES_128_GCM_SHA256,
    CipherSuite::TLS13_AES_256_GCM_SHA384,
    CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fapi2_refuses_tls12_chacha_and_serves_aes_gcm() {
    let env = TestEnv::start(Db::Sqlite).await;
    for addr in [env.addr(), env.front_addr()] {
        let refused = handshake(&env, addr, &rustls::version::TLS12, &CHACHA).await;
        assert!(refused.is_err(), "TLS 1.2 CHACHA20 was accepted at {addr}");
        handshake(&env, addr, &rustls::version::TLS12, &AES_GCM).await.unwrap();
        handshake(&env, addr, &rustls::version::TLS13, &TLS13_ALL)
            .await
            .unwrap();
        handshake(
            &env,
            addr,
            &rustls::version::TLS13,
            &[CipherSuite::TLS13_CHACHA20_POLY1305_SHA256],
        )
        .await
        .unwrap();
    }
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modern_refuses_tls12() {
    let env = TestEnv::start_with(Db::Sqlite, |f| f.tls_profile = Some("modern".into())).await;
    let refused = handshake(&env, env.addr(), &rustls::version::TLS12, &AES_GCM).await;
    assert!(refused.is_err(), "TLS 1.2 was accepted under modern");
    handshake(&env, env.addr(), &rustls::version::TLS13, &TLS13_ALL)
        .await
        .unwrap();
    env.finish().await;
}

/// A server offering TLS 1.2 with only `suites`, answering `ok` at `/`.
async fn server_offering(env: &TestEnv, suites: &[CipherSuite]) -> (String, tokio::sync::oneshot::Sender<()>) {
    let chain = certbound::pki::certs_from_pem(&std::fs::read(env.pki.server_cert()).unwrap()).unwrap();
    let key = rustls_pki_types::pem::PemObject::from_pem_file(env.pki.server_key()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider_with(suites))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://localhost:{}/", listener.local_addr().unwrap().port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(certbound::tls::serve(
        listener,
        Arc::new(config),
        Arc::new(certbound::tls::Forwarding::default()),
        Router::new().route("/", get(|| async { "ok" })),
        async {
            let _ = stopped.await;
        },
    ));
    (url, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_https_client_speaks_the_fapi2_profile_only() {
    let env = TestEnv::start(Db::Sqlite).await;
    let client = certbound::tls::client::HttpsClient::new(&std::fs::read(env.pki.ca_cert()).unwrap(), None).unwrap();
    let (chacha, _stop1) = server_offering(&env, &CHACHA).await;
    let refused = client.fetch(&chacha, None).await;
    assert!(refused.is_err(), "the client talked TLS 1.2 CHACHA20: {refused:?}");
    let (aes, _stop2) = server_offering(&env, &AES_GCM).await;
    assert_eq!(client.fetch(&aes, None).await.unwrap(), "ok");
    env.finish().await;
}
