//! Prometheus `/metrics` on its own plain-HTTP listener: requests by endpoint and outcome,
//! refusals by the check that made them, tokens by grant type, the audit queue's counts.

mod common;

use std::time::Duration;

use common::{Db, TestEnv};

on_both_databases!(metrics_count_requests_refusals_tokens_and_audit_events);

async fn metrics_count_requests_refusals_tokens_and_audit_events(db: Db) {
    let env = TestEnv::start_with(db, |f| f.metrics_listen = Some("127.0.0.1:0".into())).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let http = env.http(Some(&env.issue("tpp1")));
    for _ in 0..3 {
        assert_eq!(env.token(&http, "tpp1", &[]).await.0, 200);
    }
    assert_eq!(env.token(&http, "made-up", &[]).await.0, 401);
    assert_eq!(env.token(&http, "tpp1", &[("scope", "payments")]).await.0, 400);
    assert!(env.server().state.audit.settled(Duration::from_secs(10)).await);

    let text = common::scrape_metrics(env.server().metrics_addr.expect("a metrics listener")).await;
    for line in [
        r#"certbound_requests_total{endpoint="/token",outcome="success"} 3"#,
        r#"certbound_requests_total{endpoint="/token",outcome="failure"} 2"#,
        r#"certbound_request_failures_total{check="client_known"} 1"#,
        r#"certbound_request_failures_total{check="invalid_scope"} 1"#,
        r#"certbound_tokens_issued_total{grant_type="client_credentials"} 3"#,
        "certbound_audit_events_recorded_total 5",
        "certbound_audit_events_written_total 5",
        "certbound_audit_events_dropped_total 0",
        "certbound_audit_queue_depth 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} missing from:\n{text}");
    }
    env.finish().await;
}

#[tokio::test]
async fn no_metrics_listener_unless_configured() {
    let env = TestEnv::start(Db::Sqlite).await;
    assert!(env.server().metrics_addr.is_none());
    env.finish().await;
}
