//! Hostile and malformed input gets a standard 4xx OAuth error: never a panic, never a 500.

mod common;

use std::sync::Arc;

use common::{Db, TestEnv};
use serde_json::Value;

on_both_databases!(
    malformed_requests_get_oauth_errors,
    certificate_headers_are_not_trusted,
    garbage_certificate_in_the_handshake_is_refused
);

async fn send(http: &reqwest::Client, url: &str, content_type: &str, body: Vec<u8>) -> (u16, Value, Option<String>) {
    let response = http
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("response");
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, cache)
}

async fn malformed_requests_get_oauth_errors(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let http = env.http(Some(&env.issue("tpp1")));
    let form = "application/x-www-form-urlencoded";
    let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        (
            "bad percent-encoding",
            form,
            b"grant_type=client_credentials&client_id=tpp%zz1".to_vec(),
            400,
        ),
        (
            "truncated escape",
            form,
            b"grant_type=client_credentials&client_id=tpp1%2".to_vec(),
            400,
        ),
        (
            "escape with a sign instead of two hex digits",
            form,
            b"grant_type=client_credentials&client_id=tpp1%+9".to_vec(),
            400,
        ),
        (
            "invalid UTF-8",
            form,
            b"grant_type=client_credentials&client_id=%ff%fe".to_vec(),
            400,
        ),
        (
            "NUL byte",
            form,
            b"grant_type=client_credentials&client_id=tpp1%00".to_vec(),
            400,
        ),
        (
            "duplicate client_id",
            form,
            b"grant_type=client_credentials&client_id=tpp1&client_id=tpp2".to_vec(),
            400,
        ),
        (
            "duplicate grant_type",
            form,
            b"grant_type=client_credentials&grant_type=client_credentials&client_id=tpp1".to_vec(),
            400,
        ),
        (
            "JSON body",
            "application/json",
            br#"{"grant_type":"client_credentials","client_id":"tpp1"}"#.to_vec(),
            400,
        ),
        (
            "no content type",
            "",
            b"grant_type=client_credentials&client_id=tpp1".to_vec(),
            400,
        ),
        (
            "20 KB body",
            form,
            [
                b"grant_type=client_credentials&client_id=tpp1&x=".to_vec(),
                vec![b'a'; 20 << 10],
            ]
            .concat(),
            413,
        ),
    ];
    for endpoint in ["/token", "/introspect", "/revoke"] {
        for (name, content_type, body, expected) in &cases {
            let (status, json, cache) = send(&http, &env.url(endpoint), content_type, body.clone()).await;
            assert_eq!(status, *expected, "{endpoint} {name}: {json}");
            assert_eq!(json["error"], "invalid_request", "{endpoint} {name}");
            assert_eq!(cache.as_deref(), Some("no-store"), "{endpoint} {name}");
        }
    }
    // A 1 MB body is refused on its declared length, before it is read (curl waits for this
    // answer, having sent `Expect: 100-continue`).
    let head = "POST /token HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/x-www-form-urlencoded\r\n\
                content-length: 1048576\r\nexpect: 100-continue\r\n\r\n";
    let response = common::raw_request(&env, Some(&env.issue("tpp1")), head.as_bytes()).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("\"error\":\"invalid_request\""), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("cache-control: no-store"),
        "{response}"
    );

    // Still serving normally afterwards.
    let (status, _) = env.token(&http, "tpp1", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(http.get(env.url("/token")).send().await.unwrap().status(), 405);
    env.finish().await;
}

/// By default no peer is a trusted proxy (loopback included): certificate headers are refused
/// with 400, so nobody can authenticate as a TPP by sending its certificate in a header. That
/// holds for every name of `KNOWN_CERTIFICATE_HEADERS` and for names and values that look like
/// a forwarded certificate, so a deployment that later trusts such a header was never spoofable.
async fn certificate_headers_are_not_trusted(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let cert = env.issue("tpp1");
    let der = common::chain_of(&cert).remove(0);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let escaped: String = cert.cert_pem.bytes().map(|b| format!("%{b:02X}")).collect();
    // As nginx's $ssl_client_escaped_cert writes it.
    let nginx_escaped = cert.cert_pem.replace(' ', "%20").replace('\n', "%0A");
    let mut headers = vec![
        ("client-cert", format!(":{b64}:")),
        ("x-ssl-cert", escaped.clone()),
        ("x-forwarded-client-cert", format!("Cert=\"{escaped}\"")),
        ("x-amzn-mtls-clientcert", escaped.clone()),
        ("X-Client-Certificate", escaped.clone()),
        ("X-ARR-ClientCert", b64.clone()),
        ("X-Forwarded-Tls-Client-Cert", escaped.clone()),
        ("X-Tls-Peer-Certificate", b64.clone()),
        ("X-Upstream-Identity", nginx_escaped),
        ("X-Upstream-Der", format!(":{b64}:")),
    ];
    headers.extend(
        certbound::tls::forwarded::KNOWN_CERTIFICATE_HEADERS
            .iter()
            .map(|name| (*name, b64.clone())),
    );
    for (name, value) in headers {
        let response = env
            .http(None)
            .post(env.url("/token"))
            .header(name, value)
            .form(&[("grant_type", "client_credentials"), ("client_id", "tpp1")])
            .send()
            .await
            .unwrap();
        // Refused at the listener, visibly, before any client authentication.
        assert_eq!(response.status(), 400, "{name}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{name}");
    }
    env.finish().await;
}

/// A client whose "certificate" is not X.509 cannot complete the handshake; the server stays up.
async fn garbage_certificate_in_the_handshake_is_refused(db: Db) {
    let env = TestEnv::start(db).await;
    let real = env.issue("tpp1");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key = provider.key_provider.load_private_key(common::key_of(&real)).unwrap();
    let garbage = rustls_pki_types::CertificateDer::from(vec![0x30, 0x82, 0x01, 0x00, 0xde, 0xad, 0xbe, 0xef]);
    let certified = Arc::new(rustls::sign::CertifiedKey::new(vec![garbage], key));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(common::roots(&env.pki))
        .with_client_cert_resolver(Arc::new(common::Fixed(certified)));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(env.addr()).await.unwrap();
    let mut tls = connector.connect("localhost".try_into().unwrap(), tcp).await.unwrap();
    // TLS 1.3: the client's certificate is judged after the client's handshake finishes, so the
    // refusal shows as a failed read.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n").await;
    let mut buf = Vec::new();
    let read = tls.read_to_end(&mut buf).await;
    assert!(
        read.is_err() || buf.is_empty(),
        "server answered over a connection with a garbage certificate"
    );

    assert_eq!(
        env.http(None).get(env.url("/healthz")).send().await.unwrap().status(),
        200
    );
    env.finish().await;
}
