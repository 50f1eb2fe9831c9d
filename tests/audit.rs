//! The audit trail over real mTLS: each way client authentication fails leaves a row naming
//! its check, with the certificate, where it came from, the peer and the listener; a token
//! issued leaves its grant type; and a burst against a stalled writer issues every token and
//! accounts for every event as written or dropped.

mod common;

use std::time::Duration;

use certbound::domain::{AuditEvent, AuditKind, AuditOutcome, CertificateSource};
use certbound::pki::dev::{self_signed, CertSpec};
use certbound::store::audit::AuditFilter;
use certbound::tls::forwarded::{encode, ForwardFormat};
use common::{Db, TestEnv};
use sqlx::{Connection, Executor};

on_both_databases!(
    each_failed_check_leaves_a_row_naming_it,
    a_burst_against_a_stalled_writer_issues_every_token_and_accounts_for_every_event
);

async fn each_failed_check_leaves_a_row_naming_it(db: Db) {
    let (env, proxy) = TestEnv::start_behind_rfc9440_proxy(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    env.register_pki_client("gone", "gone", "accounts").await;
    env.store
        .set_client_status("gone", certbound::domain::ClientStatus::Disabled)
        .await
        .unwrap();
    let tpp1 = env.issue("tpp1");
    let with_cert = env.http(Some(&tpp1));
    let other_cert = env.http(Some(&env.issue("someone-else")));
    let no_cert = env.http(None);
    let intruder = self_signed(&CertSpec::client("tpp1", 30)).unwrap();
    let self_signed = env.http(Some(&intruder));

    // (client_id sent, connection, extra parameters, the check that refuses it)
    type Case<'a> = (&'a str, &'a reqwest::Client, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        ("gone", &with_cert, vec![], "client_active"),
        ("made-up", &with_cert, vec![], "client_known"),
        ("tpp1", &no_cert, vec![], "certificate_presented"),
        ("tpp1", &other_cert, vec![], "certificate_subject_matches"),
        ("tpp1", &self_signed, vec![], "certificate_chain_trusted"),
        ("tpp1", &with_cert, vec![("client_secret", "s3cret")], "one_method"),
        ("tpp1", &with_cert, vec![("scope", "payments")], "invalid_scope"),
    ];
    for (client_id, http, extra, _) in &cases {
        env.token(http, client_id, extra).await;
    }
    let (status, _) = common::post_form(&with_cert, &env.url("/token"), &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 401);
    assert_eq!(env.token(&with_cert, "tpp1", &[]).await.0, 200);
    let (status, _) = common::post_form(
        &no_cert,
        &env.url("/introspect"),
        &[("token", "x"), ("client_id", "tpp1")],
    )
    .await;
    assert_eq!(status, 401);
    let forwarded = encode(ForwardFormat::Rfc9440, &common::chain_of(&tpp1));
    let mut request = env
        .http(Some(&proxy))
        .post(env.url("/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", "tpp1")]);
    for (name, value) in &forwarded {
        request = request.header(*name, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);

    let audit = &env.server().state.audit;
    assert!(audit.settled(Duration::from_secs(10)).await);
    let rows = env.store.audit_events(&AuditFilter::default(), 100).await.unwrap();
    let find = |client_id: &str, check: &str| -> AuditEvent {
        rows.iter()
            .find(|r| {
                r.endpoint == "/token"
                    && r.client_id.as_deref() == Some(client_id)
                    && r.failed_check.as_deref() == Some(check)
            })
            .unwrap_or_else(|| panic!("no row for {client_id} failing {check}: {rows:#?}"))
            .clone()
    };
    for (client_id, _, _, check) in &cases {
        let row = find(client_id, check);
        assert_eq!(
            (row.kind, row.outcome),
            (AuditKind::Token, AuditOutcome::Failure),
            "{check}"
        );
        assert_eq!(row.endpoint, "/token");
        assert_eq!(row.peer.as_deref(), Some("127.0.0.1"));
        assert_eq!(row.listener, Some(env.addr().to_string()));
    }
    let subject_row = find("tpp1", "certificate_subject_matches");
    let cert = subject_row.certificate.expect("the certificate presented");
    assert_eq!(cert.subject, "CN=someone-else");
    assert_eq!(subject_row.certificate_source, Some(CertificateSource::Handshake));
    assert!(find("tpp1", "certificate_presented").certificate.is_none());
    assert_eq!(
        find("tpp1", "certificate_chain_trusted")
            .certificate
            .unwrap()
            .thumbprint,
        common::x5t_s256(&intruder)
    );

    let missing = rows
        .iter()
        .find(|r| r.failed_check.as_deref() == Some("client_id_present"));
    assert!(missing.is_some_and(|r| r.client_id.is_none()), "{rows:#?}");

    let issued: Vec<_> = rows.iter().filter(|r| r.outcome == AuditOutcome::Success).collect();
    assert_eq!(issued.len(), 2, "{issued:#?}");
    for row in &issued {
        assert_eq!(row.client_id.as_deref(), Some("tpp1"));
        assert_eq!(row.grant_type.as_deref(), Some("client_credentials"));
        assert_eq!(row.status, Some(200));
        assert_eq!(row.certificate.as_ref().unwrap().thumbprint, common::x5t_s256(&tpp1));
    }
    assert!(issued
        .iter()
        .any(|r| r.certificate_source == Some(CertificateSource::Proxy)));
    assert!(issued
        .iter()
        .any(|r| r.certificate_source == Some(CertificateSource::Handshake)));

    let at_introspect = rows
        .iter()
        .find(|r| r.endpoint == "/introspect")
        .expect("introspection row");
    assert_eq!(at_introspect.kind, AuditKind::ClientAuthentication);
    assert_eq!(at_introspect.failed_check.as_deref(), Some("certificate_presented"));

    // Filters: by client and outcome, and by check.
    let filter = AuditFilter {
        client_id: Some("tpp1".into()),
        outcome: Some(AuditOutcome::Success),
        ..AuditFilter::default()
    };
    assert_eq!(env.store.audit_events(&filter, 100).await.unwrap().len(), 2);
    let filter = AuditFilter {
        failed_check: Some("client_known".into()),
        ..AuditFilter::default()
    };
    assert_eq!(env.store.audit_events(&filter, 100).await.unwrap().len(), 1);

    // `certbound audit export` writes the same rows as JSON lines, oldest first.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_certbound"))
        .args(["--database-url", &env.database_url, "audit", "export", "--since", "1h"])
        .current_dir(env.dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exported: Vec<AuditEvent> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut newest_first = exported.clone();
    newest_first.reverse();
    assert_eq!(newest_first, rows);
    env.finish().await;
}

/// The writer is stalled by a lock on the audit table for the first seconds of a burst of
/// 10,000 token requests with a queue of 500: every token is issued, and every event is
/// accounted for, as a row or as a drop.
async fn a_burst_against_a_stalled_writer_issues_every_token_and_accounts_for_every_event(db: Db) {
    const REQUESTS: usize = 10_000;
    const WORKERS: usize = 16;
    let env = TestEnv::start_with(db, |f| {
        f.audit = Some(certbound::audit::AuditConfig {
            queue_capacity: 500,
            ..Default::default()
        });
    })
    .await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let http = env.http(Some(&env.issue("tpp1")));
    assert_eq!(env.token(&http, "tpp1", &[]).await.0, 200);
    let audit = env.server().state.audit.clone();
    assert!(audit.settled(Duration::from_secs(10)).await);
    let before = audit.stats();

    let mut lock = sqlx::AnyConnection::connect(&env.database_url).await.unwrap();
    match db {
        Db::Sqlite => lock.execute("BEGIN IMMEDIATE").await.unwrap(),
        Db::Postgres => {
            lock.execute("BEGIN").await.unwrap();
            lock.execute("LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE")
                .await
                .unwrap()
        }
    };
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        lock.execute("COMMIT").await.unwrap();
        lock
    });
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..WORKERS {
        let (http, url) = (http.clone(), env.url("/token"));
        workers.spawn(async move {
            let mut issued = 0;
            for _ in 0..REQUESTS / WORKERS {
                let form = [("grant_type", "client_credentials"), ("client_id", "tpp1")];
                let response = http.post(&url).form(&form).send().await.unwrap();
                issued += usize::from(response.status() == 200);
            }
            issued
        });
    }
    let mut issued = 0;
    while let Some(n) = workers.join_next().await {
        issued += n.unwrap();
    }
    assert_eq!(issued, REQUESTS, "every token issued");
    release.await.unwrap().close().await.unwrap();

    assert!(audit.settled(Duration::from_secs(60)).await, "{:?}", audit.stats());
    let after = audit.stats();
    let recorded = after.recorded - before.recorded;
    let (written, dropped, failed) = (
        after.written - before.written,
        after.dropped - before.dropped,
        after.failed - before.failed,
    );
    assert_eq!(recorded, REQUESTS as u64, "one event per request");
    assert_eq!(written + dropped + failed, recorded, "{after:?}");
    assert!(dropped > 0, "the stalled writer made the queue overflow: {after:?}");
    let rows = env
        .store
        .audit_events(&AuditFilter::default(), 1_000_000)
        .await
        .unwrap()
        .len() as u64;
    assert_eq!(rows, before.written + written, "every written event is a row");
    env.finish().await;
}
