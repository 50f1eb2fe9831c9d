//! A remote guard whose revocation list stops refreshing: past its bound `/readyz` says not
//! ready, the metrics say stale, and tokens are refused (503) until a poll succeeds again,
//! unless the operator chose to keep serving. Remote mode cannot start polling without the
//! certificate the list is fetched with.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use certbound::domain::ClientStatus;
use certbound::rs::remote::{RemoteAuthority, RemoteConfig, RemoteError, Revocation, RevocationPoll, WhenStale};
use certbound::rs::{Authenticated, Guard, Policy};
use common::{Db, TestEnv};

on_both_databases!(
    a_stale_list_refuses_tokens_until_fresh,
    keep_serving_only_reports_staleness
);

fn config(env: &TestEnv, rs: &certbound::pki::dev::IssuedCert, when_stale: WhenStale) -> RemoteConfig {
    let mut poll = RevocationPoll::new(env.url("/revocations"), "rs", Duration::from_millis(100));
    poll.max_age = Duration::from_millis(800);
    poll.when_stale = when_stale;
    RemoteConfig {
        issuer: env.issuer(),
        jwks_uri: env.url("/jwks"),
        ca_pem: std::fs::read(env.pki.ca_cert()).unwrap(),
        identity: Some((rs.cert_pem.clone().into_bytes(), rs.key_pem.clone().into_bytes())),
        revocation: Revocation::Poll(poll),
        min_jwks_refresh: Duration::from_secs(1),
    }
}

/// The bank's service: one guarded route and the health routes.
async fn bank(env: &TestEnv, authority: Arc<RemoteAuthority>) -> std::net::SocketAddr {
    let guard = Guard::remote(authority.clone(), vec![env.issuer()], None);
    let app = Router::new()
        .route(
            "/data",
            get(|who: Authenticated| async move { who.client_id().to_string() }),
        )
        .layer(guard.require(Policy::scopes(&["accounts"]).expect("a scope-token")))
        .merge(certbound::rs::health::router(authority, guard.decisions().clone()));
    common::serve_tls(&env.pki, app).await
}

struct Probe {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Probe {
    async fn data(&self) -> (u16, Option<String>) {
        let response = self
            .http
            .get(format!("{}/data", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let retry = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        (response.status().as_u16(), retry)
    }

    async fn ready(&self) -> u16 {
        let url = format!("{}/readyz", self.base);
        self.http.get(url).send().await.unwrap().status().as_u16()
    }

    async fn metric(&self, name: &str) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap();
        line[name.len() + 1..].parse().unwrap()
    }

    /// Waits (up to 5 s) until `/readyz` answers `status`.
    async fn until_ready_is(&self, status: u16) {
        for _ in 0..50 {
            if self.ready().await == status {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("/readyz never answered {status}");
    }
}

async fn setup(db: Db, when_stale: WhenStale) -> (TestEnv, Probe) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let rs = env.register_resource_server().await;
    let authority = RemoteAuthority::connect(config(&env, &rs, when_stale)).await.unwrap();
    let addr = bank(&env, authority).await;
    let base = format!("https://localhost:{}", addr.port());
    let cert = env.issue("tpp1");
    let (_, body) = env.token(&env.http(Some(&cert)), "tpp1", &[]).await;
    let http = common::http_client(&env.pki, addr, Some((common::chain_of(&cert), common::key_of(&cert))));
    let token = body["access_token"].as_str().unwrap().to_string();
    (env, Probe { http, base, token })
}

/// Cuts the guard off its revocation list: the AS refuses the disabled `rs` client.
async fn cut_off(env: &TestEnv) {
    env.store.set_client_status("rs", ClientStatus::Disabled).await.unwrap();
}

async fn reconnect(env: &TestEnv) {
    env.store.set_client_status("rs", ClientStatus::Active).await.unwrap();
}

async fn a_stale_list_refuses_tokens_until_fresh(db: Db) {
    let (env, probe) = setup(db, WhenStale::Refuse).await;
    assert_eq!(probe.ready().await, 200, "fetched at connect");
    assert_eq!(probe.data().await.0, 200);
    assert_eq!(probe.metric("certbound_rs_revocation_list_stale").await, 0.0);

    cut_off(&env).await;
    probe.until_ready_is(503).await;
    assert_eq!(probe.data().await, (503, Some("1".into())), "refused while stale");
    assert_eq!(probe.metric("certbound_rs_revocation_list_stale").await, 1.0);
    assert!(probe.metric("certbound_rs_revocation_list_age_seconds").await > 0.8);
    assert!(probe.metric("certbound_rs_revocation_poll_failures_total").await >= 1.0);

    reconnect(&env).await;
    probe.until_ready_is(200).await;
    assert_eq!(probe.data().await.0, 200, "served again once fresh");
    assert_eq!(probe.metric("certbound_rs_revocation_list_stale").await, 0.0);
    // The guard's decisions are on the same page.
    let refused_stale = r#"certbound_rs_decisions_total{outcome="refused",reason="revocations_stale"}"#;
    assert_eq!(probe.metric(refused_stale).await, 1.0);
    assert_eq!(
        probe.metric(r#"certbound_rs_decisions_total{outcome="allowed"}"#).await,
        2.0
    );
    env.finish().await;
}

async fn keep_serving_only_reports_staleness(db: Db) {
    let (env, probe) = setup(db, WhenStale::KeepServing).await;
    cut_off(&env).await;
    probe.until_ready_is(503).await;
    assert_eq!(probe.data().await.0, 200, "the operator chose to keep serving");
    assert_eq!(probe.metric("certbound_rs_revocation_list_stale").await, 1.0);
    env.finish().await;
}

#[tokio::test]
async fn polling_without_a_certificate_is_refused_at_start() {
    let env = TestEnv::start(Db::Sqlite).await;
    let rs = env.register_resource_server().await;
    let mut config = config(&env, &rs, WhenStale::Refuse);
    config.identity = None;
    let refused = RemoteAuthority::connect(config).await.err();
    assert!(
        matches!(refused, Some(RemoteError::Config(_))),
        "{:?}",
        refused.map(|e| e.to_string())
    );
    env.finish().await;
}
