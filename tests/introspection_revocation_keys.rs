//! Introspection (RFC 7662), revocation (RFC 7009), key rotation, discovery (RFC 8414) and the
//! mTLS endpoint aliases (RFC 8705 §5).

mod common;

use std::time::Duration;

use base64::Engine;
use certbound::config::FileConfig;
use certbound::jose::{KeyEncryptionKey, SigningAlg};
use certbound::oauth::signing_keys as keys;
use common::{assert_invalid_client, post_form, Db, TestEnv};
use serde_json::Value;

on_both_databases!(
    introspection_shows_own_tokens_and_hides_others,
    revoked_and_expired_tokens_are_inactive,
    rotated_keys_keep_old_tokens_verifiable,
    discovery_documents_describe_the_server,
    mtls_endpoint_aliases_serve_authenticated_endpoints,
    every_signing_algorithm_issues_verifiable_tokens,
    health_and_readiness,
);

async fn token_for(env: &TestEnv, http: &reqwest::Client, client_id: &str) -> String {
    let (status, body) = env.token(http, client_id, &[]).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

async fn introspect(env: &TestEnv, http: &reqwest::Client, client_id: &str, token: &str) -> (u16, Value) {
    post_form(
        http,
        &env.url("/introspect"),
        &[("client_id", client_id), ("token", token)],
    )
    .await
}

async fn introspection_shows_own_tokens_and_hides_others(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    env.register_pki_client("tpp2", "tpp2", "accounts").await;
    let rs_cert = env.register_resource_server().await;
    let tpp1_cert = env.issue("tpp1");
    let tpp1 = env.http(Some(&tpp1_cert));
    let tpp2 = env.http(Some(&env.issue("tpp2")));
    let rs_http = env.http(Some(&rs_cert));
    let token = token_for(&env, &tpp1, "tpp1").await;

    let (status, own) = introspect(&env, &tpp1, "tpp1", &token).await;
    assert_eq!(status, 200);
    assert_eq!(own["active"], true);
    assert_eq!(own["client_id"], "tpp1");
    assert_eq!(own["scope"], "accounts");
    assert_eq!(own["iss"], env.issuer());
    assert_eq!(own["token_type"], "Bearer");
    assert_eq!(own["cnf"]["x5t#S256"], common::x5t_s256(&tpp1_cert));

    let (_, foreign) = introspect(&env, &tpp2, "tpp2", &token).await;
    assert_eq!(foreign, serde_json::json!({"active": false}));
    let (_, as_rs) = introspect(&env, &rs_http, "rs", &token).await;
    assert_eq!(as_rs["active"], true);

    for garbage in ["garbage", "a.b.c", &token[..token.len() - 4]] {
        let (status, body) = introspect(&env, &tpp1, "tpp1", garbage).await;
        assert_eq!((status, body["active"].as_bool()), (200, Some(false)));
    }
    let (status, body) = introspect(&env, &env.http(None), "tpp1", &token).await;
    assert_invalid_client(status, &body);
    let (status, body) = post_form(&tpp1, &env.url("/introspect"), &[("client_id", "tpp1")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    env.finish().await;
}

async fn revoked_and_expired_tokens_are_inactive(db: Db) {
    let env = TestEnv::start_with(db, |f: &mut FileConfig| f.access_token_ttl = Some(2)).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    env.register_pki_client("tpp2", "tpp2", "accounts").await;
    let tpp1 = env.http(Some(&env.issue("tpp1")));
    let tpp2 = env.http(Some(&env.issue("tpp2")));
    let token = token_for(&env, &tpp1, "tpp1").await;
    let other = token_for(&env, &tpp1, "tpp1").await;

    // Another client cannot revoke it (and learns nothing from the answer).
    let (status, _) = post_form(&tpp2, &env.url("/revoke"), &[("client_id", "tpp2"), ("token", &token)]).await;
    assert_eq!(status, 200);
    assert_eq!(introspect(&env, &tpp1, "tpp1", &token).await.1["active"], true);

    let (status, _) = post_form(&tpp1, &env.url("/revoke"), &[("client_id", "tpp1"), ("token", &token)]).await;
    assert_eq!(status, 200);
    assert_eq!(introspect(&env, &tpp1, "tpp1", &token).await.1["active"], false);
    assert_eq!(
        introspect(&env, &tpp1, "tpp1", &other).await.1["active"],
        true,
        "only that jti is revoked"
    );
    // Revoking twice, or revoking garbage, is still 200 (RFC 7009 §2.2).
    for t in [token.as_str(), "garbage"] {
        let (status, _) = post_form(&tpp1, &env.url("/revoke"), &[("client_id", "tpp1"), ("token", t)]).await;
        assert_eq!(status, 200);
    }
    let (status, body) = post_form(
        &env.http(None),
        &env.url("/revoke"),
        &[("client_id", "tpp1"), ("token", &other)],
    )
    .await;
    assert_invalid_client(status, &body);

    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(
        introspect(&env, &tpp1, "tpp1", &other).await.1["active"],
        false,
        "expired"
    );
    env.finish().await;
}

async fn rotated_keys_keep_old_tokens_verifiable(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let http = env.http(Some(&env.issue("tpp1")));
    let before = token_for(&env, &http, "tpp1").await;
    let old_kid = jsonwebtoken::decode_header(&before).unwrap().kid.unwrap();

    let kek = KeyEncryptionKey::load(&certbound::jose::KekSource::File(
        env.dir.path().join("certbound-data/kek"),
    ))
    .unwrap();
    let new_kid = keys::rotate(&env.store, &kek, SigningAlg::Es256).await.unwrap();
    assert_ne!(new_kid, old_kid);

    let mut after = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = token_for(&env, &http, "tpp1").await;
        if jsonwebtoken::decode_header(&after).unwrap().kid.as_deref() == Some(new_kid.as_str()) {
            break;
        }
    }
    assert_eq!(
        jsonwebtoken::decode_header(&after).unwrap().kid.unwrap(),
        new_kid,
        "running server picked up the new key"
    );

    assert_eq!(
        env.jwks().await.keys.len(),
        2,
        "the old key stays published while its tokens live"
    );
    for token in [&before, &after] {
        env.verify_with_jwks(token, jsonwebtoken::Algorithm::ES256)
            .await
            .expect("verifies after rotation");
        assert_eq!(introspect(&env, &http, "tpp1", token).await.1["active"], true);
    }
    // Private keys are sealed at rest: the stored bytes do not contain the key, and only the
    // key-encryption key opens them, to the key whose public half is published.
    let other_kek = KeyEncryptionKey::from_base64(&KeyEncryptionKey::generate_base64()).unwrap();
    for row in env.store.list_signing_keys().await.unwrap() {
        let pkcs8 = kek.open(&row.kid, &row.sealed_private_key).expect("opens with the KEK");
        let stored = base64::engine::general_purpose::STANDARD
            .decode(&row.sealed_private_key)
            .unwrap();
        assert!(
            !stored.windows(pkcs8.len()).any(|w| w == pkcs8.as_slice()),
            "stored in the clear"
        );
        assert!(other_kek.open(&row.kid, &row.sealed_private_key).is_err());
        let key = certbound::jose::SigningKey::from_pkcs8(SigningAlg::Es256, &pkcs8).unwrap();
        assert_eq!(
            key.public_jwk(),
            &serde_json::from_str::<Value>(&row.public_jwk).unwrap()
        );
    }
    env.finish().await;
}

async fn discovery_documents_describe_the_server(db: Db) {
    let env = TestEnv::start(db).await;
    let http = env.http(None);
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let doc: Value = http.get(env.url(path)).send().await.unwrap().json().await.unwrap();
        let issuer = env.issuer();
        assert_eq!(doc["issuer"], issuer);
        assert_eq!(doc["token_endpoint"], format!("{issuer}/token"));
        assert_eq!(doc["jwks_uri"], format!("{issuer}/jwks"));
        assert_eq!(doc["introspection_endpoint"], format!("{issuer}/introspect"));
        assert_eq!(doc["revocation_endpoint"], format!("{issuer}/revoke"));
        assert_eq!(doc["tls_client_certificate_bound_access_tokens"], true);
        assert_eq!(
            doc["token_endpoint_auth_methods_supported"],
            serde_json::json!(["tls_client_auth", "self_signed_tls_client_auth", "private_key_jwt"])
        );
        assert_eq!(
            doc["grant_types_supported"],
            serde_json::json!(["client_credentials", "authorization_code", "refresh_token"])
        );
        // The FAPI 2.0 code flow (RFC 9126, RFC 7636, RFC 9207, OpenID Connect Discovery).
        assert_eq!(doc["authorization_endpoint"], format!("{issuer}/authorize"));
        assert_eq!(doc["pushed_authorization_request_endpoint"], format!("{issuer}/par"));
        assert_eq!(doc["userinfo_endpoint"], format!("{issuer}/userinfo"));
        assert_eq!(doc["require_pushed_authorization_requests"], true);
        assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(doc["response_modes_supported"], serde_json::json!(["query"]));
        assert_eq!(doc["code_challenge_methods_supported"], serde_json::json!(["S256"]));
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        assert_eq!(doc["subject_types_supported"], serde_json::json!(["public"]));
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            serde_json::json!(["ES256"])
        );
        assert!(doc["scopes_supported"].as_array().unwrap().contains(&"openid".into()));
        assert!(doc["claims_supported"]
            .as_array()
            .unwrap()
            .contains(&"auth_time".into()));
        let mtls = format!("https://localhost:{}", env.addr().port());
        let aliases = &doc["mtls_endpoint_aliases"];
        for (name, path) in [
            ("token_endpoint", "/token"),
            ("pushed_authorization_request_endpoint", "/par"),
            ("introspection_endpoint", "/introspect"),
            ("revocation_endpoint", "/revoke"),
            ("userinfo_endpoint", "/userinfo"),
        ] {
            assert_eq!(aliases[name], format!("{mtls}{path}"), "{name}");
        }
        assert!(
            aliases.get("authorization_endpoint").is_none(),
            "browsers never use the mTLS listener"
        );
    }
    env.finish().await;
    // One listener (a proxy terminates TLS): no aliases to point to.
    let env = TestEnv::start_with(db, |f: &mut FileConfig| f.mtls_listen = Some("none".into())).await;
    let doc: Value = env
        .http(None)
        .get(env.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc.get("mtls_endpoint_aliases").is_none(), "{doc}");
    env.finish().await;
}

async fn mtls_endpoint_aliases_serve_authenticated_endpoints(db: Db) {
    let env = TestEnv::start(db).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let mtls_port = env.server().mtls_addr.unwrap().port();
    let doc: Value = env
        .http(None)
        .get(env.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let alias = format!("https://localhost:{mtls_port}/token");
    assert_eq!(doc["mtls_endpoint_aliases"]["token_endpoint"], alias);
    assert_eq!(doc["token_endpoint"], format!("{}/token", env.issuer()));

    let cert = env.issue("tpp1");
    let mtls_http = common::http_client(
        &env.pki,
        env.server().mtls_addr.unwrap(),
        Some((common::chain_of(&cert), common::key_of(&cert))),
    );
    let (status, body) = post_form(
        &mtls_http,
        &alias,
        &[("grant_type", "client_credentials"), ("client_id", "tpp1")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The public listener does not ask for a certificate, so the same request there fails.
    let (status, body) = post_form(
        &env.http(Some(&cert)),
        &env.front_url("/token"),
        &[("grant_type", "client_credentials"), ("client_id", "tpp1")],
    )
    .await;
    assert_invalid_client(status, &body);
    env.finish().await;
}

async fn every_signing_algorithm_issues_verifiable_tokens(db: Db) {
    for (name, alg) in [
        ("PS256", jsonwebtoken::Algorithm::PS256),
        ("EdDSA", jsonwebtoken::Algorithm::EdDSA),
    ] {
        let env = TestEnv::start_with(db, |f: &mut FileConfig| f.signing_alg = Some(name.into())).await;
        env.register_pki_client("tpp1", "tpp1", "accounts").await;
        let http = env.http(Some(&env.issue("tpp1")));
        let token = token_for(&env, &http, "tpp1").await;
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, alg);
        env.verify_with_jwks(&token, alg).await.expect("verifies");
        env.finish().await;
    }
}

async fn health_and_readiness(db: Db) {
    let env = TestEnv::start(db).await;
    let http = env.http(None);
    for path in ["/healthz", "/readyz"] {
        assert_eq!(http.get(env.url(path)).send().await.unwrap().status(), 200, "{path}");
    }
    env.finish().await;
}
