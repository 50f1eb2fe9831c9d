//! `certbound client update` and `client delete` against a running server over mTLS: a new
//! subject takes effect on running nodes and the old certificate is refused; a bad update
//! writes nothing; a deleted client stays refused and cannot be re-enabled or edited.

mod common;

use std::time::{Duration, Instant};

use common::cli::certbound;
use common::{Db, TestEnv};

async fn token_status_becomes(
    env: &TestEnv,
    http: &reqwest::Client,
    want: u16,
    extra: &[(&str, &str)],
) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let (status, body) = env.token(http, "tpp", extra).await;
        if status == want {
            return body;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still {status}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn update_and_delete(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp", "tpp-a", "accounts").await;
    let (old, new) = (env.http(Some(&env.issue("tpp-a"))), env.http(Some(&env.issue("tpp-b"))));
    token_status_becomes(&env, &old, 200, &[]).await;
    let run = |args: &[&str]| {
        let mut all = vec!["--database-url", env.database_url.as_str()];
        all.extend_from_slice(args);
        certbound(env.dir.path(), &all)
    };

    let (ok, out) = run(&[
        "client",
        "update",
        "tpp",
        "--subject-dn",
        "CN=tpp-b",
        "--scope",
        "accounts payments",
    ]);
    assert!(ok, "{out}");
    let body = token_status_becomes(&env, &new, 200, &[("scope", "payments")]).await;
    assert_eq!(body["scope"], "payments");
    token_status_becomes(&env, &old, 401, &[]).await;

    // Refused updates change nothing.
    let (_, before) = run(&["client", "show", "tpp", "--json"]);
    for (args, why) in [
        (&["client", "update", "tpp", "--grant", "password"][..], "unknown grant"),
        (&["client", "update", "tpp", "--scope", "a\u{7f}b"], "bad scope"),
        (
            &["client", "update", "tpp", "--san-dns", "x", "--san-uri", "https://x"],
            "two subjects",
        ),
        (
            &["client", "update", "tpp", "--cert-issuer-serial", "zz:CN=ca"],
            "bad pin",
        ),
        (&["client", "update", "nobody", "--name", "x"], "unknown client"),
    ] {
        let (ok, out) = run(args);
        assert!(!ok, "{why}: {out}");
    }
    assert_eq!(run(&["client", "show", "tpp", "--json"]).1, before);

    let (ok, out) = run(&["client", "delete", "tpp"]);
    assert!(ok, "{out}");
    token_status_becomes(&env, &new, 401, &[]).await;
    for args in [
        &["client", "enable", "tpp"][..],
        &["client", "update", "tpp", "--name", "back"],
        &["client", "delete", "tpp"],
    ] {
        let (ok, out) = run(args);
        assert!(!ok, "a deleted client stays deleted: {args:?} {out}");
    }
    let (_, shown) = run(&["client", "show", "tpp", "--json"]);
    assert!(shown.contains(r#""status": "deleted""#), "{shown}");

    // The CLI's changes are in the audit trail, with who and the registration before and after;
    // the refused ones are not.
    let filter = certbound::store::audit::AuditFilter {
        kind: Some(certbound::domain::AuditKind::Admin),
        client_id: Some("tpp".into()),
        ..Default::default()
    };
    let rows = env.store.audit_events(&filter, 10).await.unwrap();
    let actions: Vec<_> = rows.iter().map(|r| r.endpoint.as_str()).collect();
    assert_eq!(actions, ["admin.client.delete", "admin.client.update"], "newest first");
    assert!(rows
        .iter()
        .all(|r| r.actor.as_deref().is_some_and(|a| a.starts_with("cli:"))));
    let detail = rows[1].detail.as_ref().unwrap();
    assert_eq!(detail["before"]["tls_client_auth_subject_dn"], "CN=tpp-a");
    assert_eq!(detail["after"]["tls_client_auth_subject_dn"], "CN=tpp-b");
}

on_both_databases!(update_and_delete);
