//! "Revoke every token of this client" (`certbound client revoke-tokens`, and the console):
//! a token issued before is refused at the resource server, inactive at introspection and on
//! the revocation list resource servers poll; a token issued after works.

mod common;

use std::time::{Duration, Instant};

use common::cli::certbound;
use common::{post_form, Db, TestEnv};

async fn bank_status(env: &TestEnv, http: &reqwest::Client, token: &str, key: &str) -> u16 {
    let response = http
        .get(env.url("/bank/v1/accounts"))
        .bearer_auth(token)
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

async fn bank_answers(env: &TestEnv, http: &reqwest::Client, token: &str, key: &str, want: u16) {
    let started = Instant::now();
    loop {
        let status = bank_status(env, http, token, key).await;
        if status == want {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the bank still answers {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn revoke_every_token(db: Db) {
    let env = TestEnv::start_with(db, |f| f.demo_bank = Some(true)).await;
    env.register_pki_client("tpp", "tpp", "accounts").await;
    let rs = env.http(Some(&env.register_resource_server().await));
    let tpp = env.http(Some(&env.issue("tpp")));
    let key = certbound::rs::api_keys::issue("tpp", &[]);
    env.store.insert_api_key(&key.row, None).await.unwrap();
    let (status, body) = env.token(&tpp, "tpp", &[]).await;
    assert_eq!(status, 200, "{body}");
    let old = body["access_token"].as_str().unwrap().to_string();
    bank_answers(&env, &tpp, &old, &key.key, 200).await;

    let (ok, out) = certbound(
        env.dir.path(),
        &["--database-url", &env.database_url, "client", "revoke-tokens", "tpp"],
    );
    assert!(ok, "{out}");
    bank_answers(&env, &tpp, &old, &key.key, 401).await;
    let (_, introspected) = post_form(&rs, &env.url("/introspect"), &[("client_id", "rs"), ("token", &old)]).await;
    assert_eq!(introspected["active"], false, "{introspected}");
    let (status, list) = post_form(&rs, &env.url("/revocations"), &[("client_id", "rs")]).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["revoked_clients"][0]["client_id"], "tpp", "{list}");

    // Tokens issued from the next second on are not covered.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, body) = env.token(&tpp, "tpp", &[]).await;
    let new = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(bank_status(&env, &tpp, &new, &key.key).await, 200);
    let (_, introspected) = post_form(&rs, &env.url("/introspect"), &[("client_id", "rs"), ("token", &new)]).await;
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(bank_status(&env, &tpp, &old, &key.key).await, 401);

    let (ok, _) = certbound(
        env.dir.path(),
        &["--database-url", &env.database_url, "client", "revoke-tokens", "nobody"],
    );
    assert!(!ok, "an unknown client is an error");
}

on_both_databases!(revoke_every_token);
