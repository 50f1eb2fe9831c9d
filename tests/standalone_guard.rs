//! The resource-server guard in a plain axum service of a bank's own, with no authorization
//! server code in the process: the AS runs as a separate `certbound serve` process, and this
//! test links only `certbound::rs`, `certbound::tls` and `certbound::pki`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use certbound::pki::certs_from_pem;
use certbound::rs::remote::{RemoteAuthority, RemoteConfig, Revocation, RevocationPoll};
use certbound::rs::{Authenticated, Guard, Policy};
use certbound::tls::Forwarding;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `certbound` with its pages on `port` and its mTLS listener on `port + 1`.
fn certbound(dir: &Path, port: u16, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certbound"));
    cmd.current_dir(dir)
        .env("CERTBOUND_LOG", "warn")
        .env("CERTBOUND_LISTEN", format!("127.0.0.1:{port}"))
        .env("CERTBOUND_MTLS_LISTEN", format!("127.0.0.1:{}", port + 1))
        .env("CERTBOUND_RELOAD_INTERVAL_MS", "100")
        .args(args);
    cmd
}

fn run(mut cmd: Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A free loopback port whose successor is free too.
fn free_port_pair() -> u16 {
    loop {
        let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = first.local_addr().unwrap().port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

/// An HTTPS client trusting the dev CA and presenting the named client certificate.
fn http(pki: &Path, name: &str, port: u16) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs_from_pem(&std::fs::read(pki.join("ca.pem")).unwrap()).unwrap() {
        roots.add(cert).unwrap();
    }
    let cert = certs_from_pem(&std::fs::read(pki.join(format!("clients/{name}.pem"))).unwrap()).unwrap();
    let key = PrivateKeyDer::from_pem_slice(&std::fs::read(pki.join(format!("clients/{name}.key"))).unwrap()).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(cert, key)
        .unwrap();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_runs_in_a_plain_axum_app_against_a_separate_authorization_server() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let as_port = free_port_pair();
    let mtls_port = as_port + 1;
    let _server = Child(certbound(d, as_port, &["serve"]).stdout(Stdio::null()).spawn().unwrap());
    let pki = d.join("certbound-data/pki");
    let started = Instant::now();
    // Ready, not merely listening: the CLI below must not race the server's migrations.
    let ready = || {
        Command::new("curl")
            .args(["-sf", "--cacert"])
            .arg(pki.join("ca.pem"))
            .arg(format!("https://localhost:{as_port}/readyz"))
            .output()
            .is_ok_and(|o| o.status.success())
    };
    while !pki.join("ca.pem").exists() || !ready() {
        assert!(started.elapsed() < Duration::from_secs(30), "the AS did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    for name in ["tpp1", "tpp2", "rs"] {
        run(certbound(
            d,
            as_port,
            &["pki", "issue", "--dir", "certbound-data/pki", "--name", name],
        ));
    }
    for (id, extra) in [("tpp1", None), ("tpp2", None), ("rs", Some("--introspect"))] {
        let mut cmd = certbound(
            d,
            as_port,
            &["client", "add", "--name", id, "--auth", "tls_client_auth"],
        );
        cmd.args([
            "--subject-dn",
            &format!("CN={id}"),
            "--scope",
            "accounts",
            "--client-id",
            id,
        ]);
        cmd.args(extra);
        run(cmd);
    }
    let issuer = format!("https://localhost:{as_port}");
    let mtls = format!("https://localhost:{mtls_port}");

    // The bank's own service: the guard in front of one route, nothing else of certbound.
    let read = |name: &str| std::fs::read(pki.join(format!("clients/{name}"))).unwrap();
    let authority = RemoteAuthority::connect(RemoteConfig {
        issuer: issuer.clone(),
        jwks_uri: format!("{issuer}/jwks"),
        ca_pem: std::fs::read(pki.join("ca.pem")).unwrap(),
        identity: Some((read("rs.pem"), read("rs.key"))),
        revocation: Revocation::Poll(RevocationPoll::new(
            format!("{mtls}/revocations"),
            "rs",
            Duration::from_millis(200),
        )),
        min_jwks_refresh: Duration::from_secs(1),
    })
    .await
    .expect("the AS's JWKS");
    let guard = Guard::remote(authority, vec![issuer.clone()], None);
    let app = Router::new()
        .route(
            "/balances",
            get(|who: Authenticated| async move { format!("hello {}", who.client_id()) }),
        )
        .layer(guard.require(Policy::scopes(&["accounts"]).expect("a literal scope-token")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rs_port = listener.local_addr().unwrap().port();
    let tls = certbound::tls::server_config(&pki.join("server.pem"), &pki.join("server.key"), true).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(certbound::tls::serve(
        listener,
        tls,
        Arc::new(Forwarding::default()),
        app,
        async {
            let _ = stopped.await;
        },
    ));

    let tpp1_at_as = http(&pki, "tpp1", mtls_port);
    let body: serde_json::Value = tpp1_at_as
        .post(format!("{mtls}/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", "tpp1")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().expect("a token").to_string();
    let call = |name: &'static str| {
        let client = http(&pki, name, rs_port);
        let token = token.clone();
        async move {
            let response = client
                .get(format!("https://localhost:{rs_port}/balances"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(call("tpp1").await, (200, "hello tpp1".to_string()));
    assert_eq!(call("tpp2").await.0, 401, "the token is bound to tpp1's certificate");

    // Revoked at the AS: the bank's service refuses it once it has polled.
    let revoked = tpp1_at_as
        .post(format!("{mtls}/revoke"))
        .form(&[("client_id", "tpp1"), ("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let started = Instant::now();
    while call("tpp1").await.0 != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "revocation did not reach the guard"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    served.await.unwrap();
}
