//! Stored pins that cannot be read fail closed, over real mutual TLS: a client whose
//! issuer-and-serial pin is unreadable gets no token, and an API key whose certificate
//! thumbprint is unreadable works over no certificate. Neither can be written in the first place.

mod common;

use certbound::domain::IssuerSerial;
use certbound::pki::Thumbprint;
use certbound::store::StoreError;
use common::{Db, TestEnv};

on_both_databases!(unreadable_pins_match_nothing);

/// Rewrites a stored column behind the store's back, as a corrupt row or a bad migration would,
/// and tells every node that `revision` changed.
async fn corrupt(env: &TestEnv, sql: &str, value: &str, revision: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&env.database_url).await.unwrap();
    sqlx::query(sql).bind(value).execute(&pool).await.unwrap();
    sqlx::query("UPDATE revisions SET value = value + 1 WHERE name = $1")
        .bind(revision)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    // The reload interval in tests is 100 ms.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
}

async fn unreadable_pins_match_nothing(db: Db) {
    let env = TestEnv::start_with(db, |f| f.demo_bank = Some(true)).await;
    let cert = env.issue("tpp1");
    let tpp = env.http(Some(&cert));

    // A client pinned by issuer and serial: a pin that does not decode is refused at write time.
    let mut client = common::pki_client(
        "tpp1",
        certbound::domain::SubjectMatcher::Dn(certbound::pki::DistinguishedName::parse("CN=tpp1").unwrap()),
        "accounts",
    );
    client.issuer_serial_pins = vec![IssuerSerial {
        issuer: "CN=certbound dev CA".into(),
        serial: "not hex".into(),
    }];
    let refused = env.store.insert_client(&client).await;
    assert!(matches!(refused, Err(StoreError::Invalid(_))), "{refused:?}");
    client.issuer_serial_pins = vec![IssuerSerial {
        issuer: "CN=someone else".into(),
        serial: "01".into(),
    }];
    env.store.insert_client(&client).await.unwrap();
    assert_eq!(env.token(&tpp, "tpp1", &[]).await.0, 401, "the pin does not match");
    // Stored unreadable: it matches nothing, and the pin requirement stays.
    corrupt(
        &env,
        "UPDATE clients SET issuer_serial_pins = $1 WHERE client_id = 'tpp1'",
        r#"[{"issuer":"CN=x","serial":"zz"}]"#,
        "clients",
    )
    .await;
    let (status, body) = env.token(&tpp, "tpp1", &[]).await;
    common::assert_invalid_client(status, &body);

    // An API key bound to the certificate works with it, then not once its thumbprint is
    // unreadable; an unreadable thumbprint cannot be written either.
    env.register_pki_client("tpp2", "tpp2", "accounts").await;
    let cert2 = env.issue("tpp2");
    let tpp2 = env.http(Some(&cert2));
    let thumbprint = Thumbprint::of_der(common::chain_of(&cert2)[0].as_ref());
    let mut bad = certbound::rs::api_keys::issue("tpp2", &[thumbprint]);
    bad.row.cert_thumbprints = vec!["not-a-thumbprint".into()];
    let refused = env.store.insert_api_key(&bad.row, None).await;
    assert!(matches!(refused, Err(StoreError::Invalid(_))), "{refused:?}");
    let issued = certbound::rs::api_keys::issue("tpp2", &[thumbprint]);
    env.store.insert_api_key(&issued.row, None).await.unwrap();
    let (_, body) = env.token(&tpp2, "tpp2", &[]).await;
    let token = body["access_token"].as_str().unwrap().to_string();
    let call = |http: reqwest::Client| {
        let (url, token, key) = (env.url("/bank/v1/accounts"), token.clone(), issued.key.clone());
        async move { common::keyed_get(&http, &url, &token, &key).await }
    };
    assert_eq!(call(tpp2.clone()).await, 200);
    corrupt(
        &env,
        "UPDATE api_keys SET cert_thumbprints = $1 WHERE client_id = 'tpp2'",
        r#"["not-a-thumbprint"]"#,
        "api_keys",
    )
    .await;
    assert_eq!(
        call(env.http(Some(&cert2))).await,
        401,
        "an unreadable binding matches nothing"
    );
    env.finish().await;
}
