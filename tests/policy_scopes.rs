//! A library user's policy with a scope that is no scope-token: `Policy::scopes` refuses it, and
//! one built field by field still never panics the guard: the 403 goes out with a challenge that
//! leaves the scope out.

mod common;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use certbound::rs::{Guard, InvalidScope, Policy};
use certbound::tls::Forwarding;
use common::{Db, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_with_control_characters_never_panics_the_guard() {
    let env = TestEnv::start(Db::Sqlite).await;
    let bad = "accounts\r\nx-injected: 1";
    assert_eq!(Policy::scopes(&[bad]), Err(InvalidScope(bad.to_string())));
    let policy = Policy {
        scopes: vec![bad.to_string()],
        ..Policy::default()
    };
    let guard = Guard::local(&env.server().local, vec![env.issuer()]);
    let app = Router::new()
        .route("/r", get(|| async { "ok" }))
        .layer(guard.require(policy));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = certbound::tls::server_config(&env.pki.server_cert(), &env.pki.server_key(), true).unwrap();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(certbound::tls::serve(
        listener,
        tls,
        Arc::new(Forwarding::default()),
        app,
        async {
            let _ = stopped.await;
        },
    ));

    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let cert = env.issue("tpp1");
    let (_, body) = env.token(&env.http(Some(&cert)), "tpp1", &[]).await;
    let http = common::http_client(&env.pki, addr, Some((common::chain_of(&cert), common::key_of(&cert))));
    let response = http
        .get(format!("https://localhost:{}/r", addr.port()))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert_eq!(challenge, r#"Bearer realm="certbound", error="insufficient_scope""#);
    assert!(!response.headers().contains_key("x-injected"));
    env.finish().await;
}
