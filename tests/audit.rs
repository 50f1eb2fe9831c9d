//! The audit trail over real mTLS: each way client authentication fails leaves a row naming
//! its check, with the certificate, where it came from, the peer and the listener; a token
//! issued leaves its grant type; and a burst against a stalled writer issues every token and
//! accounts for every event as written or dropped.

mod common;

use std::sync::Arc;
use std::time::Duration;

use certbound::domain::{AuditEvent, AuditKind, AuditOutcome, AuditedCertificate, CertificateSource};
use certbound::pki::dev::{self_signed, CertSpec};
use certbound::store::audit::AuditFilter;
use certbound::tls::forwarded::{encode, ForwardFormat};
use common::{Db, TestEnv};
use sqlx::{Connection, Executor};

on_both_databases!(
    rows_are_appended_in_batches_and_removed_only_by_retention,
    each_failed_check_leaves_a_row_naming_it,
    a_burst_against_a_stalled_writer_issues_every_token_and_accounts_for_every_event,
    a_clients_rows_are_found_through_its_spans_across_pages
);

/// `event` as it was recorded: its sequence number is the database's.
fn unwritten(event: &AuditEvent) -> AuditEvent {
    AuditEvent { id: 0, ..event.clone() }
}

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

async fn rows_are_appended_in_batches_and_removed_only_by_retention(db: Db) {
    // The server's own retention would race this test's rows from 1973 away.
    let env = TestEnv::start_with(db, |f| {
        f.audit = Some(certbound::audit::AuditConfig {
            retention_days: 1_000_000,
            ..Default::default()
        });
    })
    .await;
    let certificate = |name: &str| {
        Arc::new(AuditedCertificate {
            subject: format!("CN={name},O=Example\\, Inc."),
            issuer: "CN=Issuing CA".into(),
            serial: "01ab".into(),
            thumbprint: format!("x5t-{name}"),
            not_after: Some(2_000_000_000),
        })
    };
    let (old_only, shared) = (certificate("old"), certificate("shared"));
    let event = |n: usize, at: i64| AuditEvent {
        id: 0,
        at,
        kind: AuditKind::Admin,
        outcome: AuditOutcome::Success,
        failed_check: None,
        endpoint: "client update".into(),
        client_id: Some(format!("c{n}")),
        certificate: None,
        certificate_source: None,
        peer: None,
        listener: None,
        actor: Some("admin".into()),
        grant_type: None,
        status: None,
        detail: Some(serde_json::json!({ "before": { "n": n }, "after": "it's \"quoted\" <b>" })),
    };
    let token = |n: usize, at: i64, cert: &Arc<AuditedCertificate>| AuditEvent {
        kind: AuditKind::Token,
        outcome: AuditOutcome::Failure,
        failed_check: Some("invalid_scope".into()),
        endpoint: "/token".into(),
        certificate: Some(cert.clone()),
        certificate_source: Some(CertificateSource::Handshake),
        peer: Some("127.0.0.1".into()),
        listener: Some("127.0.0.1:8443".into()),
        actor: None,
        grant_type: Some("client_credentials".into()),
        status: Some(400),
        detail: Some(serde_json::json!({ "reason": "no" })),
        ..event(n, at)
    };
    const OLD: i64 = 100_000_000_000;
    const RECENT: i64 = 2_000_000_000_000;
    let mut old: Vec<_> = (0..120).map(|n| event(n, OLD + n as i64)).collect();
    old[7] = token(7, OLD + 7, &old_only);
    old[8] = token(8, OLD + 8, &shared);
    let mut recent: Vec<_> = (120..130).map(|n| event(n, RECENT + n as i64)).collect();
    recent[3] = token(123, RECENT + 123, &shared);
    recent[9] = token(129, RECENT + 129, &shared);
    env.store.append_audit_events(&old).await.unwrap();
    env.store.append_audit_events(&recent).await.unwrap();
    let all = env.store.audit_events(&AuditFilter::default(), 1_000).await.unwrap();
    assert_eq!(all.len(), 130);
    assert_eq!(unwritten(&all[0]), recent[9], "newest first, read back as written");
    assert_eq!(unwritten(&all[6]), recent[3]);
    assert_eq!(unwritten(&all[129 - 7]), old[7]);
    assert!(
        all.windows(2).all(|w| w[0].id > w[1].id),
        "sequence numbers in writing order"
    );
    let window = AuditFilter {
        since: Some(OLD + 7),
        until: Some(OLD + 9),
        ..AuditFilter::default()
    };
    let between = env.store.audit_events(&window, 1_000).await.unwrap();
    assert_eq!(
        between.iter().map(unwritten).collect::<Vec<_>>(),
        vec![old[8].clone(), old[7].clone()]
    );
    let exported = env
        .store
        .audit_events_after(RECENT, Some(all[7].id), 1_000)
        .await
        .unwrap();
    assert_eq!(exported.iter().map(unwritten).collect::<Vec<_>>(), recent[3..].to_vec());

    assert_eq!(env.store.purge_audit_events_before(RECENT).await.unwrap(), 120);
    let left = env.store.audit_events(&AuditFilter::default(), 1_000).await.unwrap();
    assert_eq!(left.len(), 10);
    assert_eq!(
        unwritten(&left[0]),
        recent[9],
        "a certificate named by a remaining row is kept"
    );
    let mut conn = sqlx::AnyConnection::connect(&env.database_url).await.unwrap();
    let kept: Vec<String> = sqlx::query_scalar("SELECT thumbprint FROM audit_certificates")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        kept,
        vec![shared.thumbprint.clone()],
        "only rows removed named the other"
    );
    // A batch the database refuses a row of is refused whole: nothing of it is written, its
    // client spans neither.
    refuse_endpoint(&mut conn, db, "refused").await;
    conn.close().await.unwrap();
    let refused = AuditEvent {
        endpoint: "refused".into(),
        client_id: Some("c-refused".into()),
        ..event(201, 3_000_000_000_001)
    };
    let batch = vec![
        AuditEvent {
            client_id: Some("c-refused".into()),
            ..event(200, 3_000_000_000_000)
        },
        refused,
    ];
    assert!(env.store.append_audit_events(&batch).await.is_err());
    assert_eq!(
        env.store
            .audit_events(&AuditFilter::default(), 1_000)
            .await
            .unwrap()
            .len(),
        10
    );
    let of_client = AuditFilter {
        client_id: Some("c-refused".into()),
        ..AuditFilter::default()
    };
    assert!(env.store.audit_events(&of_client, 10).await.unwrap().is_empty());
    env.finish().await;
}

/// A trigger that makes the database refuse a row with this endpoint.
async fn refuse_endpoint(conn: &mut sqlx::AnyConnection, db: Db, endpoint: &str) {
    let statements = match db {
        Db::Sqlite => vec![format!(
            "CREATE TRIGGER refuse BEFORE INSERT ON audit_events WHEN NEW.endpoint = '{endpoint}' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )],
        Db::Postgres => vec![
            format!(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.endpoint = '{endpoint}' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"
            ),
            "CREATE TRIGGER refuse BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse()".into(),
        ],
    };
    for sql in statements {
        conn.execute(sql.as_str()).await.unwrap();
    }
}

/// A client's rows are found through its spans, one per batch, read a page of 512 at a time:
/// 600 batches, each with rows of other clients around the client's.
async fn a_clients_rows_are_found_through_its_spans_across_pages(db: Db) {
    // The server's own retention would race this test's rows from 2023 away.
    let env = TestEnv::start_with(db, |f| {
        f.audit = Some(certbound::audit::AuditConfig {
            retention_days: 1_000_000,
            ..Default::default()
        });
    })
    .await;
    let event = |client: &str, at: i64| AuditEvent {
        id: 0,
        at,
        kind: AuditKind::ClientAuthentication,
        outcome: if at % 3 == 0 {
            AuditOutcome::Failure
        } else {
            AuditOutcome::Success
        },
        failed_check: (at % 3 == 0).then(|| "client_known".to_string()),
        endpoint: "/par".into(),
        client_id: Some(client.into()),
        certificate: None,
        certificate_source: None,
        peer: None,
        listener: None,
        actor: None,
        grant_type: None,
        status: None,
        detail: None,
    };
    const AT: i64 = 1_700_000_000_000;
    for n in 0..600 {
        let at = AT + n;
        let batch = vec![event("other", at), event("many", at), event("other", at)];
        env.store.append_audit_events(&batch).await.unwrap();
    }
    let of = |client: &str| AuditFilter {
        client_id: Some(client.into()),
        ..AuditFilter::default()
    };
    let all = env.store.audit_events(&of("many"), 1_000).await.unwrap();
    assert_eq!(all.len(), 600);
    assert!(all.iter().all(|e| e.client_id.as_deref() == Some("many")));
    let ats: Vec<i64> = all.iter().map(|e| e.at).collect();
    assert_eq!(
        ats,
        (0..600).rev().map(|n| AT + n).collect::<Vec<_>>(),
        "newest first, none twice"
    );
    assert_eq!(env.store.audit_events(&of("many"), 550).await.unwrap().len(), 550);
    assert_eq!(env.store.audit_events(&of("other"), 2_000).await.unwrap().len(), 1_200);
    assert!(env.store.audit_events(&of("none"), 10).await.unwrap().is_empty());
    let failures_in_window = AuditFilter {
        outcome: Some(AuditOutcome::Failure),
        since: Some(AT + 30),
        until: Some(AT + 60),
        ..of("many")
    };
    let found = env.store.audit_events(&failures_in_window, 100).await.unwrap();
    assert_eq!(
        found.iter().map(|e| e.at).collect::<Vec<_>>(),
        (30..60)
            .rev()
            .map(|n| AT + n)
            .filter(|at| at % 3 == 0)
            .collect::<Vec<_>>()
    );

    // The latest authentication by outcome, in one lookup; an administrative change naming the
    // client after it does not count.
    let change = AuditEvent {
        kind: AuditKind::Admin,
        outcome: AuditOutcome::Success,
        failed_check: None,
        ..event("many", AT + 1_000)
    };
    env.store.append_audit_events(&[change]).await.unwrap();
    let latest = |outcome| env.store.latest_authentication("many", outcome);
    let last_at = |failed: bool| (0..600).rev().map(|n| AT + n).find(|at| (at % 3 == 0) == failed);
    assert_eq!(
        latest(AuditOutcome::Failure).await.unwrap().map(|e| e.at),
        last_at(true)
    );
    let success = latest(AuditOutcome::Success).await.unwrap().unwrap();
    assert_eq!(
        (success.at, success.kind),
        (last_at(false).unwrap(), AuditKind::ClientAuthentication)
    );
    assert_eq!(
        env.store
            .latest_authentication("none", AuditOutcome::Success)
            .await
            .unwrap(),
        None
    );
    // Retention takes the spans and latest rows of what it removed.
    env.store.purge_audit_events_before(AT + 2_000).await.unwrap();
    assert!(env.store.audit_events(&of("many"), 10).await.unwrap().is_empty());
    assert_eq!(latest(AuditOutcome::Failure).await.unwrap(), None);
    let mut conn = sqlx::AnyConnection::connect(&env.database_url).await.unwrap();
    for table in ["audit_client_spans", "audit_client_latest"] {
        let left: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, 0, "{table}");
    }
    conn.close().await.unwrap();
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
