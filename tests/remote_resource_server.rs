//! A resource server in its own process space (its own TLS listener and `Guard::remote`),
//! verifying tokens against the AS's JWKS and polling its revocation list.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use base64::Engine;
use certbound::jose::{KeyEncryptionKey, SigningAlg};
use certbound::oauth::signing_keys as keys;
use certbound::rs::remote::{RemoteAuthority, RemoteConfig, Revocation, RevocationPoll};
use certbound::rs::{ApiKeys, Authenticated, Guard, Policy};
use certbound::store::Store;
use certbound::tls::Forwarding;
use common::dpop::Proof;
use common::tpp::{dpop_key, Auth, Binding, Tpp};
use common::{Db, TestEnv};
use serde_json::json;

on_both_databases!(remote_guard_follows_the_authorization_server);

async fn remote_guard_follows_the_authorization_server(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let rs_cert = env.register_resource_server().await;

    let authority = RemoteAuthority::connect(RemoteConfig {
        issuer: env.issuer(),
        jwks_uri: env.url("/jwks"),
        ca_pem: std::fs::read(env.pki.ca_cert()).unwrap(),
        identity: Some((
            rs_cert.cert_pem.clone().into_bytes(),
            rs_cert.key_pem.clone().into_bytes(),
        )),
        revocation: Revocation::Poll(RevocationPoll::new(
            env.url("/revocations"),
            "rs",
            Duration::from_millis(200),
        )),
        min_jwks_refresh: Duration::from_secs(1),
    })
    .await
    .expect("JWKS fetched");
    // API keys come from the shared database.
    let api_keys = Arc::new(ApiKeys::new(Store::connect(&env.database_url).await.unwrap()));
    let guard = Guard::remote(authority.clone(), vec![env.issuer()], Some(api_keys));
    let handler = get(|who: Authenticated| async move { who.client_id().to_string() });
    let app = Router::new()
        .route("/data", handler.clone())
        .layer(guard.require(Policy::scopes(&["accounts"]).expect("a literal scope-token")))
        .merge(
            Router::new().route("/keyed", handler).layer(
                guard.require(
                    Policy::scopes(&["accounts"])
                        .expect("a literal scope-token")
                        .with_api_key(),
                ),
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rs_addr = listener.local_addr().unwrap();
    let tls = certbound::tls::server_config(&env.pki.server_cert(), &env.pki.server_key(), true).unwrap();
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

    let cert = env.issue("tpp1");
    let as_http = env.http(Some(&cert));
    let rs_http = common::http_client(
        &env.pki,
        rs_addr,
        Some((common::chain_of(&cert), common::key_of(&cert))),
    );
    let rs_url = format!("https://localhost:{}/data", rs_addr.port());
    let token = |body: serde_json::Value| body["access_token"].as_str().unwrap().to_string();
    let first = token(env.token(&as_http, "tpp1", &[]).await.1);

    let status = |t: String| {
        let rs_http = rs_http.clone();
        let rs_url = rs_url.clone();
        async move {
            rs_http
                .get(&rs_url)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(first.clone()).await, 200);

    // Revoked at the AS: refused once the poll has run.
    let (code, _) = common::post_form(
        &as_http,
        &env.url("/revoke"),
        &[("client_id", "tpp1"), ("token", &first)],
    )
    .await;
    assert_eq!(code, 200);
    let mut refused = false;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if status(first.clone()).await == 401 {
            refused = true;
            break;
        }
    }
    assert!(refused, "revocation reached the remote resource server");

    // A flood of unknown kids costs at most one JWKS fetch per refresh interval.
    let fetches_before = authority.jwks_fetches();
    let second = token(env.token(&as_http, "tpp1", &[]).await.1);
    let payload = second.split('.').nth(1).unwrap().to_string();
    for i in 0..50 {
        let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": format!("made-up-{i}")});
        let forged = format!(
            "{}.{payload}.AAAA",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header.to_string())
        );
        assert_eq!(status(forged).await, 401);
    }
    assert!(
        authority.jwks_fetches() - fetches_before <= 1,
        "{} fetches",
        authority.jwks_fetches() - fetches_before
    );

    // After a rotation at the AS, a token with the new kid triggers one refresh and verifies.
    let kek = KeyEncryptionKey::load(&certbound::jose::KekSource::File(
        env.dir.path().join("certbound-data/kek"),
    ))
    .unwrap();
    let new_kid = keys::rotate(&env.store, &kek, SigningAlg::Es256).await.unwrap();
    let mut rotated = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        rotated = token(env.token(&as_http, "tpp1", &[]).await.1);
        if jsonwebtoken::decode_header(&rotated).unwrap().kid.as_deref() == Some(new_kid.as_str()) {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(status(rotated.clone()).await, 200, "new kid fetched");
    assert_eq!(status(second).await, 200, "old key still published");

    // An API key issued at the AS works at once; revoked, it stops working within the poll.
    let issued = certbound::rs::api_keys::issue("tpp1", &[]);
    env.store.insert_api_key(&issued.row, None).await.unwrap();
    let keyed_url = format!("https://localhost:{}/keyed", rs_addr.port());
    let keyed = |t: String, key: String| {
        let (rs_http, url) = (rs_http.clone(), keyed_url.clone());
        async move {
            rs_http
                .get(&url)
                .bearer_auth(t)
                .header("x-api-key", key)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(keyed(rotated.clone(), issued.key.clone()).await, 200);
    assert_eq!(keyed(rotated.clone(), "cbk_garbage".into()).await, 401);
    env.store.revoke_api_key(&issued.row.id).await.unwrap();
    let mut refused = false;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if keyed(rotated.clone(), issued.key.clone()).await == 401 {
            refused = true;
            break;
        }
    }
    assert!(refused, "a revoked API key reached the remote resource server");

    // A disabled client's tokens are refused once the poll has run, and work again when it is
    // enabled.
    assert_eq!(status(rotated.clone()).await, 200);
    let set = |status: certbound::domain::ClientStatus| env.store.set_client_status("tpp1", status);
    set(certbound::domain::ClientStatus::Disabled).await.unwrap();
    let mut refused = false;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if status(rotated.clone()).await == 401 {
            refused = true;
            break;
        }
    }
    assert!(refused, "a disabled client's token reached the remote resource server");
    set(certbound::domain::ClientStatus::Active).await.unwrap();
    let mut back = false;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if status(rotated.clone()).await == 200 {
            back = true;
            break;
        }
    }
    assert!(back, "an enabled client's token is accepted again");

    // A DPoP-bound token, with a proof for this request (no origins configured: the request's
    // Host names the resource); the same proof again is refused.
    let tpp = Tpp::register(&env, "tpp-dpop", Auth::Certificate, Binding::Dpop(dpop_key())).await;
    let (code, body) = tpp.client_credentials(&env).await;
    assert_eq!(code, 200, "{body}");
    let dpop_token = body["access_token"].as_str().unwrap();
    let proof = tpp
        .dpop()
        .unwrap()
        .sign(&Proof::for_request("GET", &rs_url).with_token(dpop_token));
    let dpop_call = || {
        rs_http
            .get(&rs_url)
            .header("authorization", format!("DPoP {dpop_token}"))
            .header("dpop", &proof)
            .send()
    };
    assert_eq!(dpop_call().await.unwrap().status(), 200);
    let replayed = dpop_call().await.unwrap();
    assert_eq!(replayed.status(), 401);
    let challenge = replayed
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect::<Vec<_>>()
        .join(" | ");
    assert!(
        challenge.contains(r#"DPoP realm="certbound", error="invalid_dpop_proof""#),
        "{challenge}"
    );

    let _ = stop.send(());
    served.await.unwrap();
    env.finish().await;
}
