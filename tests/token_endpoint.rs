//! The token endpoint over real mutual TLS: who gets a token, what it says, and who does not.

mod common;

use certbound::domain::SubjectMatcher;
use certbound::pki::dev::{Authority, CertSpec, NameAttribute};
use certbound::pki::DistinguishedName;
use common::{assert_invalid_client, jwt_payload, pki_client, x5t_s256, Db, TestEnv};
use serde_json::Value;

on_both_databases!(
    token_is_bound_to_the_presented_certificate,
    token_verifies_against_the_published_jwks,
    no_certificate_is_invalid_client,
    certificate_from_another_ca_is_invalid_client,
    expired_and_not_yet_valid_certificates_are_invalid_client,
    another_clients_certificate_is_invalid_client,
    subject_dn_differing_in_one_rdn_is_invalid_client,
    san_forms_match_exactly,
    certificate_without_client_auth_eku_is_invalid_client,
    intermediate_chains_validate_only_when_presented,
    unknown_and_disabled_clients_are_invalid_client,
    scopes_are_a_subset_of_the_clients,
    resource_indicators_set_the_audience,
    grant_type_errors,
    unbound_clients_get_tokens_without_cnf,
);

async fn token_is_bound_to_the_presented_certificate(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts payments").await;
    let cert = env.issue("tpp1");
    let http = env.http(Some(&cert));

    let response = http
        .post(env.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "tpp1"),
            ("scope", "accounts"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], "accounts");

    let claims = jwt_payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["x5t#S256"], x5t_s256(&cert));
    assert_eq!(claims["iss"], env.issuer());
    assert_eq!(claims["sub"], "tpp1");
    assert_eq!(claims["client_id"], "tpp1");
    assert_eq!(claims["aud"], env.issuer());
    assert_eq!(claims["scope"], "accounts");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 300);
    assert!(claims["jti"].as_str().unwrap().len() >= 22);

    // A second token has a fresh jti; without `scope` the client's registered scopes are granted.
    let (status, again) = env.token(&http, "tpp1", &[]).await;
    assert_eq!(status, 200);
    let again = jwt_payload(again["access_token"].as_str().unwrap());
    assert_ne!(again["jti"], claims["jti"]);
    assert_eq!(again["scope"], "accounts payments");
    env.finish().await;
}

async fn token_verifies_against_the_published_jwks(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let http = env.http(Some(&env.issue("tpp1")));
    let (_, body) = env.token(&http, "tpp1", &[]).await;
    let token = body["access_token"].as_str().unwrap();

    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let claims = env
        .verify_with_jwks(token, header.alg)
        .await
        .expect("signature verifies");
    assert_eq!(claims["client_id"], "tpp1");

    // A flipped character in the signature must not verify.
    let mut tampered = token.to_string();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert!(env.verify_with_jwks(&tampered, header.alg).await.is_err());
    env.finish().await;
}

async fn no_certificate_is_invalid_client(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let response = env
        .http(None)
        .post(env.url("/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", "tpp1")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    env.finish().await;
}

async fn certificate_from_another_ca_is_invalid_client(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let rogue = Authority::generate(vec![(NameAttribute::CommonName, "certbound dev CA".into())]).unwrap();
    let forged = rogue.issue(&CertSpec::client("tpp1", 30)).unwrap();
    let (status, body) = env.token(&env.http(Some(&forged)), "tpp1", &[]).await;
    assert_invalid_client(status, &body);
    env.finish().await;
}

async fn expired_and_not_yet_valid_certificates_are_invalid_client(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let now = certbound::now();
    let expired = env
        .ca
        .issue(&CertSpec {
            not_before: now - 7200,
            not_after: now - 60,
            ..CertSpec::client("tpp1", 1)
        })
        .unwrap();
    let future = env
        .ca
        .issue(&CertSpec {
            not_before: now + 3600,
            not_after: now + 7200,
            ..CertSpec::client("tpp1", 1)
        })
        .unwrap();
    for cert in [&expired, &future] {
        let (status, body) = env.token(&env.http(Some(cert)), "tpp1", &[]).await;
        assert_invalid_client(status, &body);
    }
    env.finish().await;
}

async fn another_clients_certificate_is_invalid_client(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    env.register_pki_client("tpp2", "tpp2", "accounts").await;
    let tpp2 = env.http(Some(&env.issue("tpp2")));
    let (status, body) = env.token(&tpp2, "tpp1", &[]).await;
    assert_invalid_client(status, &body);
    let (status, _) = env.token(&tpp2, "tpp2", &[]).await;
    assert_eq!(status, 200, "the certificate is fine for its own client");
    env.finish().await;
}

fn cert_with_subject(env: &TestEnv, rdns: &[(NameAttribute, &str)]) -> certbound::pki::dev::IssuedCert {
    let spec = CertSpec {
        subject: rdns.iter().map(|(t, v)| (t.clone(), v.to_string())).collect(),
        ..CertSpec::client("unused", 30)
    };
    env.ca.issue(&spec).unwrap()
}

async fn subject_dn_differing_in_one_rdn_is_invalid_client(db: Db) {
    let env = TestEnv::start(db).await;
    // Registered in a different case and spacing than the certificate carries: still a match.
    let dn = DistinguishedName::parse("cn=TPP Ltd,  ou=payments, o=Example Bank\\, plc, c=gb").unwrap();
    env.store
        .insert_client(&pki_client("tpp", SubjectMatcher::Dn(dn), "accounts"))
        .await
        .unwrap();
    use NameAttribute::*;
    let right = cert_with_subject(
        &env,
        &[
            (CountryName, "GB"),
            (OrganizationName, "Example Bank, plc"),
            (OrganizationalUnitName, "payments"),
            (CommonName, "TPP Ltd"),
        ],
    );
    let (status, body) = env.token(&env.http(Some(&right)), "tpp", &[]).await;
    assert_eq!(status, 200, "{body}");

    let one_rdn_off = cert_with_subject(
        &env,
        &[
            (CountryName, "GB"),
            (OrganizationName, "Example Bank, plc"),
            (OrganizationalUnitName, "accounts"),
            (CommonName, "TPP Ltd"),
        ],
    );
    let missing_rdn = cert_with_subject(
        &env,
        &[
            (CountryName, "GB"),
            (OrganizationName, "Example Bank, plc"),
            (CommonName, "TPP Ltd"),
        ],
    );
    let reordered = cert_with_subject(
        &env,
        &[
            (CommonName, "TPP Ltd"),
            (OrganizationalUnitName, "payments"),
            (OrganizationName, "Example Bank, plc"),
            (CountryName, "GB"),
        ],
    );
    for cert in [&one_rdn_off, &missing_rdn, &reordered] {
        let (status, body) = env.token(&env.http(Some(cert)), "tpp", &[]).await;
        assert_invalid_client(status, &body);
    }
    env.finish().await;
}

async fn san_forms_match_exactly(db: Db) {
    use rcgen::SanType;
    let env = TestEnv::start(db).await;
    let cases = [
        (
            "dns",
            SubjectMatcher::SanDns("tpp.example".into()),
            SanType::DnsName("tpp.example".try_into().unwrap()),
            SanType::DnsName("evil.example".try_into().unwrap()),
        ),
        (
            "uri",
            SubjectMatcher::SanUri("https://tpp.example/id".into()),
            SanType::URI("https://tpp.example/id".try_into().unwrap()),
            SanType::URI("https://tpp.example/id2".try_into().unwrap()),
        ),
        (
            "ip",
            SubjectMatcher::SanIp("10.1.2.3".parse().unwrap()),
            SanType::IpAddress("10.1.2.3".parse().unwrap()),
            SanType::IpAddress("10.1.2.4".parse().unwrap()),
        ),
        (
            "email",
            SubjectMatcher::SanEmail("ops@tpp.example".into()),
            SanType::Rfc822Name("ops@TPP.example".try_into().unwrap()),
            SanType::Rfc822Name("Ops@tpp.example".try_into().unwrap()),
        ),
    ];
    for (id, matcher, good, bad) in cases {
        env.store
            .insert_client(&pki_client(id, matcher, "accounts"))
            .await
            .unwrap();
        let issue = |san: SanType| {
            env.ca
                .issue(&CertSpec {
                    sans: vec![san],
                    ..CertSpec::client("same-cn", 30)
                })
                .unwrap()
        };
        let (status, body) = env.token(&env.http(Some(&issue(good))), id, &[]).await;
        assert_eq!(status, 200, "{id}: {body}");
        let (status, body) = env.token(&env.http(Some(&issue(bad))), id, &[]).await;
        assert_invalid_client(status, &body);
    }
    env.finish().await;
}

async fn certificate_without_client_auth_eku_is_invalid_client(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let server_only = env
        .ca
        .issue(&CertSpec {
            eku: vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth],
            ..CertSpec::client("tpp1", 30)
        })
        .unwrap();
    let (status, body) = env.token(&env.http(Some(&server_only)), "tpp1", &[]).await;
    assert_invalid_client(status, &body);
    // No EKU extension at all is acceptable (RFC 5280 §4.2.1.12: any use).
    let no_eku = env
        .ca
        .issue(&CertSpec {
            eku: vec![],
            ..CertSpec::client("tpp1", 30)
        })
        .unwrap();
    let (status, _) = env.token(&env.http(Some(&no_eku)), "tpp1", &[]).await;
    assert_eq!(status, 200);
    env.finish().await;
}

async fn intermediate_chains_validate_only_when_presented(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let intermediate = env
        .ca
        .issue_intermediate(vec![(NameAttribute::CommonName, "issuing CA 1".into())])
        .unwrap();
    let leaf = intermediate.issue(&CertSpec::client("tpp1", 30)).unwrap();
    let with_chain = certbound::pki::dev::IssuedCert {
        cert_pem: format!("{}{}", leaf.cert_pem, intermediate.cert_pem()),
        key_pem: leaf.key_pem.clone(),
    };
    let (status, body) = env.token(&env.http(Some(&with_chain)), "tpp1", &[]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = env.token(&env.http(Some(&leaf)), "tpp1", &[]).await;
    assert_invalid_client(status, &body);
    env.finish().await;
}

async fn unknown_and_disabled_clients_are_invalid_client(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let http = env.http(Some(&env.issue("tpp1")));
    let (status, body) = env.token(&http, "nobody", &[]).await;
    assert_invalid_client(status, &body);
    let (status, body) = common::post_form(&http, &env.url("/token"), &[("grant_type", "client_credentials")]).await;
    assert_invalid_client(status, &body);

    let (status, _) = env.token(&http, "tpp1", &[]).await;
    assert_eq!(status, 200, "cached now");
    env.store
        .set_client_status("tpp1", certbound::domain::ClientStatus::Disabled)
        .await
        .unwrap();
    // The server polls for changes every 100 ms in tests; the cached client must be dropped.
    let mut refused = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (status, _) = env.token(&http, "tpp1", &[]).await;
        if status == 401 {
            refused = true;
            break;
        }
    }
    assert!(refused, "a disabled client must stop getting tokens");

    // An id that was unknown (and remembered as such) works once it is registered.
    let late = env.http(Some(&env.issue("late")));
    let (status, _) = env.token(&late, "late", &[]).await;
    assert_eq!(status, 401);
    env.register_pki_client("late", "late", "accounts").await;
    let mut accepted = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if env.token(&late, "late", &[]).await.0 == 200 {
            accepted = true;
            break;
        }
    }
    assert!(accepted, "a newly registered client must be usable");
    env.finish().await;
}

async fn scopes_are_a_subset_of_the_clients(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts payments").await;
    let http = env.http(Some(&env.issue("tpp1")));
    let (status, body) = env
        .token(&http, "tpp1", &[("scope", "payments accounts payments")])
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["scope"], "payments accounts");
    for bad in ["admin", "accounts admin", "acc\"ounts"] {
        let (status, body) = env.token(&http, "tpp1", &[("scope", bad)]).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["error"], "invalid_scope");
    }
    env.finish().await;
}

async fn resource_indicators_set_the_audience(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let http = env.http(Some(&env.issue("tpp1")));
    let (status, body) = env
        .token(&http, "tpp1", &[("resource", "https://api.bank.example/")])
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        jwt_payload(body["access_token"].as_str().unwrap())["aud"],
        "https://api.bank.example/"
    );

    let (status, body) = env
        .token(
            &http,
            "tpp1",
            &[("resource", "https://a.example/"), ("resource", "https://b.example/")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        jwt_payload(body["access_token"].as_str().unwrap())["aud"],
        serde_json::json!(["https://a.example/", "https://b.example/"])
    );
    for bad in ["/relative", "https://a.example/#frag"] {
        let (status, body) = env.token(&http, "tpp1", &[("resource", bad)]).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"], "invalid_target");
    }
    env.finish().await;
}

async fn grant_type_errors(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    // Registered for no grant at all.
    let mut other = pki_client(
        "tpp2",
        SubjectMatcher::Dn(DistinguishedName::parse("CN=tpp2").unwrap()),
        "accounts",
    );
    other.grant_types = vec![];
    env.store.insert_client(&other).await.unwrap();

    let http = env.http(Some(&env.issue("tpp1")));
    for grant in ["password", "urn:ietf:params:oauth:grant-type:jwt-bearer"] {
        let (status, body) = common::post_form(
            &http,
            &env.url("/token"),
            &[("grant_type", grant), ("client_id", "tpp1")],
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["error"], "unsupported_grant_type");
    }
    let (status, body) = common::post_form(&http, &env.url("/token"), &[("client_id", "tpp1")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));

    let (status, body) = env.token(&env.http(Some(&env.issue("tpp2"))), "tpp2", &[]).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "unauthorized_client");
    env.finish().await;
}

async fn unbound_clients_get_tokens_without_cnf(db: Db) {
    let env = TestEnv::start(db).await;
    let mut client = pki_client(
        "tpp1",
        SubjectMatcher::Dn(DistinguishedName::parse("CN=tpp1").unwrap()),
        "accounts",
    );
    client.bound_access_tokens = false;
    env.store.insert_client(&client).await.unwrap();
    let (status, body) = env.token(&env.http(Some(&env.issue("tpp1"))), "tpp1", &[]).await;
    assert_eq!(status, 200);
    assert!(jwt_payload(body["access_token"].as_str().unwrap()).get("cnf").is_none());
    env.finish().await;
}
