//! The audit trail's tables, through the store: rows appended in batches and read back as
//! written, filters, export pages, retention (with the certificates, spans and latest rows it
//! leaves nothing pointing at), a refused batch writing nothing, and one client's rows found
//! through its spans across pages.

mod common;

use std::sync::Arc;

use certbound::domain::{AuditEvent, AuditKind, AuditOutcome, AuditedCertificate, CertificateSource};
use certbound::store::audit::AuditFilter;
use common::{Db, TestEnv};
use sqlx::{Connection, Executor};

on_both_databases!(
    rows_are_appended_in_batches_and_removed_only_by_retention,
    a_clients_rows_are_found_through_its_spans_across_pages
);

/// `event` as it was recorded: its sequence number is the database's.
fn unwritten(event: &AuditEvent) -> AuditEvent {
    AuditEvent { id: 0, ..event.clone() }
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
