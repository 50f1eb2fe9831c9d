//! Gateway mode behind a real nginx: nginx terminates mutual TLS for a tiny backend API and asks
//! certbound (`auth_request`) whether each request may pass, forwarding the client certificate in
//! `X-SSL-Client-Cert`. nginx authenticates to certbound with its own client certificate, which is
//! what makes it a trusted proxy. Also runs `certbound doctor` against the deployment.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use certbound::config::{FileConfig, GatewayConfig, PolicyConfig};
use certbound::pki::dev::IssuedCert;
use certbound::pki::Thumbprint;
use certbound::tls::forwarded::{encode, ForwardFormat, ForwardingConfig};
use common::dpop::Proof;
use common::tpp::{dpop_key, Auth, Binding, Tpp};
use common::{Db, TestEnv};
use serde_json::Value;

on_both_databases!(nginx_auth_request_enforces_sender_constrained_tokens);

fn nginx_binary() -> &'static str {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nginx is installed (.ci/run installs the Debian package)")
}

/// The API behind nginx: echoes the identity certbound vouched for.
async fn backend() -> SocketAddr {
    let app = Router::new().route(
        "/bank/accounts",
        get(|headers: HeaderMap| async move {
            let client = headers
                .get("x-client-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            axum::Json(serde_json::json!({ "client": client, "accounts": ["22289"] }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn start_nginx(
    dir: &Path,
    port: u16,
    certbound_port: u16,
    backend: SocketAddr,
    env: &TestEnv,
    proxy: &IssuedCert,
) -> common::KillOnDrop {
    let p = |name: &str| dir.join(name).display().to_string();
    std::fs::write(dir.join("proxy.pem"), &proxy.cert_pem).unwrap();
    std::fs::write(dir.join("proxy.key"), &proxy.key_pem).unwrap();
    let (server_cert, server_key, ca) = (env.pki.server_cert(), env.pki.server_key(), env.pki.ca_cert());
    let conf = format!(
        r#"
daemon off;
master_process off;
pid {pid};
error_log {error_log} info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {server_cert};
        ssl_certificate_key {server_key};
        # Any client certificate; certbound decides trust per client.
        ssl_verify_client optional_no_ca;

        location /bank/ {{
            auth_request /_certbound;
            auth_request_set $cb_client $upstream_http_x_certbound_client_id;
            auth_request_set $cb_challenge $upstream_http_www_authenticate;
            add_header WWW-Authenticate $cb_challenge always;
            proxy_set_header X-Client-Id $cb_client;
            proxy_pass http://{backend};
        }}

        location = /_certbound {{
            internal;
            proxy_pass https://127.0.0.1:{certbound_port}/gateway/check/accounts;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;
            # Replaces any X-SSL-Client-Cert the client sent; absent when it has no certificate.
            proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
            proxy_ssl_certificate {proxy_pem};
            proxy_ssl_certificate_key {proxy_key};
            proxy_ssl_trusted_certificate {ca};
            proxy_ssl_verify on;
            proxy_ssl_name localhost;
        }}
    }}
}}
"#,
        pid = p("nginx.pid"),
        error_log = p("error.log"),
        tmp = dir.display(),
        server_cert = server_cert.display(),
        server_key = server_key.display(),
        ca = ca.display(),
        proxy_pem = p("proxy.pem"),
        proxy_key = p("proxy.key"),
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new(nginx_binary())
        .args(["-p", &dir.display().to_string(), "-c", &p("nginx.conf")])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nginx starts");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nginx did not start: {log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    common::KillOnDrop(child)
}

async fn nginx_auth_request_enforces_sender_constrained_tokens(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let nginx_port = common::free_port();
    let mut proxy = None;
    let env = TestEnv::start_with_ca(db, |f: &mut FileConfig, ca| {
        // nginx's own client certificate is what makes it a trusted proxy.
        let cert = ca
            .issue(&certbound::pki::dev::CertSpec::client("nginx-proxy", 30))
            .unwrap();
        let thumbprint = Thumbprint::of_der(common::chain_of(&cert)[0].as_ref()).to_base64url();
        proxy = Some(cert);
        // nginx terminates TLS, so certbound has the one listener, asking for its certificate.
        f.mtls_listen = Some("none".into());
        f.forwarding = Some(ForwardingConfig {
            format: Some("nginx".into()),
            trusted_proxy_certs: vec![thumbprint],
            ..ForwardingConfig::default()
        });
        f.gateway = Some(GatewayConfig {
            audiences: vec![],
            // The public origin DPoP proofs name: nginx's.
            origins: vec![format!("https://localhost:{nginx_port}")],
            policies: [(
                "accounts".to_string(),
                PolicyConfig {
                    scopes: vec!["accounts".into()],
                    api_key: true,
                    ..PolicyConfig::default()
                },
            )]
            .into(),
        });
    })
    .await;
    let proxy = proxy.unwrap();

    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    env.register_pki_client("tpp2", "tpp2", "accounts").await;
    let (tpp1, tpp2) = (env.issue("tpp1"), env.issue("tpp2"));
    let (_, body) = env.token(&env.http(Some(&tpp1)), "tpp1", &[]).await;
    let token = body["access_token"].as_str().unwrap().to_string();
    let issued = certbound::rs::api_keys::issue("tpp1", &[]);
    env.store.insert_api_key(&issued.row, None).await.unwrap();
    let key = issued.key;

    let backend = backend().await;
    let _nginx = start_nginx(dir.path(), nginx_port, env.addr().port(), backend, &env, &proxy);
    let nginx = SocketAddr::from(([127, 0, 0, 1], nginx_port));
    let url = format!("https://localhost:{nginx_port}/bank/accounts");
    let call = |cert: Option<&IssuedCert>, extra: Vec<(&'static str, String)>| {
        let http = common::http_client(&env.pki, nginx, cert.map(|c| (common::chain_of(c), common::key_of(c))));
        let (url, token, key) = (url.clone(), token.clone(), key.clone());
        async move {
            let mut request = http.get(url).bearer_auth(token).header("x-api-key", key);
            for (name, value) in extra {
                request = request.header(name, value);
            }
            let response = request.send().await.unwrap();
            let challenge = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let status = response.status().as_u16();
            (status, challenge, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    // Right certificate, token and key: through to the backend, which learns the client id.
    let (status, _, body) = call(Some(&tpp1), vec![]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client"], "tpp1");

    // tpp1's token replayed over tpp2's certificate.
    let (status, challenge, _) = call(Some(&tpp2), vec![]).await;
    assert_eq!(status, 401);
    assert!(challenge.contains(r#"error="invalid_token""#), "{challenge}");

    // The client spoofs nginx's header with tpp1's certificate: nginx replaces it with the real
    // one (none, or tpp2's), so the binding fails.
    let spoofed = encode(ForwardFormat::Nginx, &common::chain_of(&tpp1));
    for cert in [None, Some(&tpp2)] {
        let (status, _, _) = call(cert, spoofed.clone()).await;
        assert_eq!(status, 401, "spoofed header with {:?}", cert.map(|_| "tpp2"));
    }

    // Straight to certbound, bypassing nginx, the same forged header is refused outright.
    let direct = env
        .http(None)
        .get(env.url("/gateway/check/accounts"))
        .bearer_auth(&token)
        .header("x-api-key", &key)
        .header(spoofed[0].0, &spoofed[0].1)
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 400);

    // A DPoP-bound token through nginx: the proof names nginx's URL and the original method,
    // which nginx passes along; a replay, or a proof for another method, is refused.
    let tpp = Tpp::register(&env, "tpp-dpop", Auth::Certificate, Binding::Dpop(dpop_key())).await;
    let (_, body) = tpp.client_credentials(&env).await;
    let dpop_token = body["access_token"].as_str().unwrap().to_string();
    let issued = certbound::rs::api_keys::issue("tpp-dpop", &[]);
    env.store.insert_api_key(&issued.row, None).await.unwrap();
    let http = common::http_client(&env.pki, nginx, None);
    let dpop_call = |proof: String| {
        http.get(&url)
            .header("authorization", format!("DPoP {dpop_token}"))
            .header("dpop", proof)
            .header("x-api-key", &issued.key)
            .send()
    };
    let key = tpp.dpop().unwrap();
    let proof = key.sign(&Proof::for_request("GET", &url).with_token(&dpop_token));
    let mut admitted = 0;
    for _ in 0..50 {
        // The server's API key cache picks the new key up within its reload interval.
        let fresh = key.sign(&Proof::for_request("GET", &url).with_token(&dpop_token));
        let response = dpop_call(fresh).await.unwrap();
        if response.status() == 200 {
            admitted += 1;
            assert_eq!(response.json::<Value>().await.unwrap()["client"], "tpp-dpop");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(admitted, 1, "a DPoP-bound token with a proof passes nginx");
    assert_eq!(dpop_call(proof.clone()).await.unwrap().status(), 200);
    let replayed = dpop_call(proof).await.unwrap();
    assert_eq!(replayed.status(), 401);
    let challenge = replayed
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.contains("invalid_dpop_proof"), "{challenge}");
    let post_proof = key.sign(&Proof::for_request("POST", &url).with_token(&dpop_token));
    assert_eq!(dpop_call(post_proof).await.unwrap().status(), 401);

    // `certbound doctor` proves it from this (untrusted) host.
    let doctor = Command::new(env!("CARGO_BIN_EXE_certbound"))
        .args([
            "doctor",
            "--url",
            &env.url(""),
            "--cacert",
            &env.pki.ca_cert().display().to_string(),
        ])
        .env("CERTBOUND_LOG", "warn")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        doctor.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&doctor.stderr)
    );
    assert_eq!(report.matches("ok    forged").count(), 5, "{report}");
    env.finish().await;
}
