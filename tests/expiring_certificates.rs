//! Certificates expiring soon, on SQLite and PostgreSQL: a self-signed client's registered
//! certificate and the certificate a client last authenticated with are listed by expiry in the
//! console (in Chromium), filter the clients list, and are counted on /metrics; a certificate
//! far from expiry is not.

mod common;

use certbound::domain::{AuthMethod, SubjectMatcher};
use certbound::pki::dev::{self_signed, CertSpec};
use certbound::pki::DistinguishedName;
use common::admin::{signed_in_with, OPS};
use common::chromium::{screenshot, text_of};
use common::Db;

async fn expiring(db: Db) {
    let (env, _held, browser, shot) = signed_in_with(db, OPS, |f| {
        f.metrics_listen = Some("127.0.0.1:0".into());
    })
    .await;
    // Registered: a self-signed certificate that expires in 10 days.
    let registered = self_signed(&CertSpec::client("device-tpp", 10)).unwrap();
    let mut device = common::pki_client(
        "device",
        SubjectMatcher::Dn(DistinguishedName::parse("CN=x").unwrap()),
        "accounts",
    );
    device.auth_method = AuthMethod::SelfSignedTlsClientAuth;
    device.subject = None;
    device.jwks = Some(
        certbound::domain::client::jwks_from_pem_certificates(&[registered.cert_pem.clone().into_bytes()]).unwrap(),
    );
    env.store.insert_client(&device).await.unwrap();
    // Last seen: certificates from the CA expiring in 5 and in 90 days, each used for a token.
    for (id, days) in [("soon", 5), ("later", 90)] {
        env.register_pki_client(id, id, "accounts").await;
        let cert = env.ca.issue(&CertSpec::client(id, days)).unwrap();
        let (status, body) = env.token(&env.http(Some(&cert)), id, &[]).await;
        assert_eq!(status, 200, "{body}");
    }
    assert!(
        env.server()
            .state
            .audit
            .settled(std::time::Duration::from_secs(5))
            .await
    );

    let metrics = common::scrape_metrics(env.server().metrics_addr.unwrap()).await;
    assert!(
        metrics.contains("certbound_client_certificates_expiring{within_days=\"30\"} 2\n"),
        "{metrics}"
    );

    browser.goto(&env.front_url("/admin/certificates")).await.unwrap();
    let table = text_of(&browser, "table.expiring tbody").await;
    let (soon, device_at) = (table.find("soon").unwrap(), table.find("device").unwrap());
    assert!(soon < device_at, "soonest first: {table}");
    assert!(table.contains("last seen") && table.contains("registered") && table.contains("CN=device-tpp"));
    assert!(!table.contains("later"), "{table}");
    screenshot(&browser, &shot("expiring")).await;

    browser
        .goto(&env.front_url("/admin/certificates?days=100"))
        .await
        .unwrap();
    assert!(text_of(&browser, "table.expiring tbody").await.contains("later"));

    browser
        .goto(&env.front_url("/admin/clients?expiring=30"))
        .await
        .unwrap();
    let clients = text_of(&browser, "table.list tbody").await;
    assert!(
        clients.contains("soon") && clients.contains("device") && !clients.contains("later"),
        "{clients}"
    );

    // The client page shows when the certificate last seen expires.
    browser.goto(&env.front_url("/admin/clients/soon")).await.unwrap();
    assert!(text_of(&browser, "dl.facts + h2 + dl.facts").await.contains("expires"));
    browser.close().await.unwrap();
}

on_both_databases!(expiring);
