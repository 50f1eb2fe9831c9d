//! The resource-server edge over real mutual TLS, using the demo bank: certificate binding,
//! token checks, scopes, API keys, revocation, and certificates forwarded by a proxy.

mod common;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use certbound::config::FileConfig;
use certbound::domain::{AccessTokenClaims, Audience, Confirmation};
use certbound::pki::dev::IssuedCert;
use certbound::pki::Thumbprint;
use certbound::rs::api_keys::ApiKeyFailure;
use certbound::tls::forwarded::{encode, ForwardFormat, ForwardingConfig};
use common::{Db, TestEnv};
use serde_json::{json, Value};

on_both_databases!(
    all_three_factors_open_the_bank,
    a_token_replayed_over_another_certificate_is_refused,
    malformed_forged_and_expired_tokens_are_refused,
    scopes_are_enforced_with_insufficient_scope,
    api_keys_must_belong_to_the_token_and_certificate,
    revoked_tokens_are_refused_within_a_second,
    certificates_forwarded_by_a_trusted_proxy_are_honoured,
);

const ACCOUNTS: &str = "/bank/v1/accounts";

async fn bank(db: Db, configure: impl FnOnce(&mut FileConfig)) -> TestEnv {
    TestEnv::start_with(db, |f| {
        f.demo_bank = Some(true);
        configure(f);
    })
    .await
}

/// Registers `id` (subject CN=id) and returns its certificate, a bound token and an API key.
async fn tpp(env: &TestEnv, id: &str, scopes: &str) -> (IssuedCert, String, String) {
    env.register_pki_client(id, id, scopes).await;
    let cert = env.issue(id);
    let (status, body) = env.token(&env.http(Some(&cert)), id, &[]).await;
    assert_eq!(status, 200, "{body}");
    let key = api_key(env, id, &[]).await;
    (cert, body["access_token"].as_str().unwrap().to_string(), key)
}

async fn api_key(env: &TestEnv, client: &str, bound_to: &[Thumbprint]) -> String {
    let issued = certbound::rs::api_keys::issue(client, bound_to);
    env.store.insert_api_key(&issued.row, None).await.unwrap();
    server_sees_key(env, &issued.key, |r| r != Err(ApiKeyFailure::Unknown)).await;
    issued.key
}

/// Waits until the running server's key cache (reloaded by its change poller) satisfies `seen`.
async fn server_sees_key(env: &TestEnv, key: &str, seen: impl Fn(Result<(), ApiKeyFailure>) -> bool) {
    for _ in 0..100 {
        let result = env
            .server()
            .local
            .api_keys
            .verify(key, "-", None, certbound::now())
            .await;
        if seen(result) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not pick up the API key change");
}

struct Answer {
    status: u16,
    challenge: String,
    body: Value,
}

async fn get(env: &TestEnv, cert: Option<&IssuedCert>, path: &str, token: Option<&str>, key: Option<&str>) -> Answer {
    let mut request = env.http(cert).get(env.url(path));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    if let Some(k) = key {
        request = request.header("x-api-key", k);
    }
    let response = request.send().await.unwrap();
    Answer {
        status: response.status().as_u16(),
        challenge: response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default(),
        body: response.json().await.unwrap_or(Value::Null),
    }
}

fn assert_invalid_token(answer: &Answer, context: &str) {
    assert_eq!(answer.status, 401, "{context}: {}", answer.body);
    assert!(
        answer.challenge.starts_with("Bearer "),
        "{context}: {}",
        answer.challenge
    );
    assert!(
        answer.challenge.contains(r#"error="invalid_token""#),
        "{context}: {}",
        answer.challenge
    );
    assert_eq!(answer.body["error"], "invalid_token", "{context}");
}

async fn all_three_factors_open_the_bank(db: Db) {
    let env = bank(db, |_| {}).await;
    let (cert, token, key) = tpp(&env, "tpp1", "accounts").await;
    let ok = get(&env, Some(&cert), ACCOUNTS, Some(&token), Some(&key)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["Meta"]["ClientId"], "tpp1");
    assert_eq!(ok.body["Data"]["Account"][0]["AccountId"], "22289");
    for path in [
        "/bank/v1/accounts/22289/balances",
        "/bank/v1/accounts/31820/transactions",
    ] {
        assert_eq!(
            get(&env, Some(&cert), path, Some(&token), Some(&key)).await.status,
            200,
            "{path}"
        );
    }
    assert_eq!(
        get(
            &env,
            Some(&cert),
            "/bank/v1/accounts/nope/balances",
            Some(&token),
            Some(&key)
        )
        .await
        .status,
        404
    );

    // No token at all: a bare challenge (RFC 6750 §3.1).
    let bare = get(&env, Some(&cert), ACCOUNTS, None, Some(&key)).await;
    assert_eq!(bare.status, 401);
    assert_eq!(bare.challenge, r#"Bearer realm="certbound""#);
    // Token in the query string instead of the header.
    let query = get(
        &env,
        Some(&cert),
        &format!("{ACCOUNTS}?access_token={token}"),
        None,
        Some(&key),
    )
    .await;
    assert_eq!(query.status, 400);
    assert!(query.challenge.contains(r#"error="invalid_request""#));

    // API key last use is recorded in the background (every 10 reload intervals).
    let mut recorded = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if env.store.list_api_keys(Some("tpp1")).await.unwrap()[0]
            .last_used_at
            .is_some()
        {
            recorded = true;
            break;
        }
    }
    assert!(recorded, "last use recorded");
    env.finish().await;
}

async fn a_token_replayed_over_another_certificate_is_refused(db: Db) {
    let env = bank(db, |_| {}).await;
    let (cert, token, key) = tpp(&env, "tpp1", "accounts").await;
    let (other_cert, _, _) = tpp(&env, "tpp2", "accounts").await;
    // First with the right certificate, so the verification is cached...
    assert_eq!(
        get(&env, Some(&cert), ACCOUNTS, Some(&token), Some(&key)).await.status,
        200
    );
    // ...which must not skip the per-connection binding check.
    let replayed = get(&env, Some(&other_cert), ACCOUNTS, Some(&token), Some(&key)).await;
    assert_invalid_token(&replayed, "other certificate");
    assert!(replayed.challenge.contains("different certificate"));
    let no_cert = get(&env, None, ACCOUNTS, Some(&token), Some(&key)).await;
    assert_invalid_token(&no_cert, "no certificate");
    // A new certificate for the same client (same subject) is still a different certificate.
    let renewed = env.issue("tpp1");
    assert_invalid_token(
        &get(&env, Some(&renewed), ACCOUNTS, Some(&token), Some(&key)).await,
        "renewed certificate",
    );

    // A token without cnf (client registered without binding) is refused by default.
    let mut unbound = common::pki_client(
        "loose",
        certbound::domain::SubjectMatcher::Dn(certbound::pki::DistinguishedName::parse("CN=loose").unwrap()),
        "accounts",
    );
    unbound.bound_access_tokens = false;
    env.store.insert_client(&unbound).await.unwrap();
    let loose_cert = env.issue("loose");
    let (_, body) = env.token(&env.http(Some(&loose_cert)), "loose", &[]).await;
    let loose_key = api_key(&env, "loose", &[]).await;
    let answer = get(
        &env,
        Some(&loose_cert),
        ACCOUNTS,
        body["access_token"].as_str(),
        Some(&loose_key),
    )
    .await;
    assert_invalid_token(&answer, "unbound token");
    env.finish().await;
}

/// Signs `claims` with the server's own key but a header of our choosing.
fn sign_with_server_key(env: &TestEnv, claims: &AccessTokenClaims) -> String {
    env.server()
        .state
        .keys()
        .signing_key()
        .sign_access_token(claims)
        .unwrap()
}

fn with_header(token: &str, header: Value, signature: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    format!("{}.{payload}.{signature}", URL_SAFE_NO_PAD.encode(header.to_string()))
}

async fn malformed_forged_and_expired_tokens_are_refused(db: Db) {
    let env = bank(db, |f| f.access_token_ttl = Some(2)).await;
    let (cert, token, key) = tpp(&env, "tpp1", "accounts").await;
    let kid = env.server().state.keys().signing_key().kid().to_string();
    let base = common::jwt_payload(&token);
    let claims = |iss: &str, aud: &str| AccessTokenClaims {
        iss: iss.into(),
        sub: "tpp1".into(),
        aud: Audience::One(aud.into()),
        client_id: "tpp1".into(),
        scope: Some("accounts".into()),
        jti: certbound::jose::random_id(),
        iat: certbound::now(),
        exp: certbound::now() + 60,
        cnf: base["cnf"]["x5t#S256"]
            .as_str()
            .and_then(certbound::pki::Thumbprint::from_base64url)
            .map(Confirmation::X5tS256),
        grant_id: None,
        authorization_details: None,
    };
    let issuer = env.issuer();
    let signature = token.split('.').nth(2).unwrap();

    // HS256 "signed" with the public key bytes, as in the classic key-confusion attack.
    let jwk = env.server().state.keys().signing_key().public_jwk().clone();
    let hs_secret = jwk.to_string();
    let hs_token = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            alg: jsonwebtoken::Algorithm::HS256,
            typ: Some("at+jwt".into()),
            kid: Some(kid.clone()),
            ..Default::default()
        },
        &base,
        &jsonwebtoken::EncodingKey::from_secret(hs_secret.as_bytes()),
    )
    .unwrap();

    let mut tampered_payload = base.clone();
    tampered_payload["scope"] = "accounts payments".into();
    let tampered = format!(
        "{}.{}.{signature}",
        token.split('.').next().unwrap(),
        URL_SAFE_NO_PAD.encode(tampered_payload.to_string())
    );

    let cases: Vec<(&str, String)> = vec![
        (
            "alg none",
            with_header(&token, json!({"alg": "none", "typ": "at+jwt", "kid": kid}), ""),
        ),
        ("HS256 with the public key", hs_token),
        ("tampered payload", tampered),
        (
            "unknown kid",
            with_header(
                &token,
                json!({"alg": "ES256", "typ": "at+jwt", "kid": "nope"}),
                signature,
            ),
        ),
        (
            "wrong typ",
            with_header(&token, json!({"alg": "ES256", "typ": "JWT", "kid": kid}), signature),
        ),
        (
            "wrong issuer",
            sign_with_server_key(&env, &claims("https://evil.example", &issuer)),
        ),
        (
            "wrong audience",
            sign_with_server_key(&env, &claims(&issuer, "https://other-bank.example")),
        ),
        ("garbage", "not-a-jwt".into()),
    ];
    for (name, bad) in &cases {
        assert_invalid_token(&get(&env, Some(&cert), ACCOUNTS, Some(bad), Some(&key)).await, name);
    }
    // The right token works, then expires (TTL 2 s here) even though its verification is cached.
    assert_eq!(
        get(&env, Some(&cert), ACCOUNTS, Some(&token), Some(&key)).await.status,
        200
    );
    // Timestamps are whole seconds: wait a full second beyond TTL + leeway.
    tokio::time::sleep(Duration::from_millis(2000 + 1000 * certbound::rs::LEEWAY + 1100)).await;
    let expired = get(&env, Some(&cert), ACCOUNTS, Some(&token), Some(&key)).await;
    assert_invalid_token(&expired, "expired");

    // Two Authorization headers are ambiguous.
    let twice = env
        .http(Some(&cert))
        .get(env.url(ACCOUNTS))
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", "Bearer x")
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 400);
    env.finish().await;
}

async fn scopes_are_enforced_with_insufficient_scope(db: Db) {
    let env = bank(db, |_| {}).await;
    let (cert, token, key) = tpp(&env, "tpp1", "accounts payments").await;
    let (_, body) = env
        .token(&env.http(Some(&cert)), "tpp1", &[("scope", "accounts")])
        .await;
    let accounts_only = body["access_token"].as_str().unwrap();
    let refused = get(&env, Some(&cert), "/bank/v1/payments", Some(accounts_only), Some(&key)).await;
    assert_eq!(refused.status, 403);
    assert!(
        refused.challenge.contains(r#"error="insufficient_scope""#),
        "{}",
        refused.challenge
    );
    assert!(
        refused.challenge.contains(r#"scope="payments""#),
        "{}",
        refused.challenge
    );
    assert_eq!(
        get(&env, Some(&cert), "/bank/v1/payments", Some(&token), Some(&key))
            .await
            .status,
        200
    );
    env.finish().await;
}

async fn api_keys_must_belong_to_the_token_and_certificate(db: Db) {
    let env = bank(db, |_| {}).await;
    let (cert, token, key) = tpp(&env, "tpp1", "accounts").await;
    let (_, _, foreign_key) = tpp(&env, "tpp2", "accounts").await;
    let thumbprint = Thumbprint::of_der(common::chain_of(&cert)[0].as_ref());
    let bound_here = api_key(&env, "tpp1", &[thumbprint]).await;
    let bound_elsewhere = api_key(&env, "tpp1", &[Thumbprint::of_der(b"some other certificate")]).await;
    let revoked = api_key(&env, "tpp1", &[]).await;
    // The id is the key's public prefix: cbk_<16 hex>_<secret>.
    let revoked_id = revoked[4..20].to_string();
    env.store.revoke_api_key(&revoked_id).await.unwrap();
    server_sees_key(&env, &revoked, |r| r == Err(ApiKeyFailure::Revoked)).await;

    assert_eq!(
        get(&env, Some(&cert), ACCOUNTS, Some(&token), Some(&key)).await.status,
        200
    );
    assert_eq!(
        get(&env, Some(&cert), ACCOUNTS, Some(&token), Some(&bound_here))
            .await
            .status,
        200
    );
    let mut wrong_secret = key.clone();
    wrong_secret.replace_range(key.len() - 4.., "AAAA");
    let cases = [
        ("missing", None),
        ("another client's", Some(foreign_key.as_str())),
        ("bound to another certificate", Some(bound_elsewhere.as_str())),
        ("revoked", Some(revoked.as_str())),
        ("wrong secret", Some(wrong_secret.as_str())),
        ("garbage", Some("cbk_garbage")),
    ];
    let mut descriptions = std::collections::HashSet::new();
    for (name, presented) in cases {
        let answer = get(&env, Some(&cert), ACCOUNTS, Some(&token), presented).await;
        assert_invalid_token(&answer, name);
        descriptions.insert(answer.challenge);
    }
    assert_eq!(
        descriptions.len(),
        1,
        "every API key failure reads the same: {descriptions:?}"
    );

    // Rotation with overlap: the old key works until the overlap ends.
    let rotated = certbound::rs::api_keys::issue("tpp1", &[]);
    env.store
        .insert_api_key(&rotated.row, Some(certbound::now() + 2))
        .await
        .unwrap();
    server_sees_key(&env, &rotated.key, |r| r != Err(ApiKeyFailure::Unknown)).await;
    assert_eq!(
        get(&env, Some(&cert), ACCOUNTS, Some(&token), Some(&key)).await.status,
        200,
        "during overlap"
    );
    assert_eq!(
        get(&env, Some(&cert), ACCOUNTS, Some(&token), Some(&rotated.key))
            .await
            .status,
        200
    );
    server_sees_key(&env, &key, |r| r == Err(ApiKeyFailure::Expired)).await;
    assert_invalid_token(
        &get(&env, Some(&cert), ACCOUNTS, Some(&token), Some(&key)).await,
        "after overlap",
    );
    assert_eq!(
        get(&env, Some(&cert), ACCOUNTS, Some(&token), Some(&rotated.key))
            .await
            .status,
        200
    );
    env.finish().await;
}

async fn revoked_tokens_are_refused_within_a_second(db: Db) {
    let env = bank(db, |_| {}).await;
    let (cert, token, key) = tpp(&env, "tpp1", "accounts").await;
    assert_eq!(
        get(&env, Some(&cert), ACCOUNTS, Some(&token), Some(&key)).await.status,
        200
    );
    let (status, _) = common::post_form(
        &env.http(Some(&cert)),
        &env.url("/revoke"),
        &[("client_id", "tpp1"), ("token", &token)],
    )
    .await;
    assert_eq!(status, 200);
    let mut refused = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if get(&env, Some(&cert), ACCOUNTS, Some(&token), Some(&key)).await.status == 401 {
            refused = true;
            break;
        }
    }
    assert!(refused, "a revoked token must be refused within the reload interval");
    env.finish().await;
}

async fn certificates_forwarded_by_a_trusted_proxy_are_honoured(db: Db) {
    // This test process plays the proxy: it is trusted by address. The proxy terminates TLS, so
    // certbound has the one listener.
    let env = bank(db, |f| {
        f.mtls_listen = Some("none".into());
        f.forwarding = Some(ForwardingConfig {
            format: Some("rfc9440".into()),
            trusted_proxies: vec!["127.0.0.1/32".into()],
            ..ForwardingConfig::default()
        })
    })
    .await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let cert = env.issue("tpp1");
    let key = api_key(&env, "tpp1", &[]).await;
    let forwarded = encode(ForwardFormat::Rfc9440, &common::chain_of(&cert));
    let proxy = env.http(None);
    let mut token_request = proxy
        .post(env.url("/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", "tpp1")]);
    for (name, value) in &forwarded {
        token_request = token_request.header(*name, value);
    }
    let body: Value = token_request.send().await.unwrap().json().await.unwrap();
    let token = body["access_token"]
        .as_str()
        .expect("token issued for the forwarded certificate");
    assert_eq!(common::jwt_payload(token)["cnf"]["x5t#S256"], common::x5t_s256(&cert));

    let mut request = proxy
        .get(env.url(ACCOUNTS))
        .bearer_auth(token)
        .header("x-api-key", &key);
    for (name, value) in &forwarded {
        request = request.header(*name, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);

    // Through the proxy without a forwarded certificate, the token has no certificate to match.
    let bare = proxy
        .get(env.url(ACCOUNTS))
        .bearer_auth(token)
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 401);
    // A header twice is refused.
    let twice = proxy
        .get(env.url(ACCOUNTS))
        .bearer_auth(token)
        .header("client-cert", &forwarded[0].1)
        .header("client-cert", &forwarded[0].1)
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 400);
    env.finish().await;
}
