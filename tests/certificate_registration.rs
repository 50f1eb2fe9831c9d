//! Self-signed clients, CA pins by key, and exact-certificate pins (RFC 8705 §2.1, §2.2).

mod common;

use certbound::config::FileConfig;
use certbound::domain::client::jwks_from_pem_certificates;
use certbound::domain::{AuthMethod, IssuerSerial, SubjectMatcher};
use certbound::pki::dev::{self, Authority, CertSpec, NameAttribute};
use certbound::pki::{DistinguishedName, SpkiPin, Thumbprint};
use common::{assert_invalid_client, pki_client, Db, TestEnv};

on_both_databases!(
    self_signed_certificate_must_be_registered,
    ca_pinned_by_key_is_not_confused_with_a_same_named_ca,
    certificate_pins_accept_only_the_exact_certificate,
);

fn self_signed_client(id: &str, pems: &[&str]) -> certbound::domain::Client {
    let mut client = pki_client(id, SubjectMatcher::SanDns("unused".into()), "accounts");
    client.auth_method = AuthMethod::SelfSignedTlsClientAuth;
    client.subject = None;
    let pems: Vec<Vec<u8>> = pems.iter().map(|p| p.as_bytes().to_vec()).collect();
    client.jwks = Some(jwks_from_pem_certificates(&pems).unwrap());
    client
}

async fn self_signed_certificate_must_be_registered(db: Db) {
    let env = TestEnv::start(db).await;
    let current = dev::self_signed(&CertSpec::client("tpp-self", 30)).unwrap();
    let next = dev::self_signed(&CertSpec::client("tpp-self", 60)).unwrap();
    let stranger = dev::self_signed(&CertSpec::client("tpp-self", 30)).unwrap();
    // Two certificates registered at once, as during a rotation.
    env.store
        .insert_client(&self_signed_client("selfie", &[&current.cert_pem, &next.cert_pem]))
        .await
        .unwrap();
    for cert in [&current, &next] {
        let (status, body) = env.token(&env.http(Some(cert)), "selfie", &[]).await;
        assert_eq!(status, 200, "{body}");
        let claims = common::jwt_payload(body["access_token"].as_str().unwrap());
        assert_eq!(claims["cnf"]["x5t#S256"], common::x5t_s256(cert));
    }
    // Same subject, different key: not registered.
    let (status, body) = env.token(&env.http(Some(&stranger)), "selfie", &[]).await;
    assert_invalid_client(status, &body);
    // A CA-issued certificate is not a registered self-signed one either.
    let (status, body) = env.token(&env.http(Some(&env.issue("tpp-self"))), "selfie", &[]).await;
    assert_invalid_client(status, &body);
    // An expired registered certificate is refused.
    let now = certbound::now();
    let old = dev::self_signed(&CertSpec {
        not_before: now - 7200,
        not_after: now - 10,
        ..CertSpec::client("old", 1)
    })
    .unwrap();
    env.store
        .insert_client(&self_signed_client("old", &[&old.cert_pem]))
        .await
        .unwrap();
    let (status, body) = env.token(&env.http(Some(&old)), "old", &[]).await;
    assert_invalid_client(status, &body);
    env.finish().await;
}

async fn ca_pinned_by_key_is_not_confused_with_a_same_named_ca(db: Db) {
    // Two trusted CAs with the same DN (the impersonation hole of DN-string pinning).
    let same_dn = || {
        vec![
            (NameAttribute::OrganizationName, "Open Banking".to_string()),
            (NameAttribute::CommonName, "Issuing CA".to_string()),
        ]
    };
    let ca_one = Authority::generate(same_dn()).unwrap();
    let ca_two = Authority::generate(same_dn()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("extra-cas.pem");
    std::fs::write(&bundle, format!("{}{}", ca_one.cert_pem(), ca_two.cert_pem())).unwrap();
    let env = TestEnv::start_with(db, |f: &mut FileConfig| f.trust_anchors = Some(vec![bundle.clone()])).await;

    let pin =
        SpkiPin::of_certificate(certbound::pki::certs_from_pem(ca_one.cert_pem().as_bytes()).unwrap()[0].as_ref())
            .unwrap();
    let mut client = pki_client(
        "pinned",
        SubjectMatcher::Dn(DistinguishedName::parse("CN=tpp").unwrap()),
        "accounts",
    );
    client.ca_pins = vec![pin];
    env.store.insert_client(&client).await.unwrap();
    env.register_pki_client("unpinned", "tpp", "accounts").await;

    let from_one = ca_one.issue(&CertSpec::client("tpp", 30)).unwrap();
    let from_two = ca_two.issue(&CertSpec::client("tpp", 30)).unwrap();
    let (status, body) = env.token(&env.http(Some(&from_one)), "pinned", &[]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = env.token(&env.http(Some(&from_two)), "pinned", &[]).await;
    assert_invalid_client(status, &body);
    // Without a pin, both trusted CAs are fine.
    let (status, _) = env.token(&env.http(Some(&from_two)), "unpinned", &[]).await;
    assert_eq!(status, 200);
    env.finish().await;
}

async fn certificate_pins_accept_only_the_exact_certificate(db: Db) {
    let env = TestEnv::start(db).await;
    let expected = env.issue("tpp");
    let other_same_subject = env.issue("tpp");

    let mut by_thumbprint = pki_client(
        "by-thumbprint",
        SubjectMatcher::Dn(DistinguishedName::parse("CN=tpp").unwrap()),
        "accounts",
    );
    by_thumbprint.cert_pins = vec![Thumbprint::of_der(common::chain_of(&expected)[0].as_ref())];
    env.store.insert_client(&by_thumbprint).await.unwrap();

    let parsed = certbound::pki::ClientCertificate::from_chain(common::chain_of(&expected)).unwrap();
    let serial_hex: String = parsed.serial().iter().map(|b| format!("{b:02X}")).collect();
    let pin = IssuerSerial::parse(&format!("{serial_hex}:CN=certbound dev CA, O=certbound development")).unwrap();
    let mut by_serial = pki_client(
        "by-serial",
        SubjectMatcher::Dn(DistinguishedName::parse("CN=tpp").unwrap()),
        "accounts",
    );
    by_serial.issuer_serial_pins = vec![pin];
    env.store.insert_client(&by_serial).await.unwrap();

    for id in ["by-thumbprint", "by-serial"] {
        let (status, body) = env.token(&env.http(Some(&expected)), id, &[]).await;
        assert_eq!(status, 200, "{id}: {body}");
        let (status, body) = env.token(&env.http(Some(&other_same_subject)), id, &[]).await;
        assert_invalid_client(status, &body);
    }
    env.finish().await;
}
