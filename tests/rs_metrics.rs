//! The resource-server guards' decisions on `/metrics`: the demo bank's requests counted as
//! allowed, or refused under the check that refused them.

mod common;

use std::time::Duration;

use certbound::pki::dev::IssuedCert;
use certbound::rs::api_keys::ApiKeyFailure;
use certbound::rs::Reason;
use common::{Db, TestEnv};

on_both_databases!(guard_decisions_are_counted_by_reason);

const ACCOUNTS: &str = "/bank/v1/accounts";
const PAYMENTS: &str = "/bank/v1/payments";

async fn guard_decisions_are_counted_by_reason(db: Db) {
    let env = TestEnv::start_with(db, |f| {
        f.demo_bank = Some(true);
        f.metrics_listen = Some("127.0.0.1:0".into());
    })
    .await;
    let (cert, token, key) = tpp(&env, "tpp1", "accounts").await;
    let (other_cert, _, _) = tpp(&env, "tpp2", "accounts").await;

    assert_eq!(get(&env, Some(&cert), ACCOUNTS, Some(&token), &key).await, 200);
    assert_eq!(
        get(
            &env,
            Some(&cert),
            "/bank/v1/accounts/22289/balances",
            Some(&token),
            &key
        )
        .await,
        200
    );
    assert_eq!(get(&env, Some(&cert), ACCOUNTS, None, &key).await, 401);
    assert_eq!(get(&env, Some(&other_cert), ACCOUNTS, Some(&token), &key).await, 401);
    assert_eq!(get(&env, Some(&cert), PAYMENTS, Some(&token), &key).await, 403);

    let text = common::scrape_metrics(env.server().metrics_addr.expect("a metrics listener")).await;
    let expected = |reason: Reason| match reason {
        Reason::NoToken | Reason::CertificateMismatch | Reason::InsufficientScope => 1,
        _ => 0,
    };
    let mut lines = vec![r#"certbound_rs_decisions_total{outcome="allowed"} 2"#.to_string()];
    lines.extend(Reason::ALL.into_iter().map(|reason| {
        format!(
            r#"certbound_rs_decisions_total{{outcome="refused",reason="{}"}} {}"#,
            reason.as_str(),
            expected(reason)
        )
    }));
    for line in &lines {
        assert!(text.lines().any(|l| l == line), "{line:?} missing from:\n{text}");
    }
    assert!(text.contains("# TYPE certbound_rs_decisions_total counter"));
    env.finish().await;
}

/// Registers `id` (subject CN=id) and returns its certificate, a bound token and an API key.
async fn tpp(env: &TestEnv, id: &str, scopes: &str) -> (IssuedCert, String, String) {
    env.register_pki_client(id, id, scopes).await;
    let cert = env.issue(id);
    let (status, body) = env.token(&env.http(Some(&cert)), id, &[]).await;
    assert_eq!(status, 200, "{body}");
    let issued = certbound::rs::api_keys::issue(id, &[]);
    env.store.insert_api_key(&issued.row, None).await.unwrap();
    server_sees_key(env, &issued.key).await;
    (cert, body["access_token"].as_str().unwrap().to_string(), issued.key)
}

/// Waits until the running server's key cache (reloaded by its change poller) knows `key`.
async fn server_sees_key(env: &TestEnv, key: &str) {
    for _ in 0..100 {
        let result = env
            .server()
            .local
            .api_keys
            .verify(key, "-", None, certbound::now())
            .await;
        if result != Err(ApiKeyFailure::Unknown) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not pick up the API key");
}

async fn get(env: &TestEnv, cert: Option<&IssuedCert>, path: &str, token: Option<&str>, key: &str) -> u16 {
    let mut request = env.http(cert).get(env.url(path)).header("x-api-key", key);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    request.send().await.unwrap().status().as_u16()
}
