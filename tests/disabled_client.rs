//! `certbound client disable` cuts a client off everywhere within the revocation bound: its
//! existing tokens (and with them its API keys) at the resource server, even when their
//! verification is cached; the token endpoint; introspection. Enabling it restores them.

mod common;

use std::time::Duration;

use certbound::domain::ClientStatus;
use common::{Db, TestEnv};

on_both_databases!(a_disabled_clients_tokens_stop_at_the_resource_server);

async fn a_disabled_clients_tokens_stop_at_the_resource_server(db: Db) {
    let env = TestEnv::start_with(db, |f| f.demo_bank = Some(true)).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let http = env.http(Some(&env.issue("tpp1")));
    let rs_cert = env.register_resource_server().await;
    let rs_http = env.http(Some(&rs_cert));
    let issued = certbound::rs::api_keys::issue("tpp1", &[]);
    env.store.insert_api_key(&issued.row, None).await.unwrap();
    let (_, body) = env.token(&http, "tpp1", &[]).await;
    let token = body["access_token"].as_str().unwrap().to_string();
    let bank = || {
        let (http, url, token, key) = (
            http.clone(),
            env.url("/bank/v1/accounts"),
            token.clone(),
            issued.key.clone(),
        );
        async move { common::keyed_get(&http, &url, &token, &key).await }
    };
    let introspected = || {
        let (rs_http, url, token) = (rs_http.clone(), env.url("/introspect"), token.clone());
        async move {
            let (_, body) = common::post_form(&rs_http, &url, &[("client_id", "rs"), ("token", &token)]).await;
            body["active"].as_bool().unwrap()
        }
    };
    assert_eq!(bank().await, 200, "verified once, now cached");
    assert!(introspected().await);

    env.store
        .set_client_status("tpp1", ClientStatus::Disabled)
        .await
        .unwrap();
    let mut cut = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if bank().await == 401 {
            cut = true;
            break;
        }
    }
    assert!(cut, "a disabled client's token still works at the resource server");
    let (status, body) = env.token(&http, "tpp1", &[]).await;
    common::assert_invalid_client(status, &body);
    assert!(!introspected().await, "a disabled client's token is not active");

    env.store.set_client_status("tpp1", ClientStatus::Active).await.unwrap();
    let mut back = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if bank().await == 200 {
            back = true;
            break;
        }
    }
    assert!(back, "an enabled client's token works again");
    assert!(introspected().await);
    env.finish().await;
}
