//! The store's guarantees for consents, which hold even when the pages' own checks are raced
//! (two tabs, two processes): a consent is authorised by one approval only, never once expired,
//! and an approval that cannot authorise it writes nothing.

mod common;

use certbound::domain::{Consent, ConsentStatus, Grant, Permission};
use certbound::store::consents::Revoked;
use certbound::store::grants::{Approval, CodeRow};
use certbound::store::interactions::InteractionRow;
use certbound::store::Store;
use common::Db;

on_both_databases!(
    a_consent_is_authorised_by_one_approval_only,
    a_read_then_write_transaction_waits_out_a_concurrent_writer
);

fn consent(id: &str, expires_at: Option<i64>) -> Consent {
    let now = certbound::now();
    Consent {
        id: id.into(),
        client_id: "tpp1".into(),
        permissions: vec![Permission::ReadBalances],
        expires_at,
        transaction_from: None,
        transaction_to: None,
        status: ConsentStatus::AwaitingAuthorisation,
        created_at: now,
        status_updated_at: now,
        customer_id: None,
        accounts: vec![],
        grant_id: None,
    }
}

/// An open interaction and the grant with code its approval would write.
async fn pending(store: &Store, n: u32) -> (String, Grant, CodeRow) {
    let now = certbound::now();
    let id = format!("interaction-{n}-{}", certbound::jose::random_id());
    store
        .insert_interaction(&InteractionRow {
            id: id.clone(),
            session_hash: "h".into(),
            csrf_token: "c".into(),
            client_id: "tpp1".into(),
            request: "{}".into(),
            customer_id: Some("cus_1".into()),
            auth_time: Some(now),
            expires_at: now + 600,
            completed_at: None,
        })
        .await
        .unwrap();
    let grant = Grant {
        id: format!("grt_{}", certbound::jose::random_id()),
        customer_id: "cus_1".into(),
        client_id: "tpp1".into(),
        scopes: vec!["accounts".into()],
        accounts: vec!["22289".into()],
        details: vec![],
        audience: vec![],
        auth_time: now,
        created_at: now,
        expires_at: now + 3600,
        redeemed_at: None,
        revoked_at: None,
        dpop_jkt: None,
    };
    let code = CodeRow {
        code_hash: certbound::jose::random_id(),
        redirect_uri: "https://tpp.example/cb".into(),
        code_challenge: "x".repeat(43),
        nonce: None,
        expires_at: now + 60,
    };
    (id, grant, code)
}

/// Revoking a consent reads, then writes, in one transaction; the audit writer commits batches
/// all the while. On SQLite a deferred transaction failed at once ("database is locked") when
/// another write committed between its read and its write; transactions now take the write
/// lock when they begin, and wait it out.
async fn a_read_then_write_transaction_waits_out_a_concurrent_writer(db: Db) {
    let env = common::TestEnv::start(db).await;
    let store = env.store.clone();
    store.insert_consent(&consent("aac-race", None)).await.unwrap();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for n in 0..300 {
                let event = certbound::domain::AuditEvent {
                    id: 0,
                    at: n,
                    kind: certbound::domain::AuditKind::Token,
                    outcome: certbound::domain::AuditOutcome::Success,
                    failed_check: None,
                    endpoint: "/token".into(),
                    client_id: None,
                    certificate: None,
                    certificate_source: None,
                    peer: None,
                    listener: None,
                    actor: None,
                    grant_type: None,
                    status: None,
                    detail: None,
                };
                store.append_audit_events(&[event]).await.unwrap();
            }
        })
    };
    let mut failures = Vec::new();
    for _ in 0..300 {
        if let Err(e) = store.revoke_consent("aac-race", "tpp1", certbound::now()).await {
            failures.push(e.to_string());
        }
    }
    writer.await.unwrap();
    assert!(
        failures.is_empty(),
        "{} of 300 failed: {:?}",
        failures.len(),
        failures.first()
    );
    env.finish().await;
}

async fn a_consent_is_authorised_by_one_approval_only(db: Db) {
    let env = common::TestEnv::start(db).await;
    let store = &env.store;
    let now = certbound::now();
    store.insert_consent(&consent("aac-1", None)).await.unwrap();
    let (first, grant1, code1) = pending(store, 1).await;
    let (second, grant2, code2) = pending(store, 2).await;
    let approve = |id: &str, grant: &Grant, code: &CodeRow, consent: &str| {
        let (id, grant, code, consent) = (id.to_string(), grant.clone(), code.clone(), consent.to_string());
        async move {
            store
                .approve_interaction(&id, now, &grant, &code, Some(&consent))
                .await
                .unwrap()
        }
    };
    assert_eq!(approve(&first, &grant1, &code1, "aac-1").await, Approval::Approved);
    assert_eq!(
        approve(&second, &grant2, &code2, "aac-1").await,
        Approval::ConsentUnavailable
    );
    assert!(store.grant(&grant2.id).await.unwrap().is_none(), "nothing written");
    assert!(store
        .interaction(&second)
        .await
        .unwrap()
        .unwrap()
        .completed_at
        .is_none());
    let authorised = store.consent("aac-1").await.unwrap().unwrap();
    assert_eq!(authorised.status, ConsentStatus::Authorised);
    assert_eq!(authorised.grant_id.as_deref(), Some(grant1.id.as_str()));
    assert_eq!(authorised.accounts, vec!["22289".to_string()]);

    // Expired before the approval: not authorised, nothing written.
    store.insert_consent(&consent("aac-2", Some(now - 1))).await.unwrap();
    assert_eq!(
        approve(&second, &grant2, &code2, "aac-2").await,
        Approval::ConsentUnavailable
    );
    // Another client's consent cannot be authorised through this client's interaction.
    let foreign = Consent {
        client_id: "tpp2".into(),
        ..consent("aac-3", None)
    };
    store.insert_consent(&foreign).await.unwrap();
    assert_eq!(
        approve(&second, &grant2, &code2, "aac-3").await,
        Approval::ConsentUnavailable
    );

    // Withdrawal revokes the grant; another client cannot withdraw it.
    assert_eq!(
        store.revoke_consent("aac-1", "tpp2", now).await.unwrap(),
        Revoked::NotFound
    );
    assert_eq!(store.revoke_consent("aac-1", "tpp1", now).await.unwrap(), Revoked::Done);
    assert!(store.grant(&grant1.id).await.unwrap().unwrap().revoked_at.is_some());
    assert_eq!(
        store.consent("aac-1").await.unwrap().unwrap().status,
        ConsentStatus::Revoked
    );
    env.finish().await;
}
