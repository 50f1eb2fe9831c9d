//! Codes and refresh tokens at the token endpoint: each redeemed once, by its client, over a
//! certificate that authenticates that client, with its PKCE verifier and redirect URI; a replay
//! revokes everything issued from the code; refresh tokens die with their grant, customer or
//! client.

mod common;

use std::time::{Duration, Instant};

use certbound::domain::{CustomerStatus, GrantType};
use common::flow::{self, ALICE};
use common::{assert_invalid_client, post_form, Db, TestEnv};
use serde_json::Value;

on_both_databases!(
    a_code_is_redeemed_once_and_a_replay_revokes_its_tokens,
    a_code_is_bound_to_its_client_verifier_and_redirect_uri,
    concurrent_redemptions_yield_one_token,
    refresh_tokens_are_bound_to_client_grant_and_customer,
    what_the_client_registered_decides_what_it_gets,
);

fn assert_invalid_grant(status: u16, body: &Value) {
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
}

async fn introspect(env: &TestEnv, tpp: &reqwest::Client, token: &str) -> Value {
    post_form(tpp, &env.url("/introspect"), &[("client_id", "tpp1"), ("token", token)])
        .await
        .1
}

async fn a_code_is_redeemed_once_and_a_replay_revokes_its_tokens(db: Db) {
    let env = TestEnv::start(db).await;
    flow::register_tpp(&env, "tpp1", "openid accounts").await;
    let tpp = env.http(Some(&env.issue("tpp1")));
    let (code, verifier) = flow::code(&env, &tpp, "tpp1").await;
    let (status, tokens) = flow::redeem(&env, &tpp, "tpp1", &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let access_token = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&env, &tpp, access_token).await["active"], true);

    let (status, body) = flow::redeem(&env, &tpp, "tpp1", &code, &verifier).await;
    assert_invalid_grant(status, &body);
    // Everything issued from the code is revoked.
    assert_eq!(introspect(&env, &tpp, access_token).await["active"], false);
    assert_eq!(introspect(&env, &tpp, refresh_token).await["active"], false);
    let (status, body) = flow::refresh(&env, &tpp, "tpp1", refresh_token, &[]).await;
    assert_invalid_grant(status, &body);
    let grants = env.store.list_grants(None, Some("tpp1")).await.unwrap();
    assert!(grants[0].revoked_at.is_some());

    // An unknown code, and a code past its 60 seconds.
    let (status, body) = flow::redeem(&env, &tpp, "tpp1", "no-such-code", &verifier).await;
    assert_invalid_grant(status, &body);
    let (code, verifier) = flow::code(&env, &tpp, "tpp1").await;
    expire_codes(&env).await;
    let (status, body) = flow::redeem(&env, &tpp, "tpp1", &code, &verifier).await;
    assert_invalid_grant(status, &body);
    env.finish().await;
}

/// Moves every code's expiry into the past, through the database.
async fn expire_codes(env: &TestEnv) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&env.database_url).await.unwrap();
    sqlx::query("UPDATE grants SET code_expires_at = $1")
        .bind(certbound::now() - 1)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

async fn a_code_is_bound_to_its_client_verifier_and_redirect_uri(db: Db) {
    let env = TestEnv::start(db).await;
    flow::register_tpp(&env, "tpp1", "openid accounts").await;
    flow::register_tpp(&env, "tpp2", "openid accounts").await;
    let tpp1 = env.http(Some(&env.issue("tpp1")));
    let tpp2 = env.http(Some(&env.issue("tpp2")));
    let redeem = |http: reqwest::Client, form: Vec<(&'static str, String)>| {
        let url = env.url("/token");
        async move {
            let mut full = vec![("grant_type", "authorization_code".to_string())];
            full.extend(form);
            let borrowed: Vec<(&str, &str)> = full.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(&http, &url, &borrowed).await
        }
    };
    let form = |client_id: &str, code: &str, redirect: &str, verifier: Option<&str>| {
        let mut form = vec![
            ("client_id", client_id.to_string()),
            ("code", code.to_string()),
            ("redirect_uri", redirect.to_string()),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v.to_string()));
        }
        form
    };
    let uri = flow::REDIRECT_URI;

    // Another client, with its own valid authentication.
    let (code, verifier) = flow::code(&env, &tpp1, "tpp1").await;
    let (status, body) = redeem(tpp2.clone(), form("tpp2", &code, uri, Some(&verifier))).await;
    assert_invalid_grant(status, &body);
    // The right client_id over another client's certificate: authentication fails first.
    let (code, verifier) = flow::code(&env, &tpp1, "tpp1").await;
    let (status, body) = redeem(tpp2.clone(), form("tpp1", &code, uri, Some(&verifier))).await;
    assert_invalid_client(status, &body);
    let (status, body) = redeem(env.http(None), form("tpp1", &code, uri, Some(&verifier))).await;
    assert_invalid_client(status, &body);
    // Wrong, absent and malformed verifiers; with the right verifier, another redirect URI.
    for (wrong_verifier, redirect) in [
        (Some(Some("x".repeat(43))), uri),
        (Some(None), uri),
        (Some(Some("not valid!".to_string())), uri),
        (None, "https://tpp.example/other"),
    ] {
        let (code, right) = flow::code(&env, &tpp1, "tpp1").await;
        let verifier = wrong_verifier.unwrap_or(Some(right));
        let (status, body) = redeem(tpp1.clone(), form("tpp1", &code, redirect, verifier.as_deref())).await;
        assert_invalid_grant(status, &body);
    }
    let (code, verifier) = flow::code(&env, &tpp1, "tpp1").await;
    let mut without_redirect = form("tpp1", &code, uri, Some(&verifier));
    without_redirect.retain(|(k, _)| *k != "redirect_uri");
    let (status, body) = redeem(tpp1.clone(), without_redirect).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    // ... and that refusal did not burn the code.
    let (status, body) = redeem(tpp1.clone(), form("tpp1", &code, uri, Some(&verifier))).await;
    assert_eq!(status, 200, "{body}");
    env.finish().await;
}

async fn concurrent_redemptions_yield_one_token(db: Db) {
    let env = TestEnv::start(db).await;
    flow::register_tpp(&env, "tpp1", "openid accounts").await;
    let tpp = env.http(Some(&env.issue("tpp1")));
    let (code, verifier) = flow::code(&env, &tpp, "tpp1").await;
    let attempts = (0..8).map(|_| flow::redeem(&env, &tpp, "tpp1", &code, &verifier));
    let results = futures_join_all(attempts).await;
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(ok, 1, "{results:?}");
    assert!(results.iter().all(|(s, b)| *s == 200 || b["error"] == "invalid_grant"));
    env.finish().await;
}

/// Runs the futures concurrently on the test's runtime.
async fn futures_join_all<F: std::future::Future<Output = (u16, Value)>>(
    futures: impl Iterator<Item = F>,
) -> Vec<(u16, Value)> {
    let mut set = Vec::new();
    for f in futures {
        set.push(f);
    }
    let mut out = Vec::new();
    let mut pinned: Vec<_> = set.into_iter().map(Box::pin).collect();
    // Poll all of them together.
    let results = std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out.iter().any(|(j, _)| *j == i) {
                continue;
            }
            match f.as_mut().poll(cx) {
                std::task::Poll::Ready(v) => out.push((i, v)),
                std::task::Poll::Pending => done = false,
            }
        }
        if done {
            std::task::Poll::Ready(std::mem::take(&mut out))
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    results.into_iter().map(|(_, v)| v).collect()
}

async fn refresh_tokens_are_bound_to_client_grant_and_customer(db: Db) {
    let env = TestEnv::start(db).await;
    flow::register_tpp(&env, "tpp1", "openid accounts").await;
    flow::register_tpp(&env, "tpp2", "openid accounts").await;
    let tpp1 = env.http(Some(&env.issue("tpp1")));
    let tpp2 = env.http(Some(&env.issue("tpp2")));
    let tokens = flow::tokens(&env, &tpp1, "tpp1").await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(flow::refresh(&env, &tpp1, "tpp1", &refresh_token, &[]).await.0, 200);

    // Another client, and this client over another certificate.
    let (status, body) = flow::refresh(&env, &tpp2, "tpp2", &refresh_token, &[]).await;
    assert_invalid_grant(status, &body);
    let (status, body) = flow::refresh(&env, &tpp2, "tpp1", &refresh_token, &[]).await;
    assert_invalid_client(status, &body);
    // Wider than the grant.
    let (status, body) = flow::refresh(
        &env,
        &tpp1,
        "tpp1",
        &refresh_token,
        &[("scope", "openid accounts payments")],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")), "{body}");
    let (status, body) = flow::refresh(
        &env,
        &tpp1,
        "tpp1",
        &refresh_token,
        &[("resource", "https://other.example/api")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target")),
        "{body}"
    );

    // A disabled customer's refresh tokens stop working on every node (within the reload
    // interval), and work again once enabled.
    env.store
        .set_customer_status("alice", CustomerStatus::Disabled)
        .await
        .unwrap();
    wait_until(|| async { flow::refresh(&env, &tpp1, "tpp1", &refresh_token, &[]).await.0 == 400 }).await;
    env.store
        .set_customer_status("alice", CustomerStatus::Active)
        .await
        .unwrap();
    wait_until(|| async { flow::refresh(&env, &tpp1, "tpp1", &refresh_token, &[]).await.0 == 200 }).await;

    // A disabled client cannot authenticate to use it.
    env.store
        .set_client_status("tpp1", certbound::domain::ClientStatus::Disabled)
        .await
        .unwrap();
    wait_until(|| async { flow::refresh(&env, &tpp1, "tpp1", &refresh_token, &[]).await.0 == 401 }).await;
    env.store
        .set_client_status("tpp1", certbound::domain::ClientStatus::Active)
        .await
        .unwrap();
    wait_until(|| async { flow::refresh(&env, &tpp1, "tpp1", &refresh_token, &[]).await.0 == 200 }).await;

    // The grant revoked (as `certbound grant revoke` does): refresh fails from then on.
    let grant_id = common::jwt_payload(tokens["access_token"].as_str().unwrap())["grant_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(env.store.revoke_grant(&grant_id, certbound::now()).await.unwrap());
    wait_until(|| async { flow::refresh(&env, &tpp1, "tpp1", &refresh_token, &[]).await.0 == 400 }).await;
    let (status, body) = flow::refresh(&env, &tpp1, "tpp1", &refresh_token, &[]).await;
    assert_invalid_grant(status, &body);
    env.finish().await;
}

async fn wait_until<F, Fut>(condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !condition().await {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not within the reload interval"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn what_the_client_registered_decides_what_it_gets(db: Db) {
    let env = TestEnv::start(db).await;
    // Code flow without refresh tokens, and a scope without openid: no refresh token, no ID token.
    let mut client = flow::register_tpp(&env, "tpp1", "accounts").await;
    client.client_id = "norefresh".into();
    client.subject = Some(certbound::domain::SubjectMatcher::Dn(
        certbound::pki::DistinguishedName::parse("CN=norefresh").unwrap(),
    ));
    client.grant_types = vec![GrantType::AuthorizationCode];
    env.store.insert_client(&client).await.unwrap();
    let http = env.http(Some(&env.issue("norefresh")));
    let (verifier, challenge) = flow::pkce();
    let (status, pushed) = flow::par(&env, &http, "norefresh", &challenge, &[("scope", "accounts")]).await;
    assert_eq!(status, 201, "{pushed}");
    let back = flow::approve(
        &env,
        "norefresh",
        pushed["request_uri"].as_str().unwrap(),
        ALICE,
        &["22289"],
    )
    .await;
    let code = back.redirect_param("code").unwrap();
    let (status, tokens) = flow::redeem(&env, &http, "norefresh", &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    assert!(tokens.get("id_token").is_none(), "{tokens}");
    // And it may not use the refresh grant at all.
    let (status, body) = flow::refresh(&env, &http, "norefresh", "whatever", &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    env.finish().await;
}
