//! The FAPI 2.0 authorization code flow end to end over real mutual TLS: PAR, the customer's
//! sign-in and consent, the code, tokens bound to the TPP's certificate, userinfo, the demo
//! bank, refresh, revocation.

mod common;

use std::time::Duration;

use common::flow::{self, Browser, ALICE, REDIRECT_URI};
use common::{jwt_payload, post_form, x5t_s256, Db, TestEnv};
use serde_json::Value;

on_both_databases!(
    the_whole_flow_from_par_to_revocation,
    grants_are_listed_and_revoked_with_the_cli,
);

async fn bank(db: Db) -> TestEnv {
    TestEnv::start_with(db, |f| f.demo_bank = Some(true)).await
}

async fn api_key(env: &TestEnv, client_id: &str) -> String {
    let issued = certbound::rs::api_keys::issue(client_id, &[]);
    env.store.insert_api_key(&issued.row, None).await.unwrap();
    issued.key
}

async fn the_whole_flow_from_par_to_revocation(db: Db) {
    let env = bank(db).await;
    flow::register_tpp(&env, "tpp1", "openid accounts payments").await;
    let cert = env.issue("tpp1");
    let tpp = env.http(Some(&cert));
    let tpp_api_key = api_key(&env, "tpp1").await;

    // 1. PAR over mutual TLS.
    let (verifier, challenge) = flow::pkce();
    let response = tpp
        .post(env.url("/par"))
        .form(&[
            ("client_id", "tpp1"),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid accounts"),
            ("state", "xyz-state"),
            ("nonce", "n-0S6_WzA2Mj"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let pushed: Value = response.json().await.unwrap();
    let request_uri = pushed["request_uri"].as_str().unwrap();
    assert!(
        request_uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{pushed}"
    );
    assert!(pushed["expires_in"].as_i64().unwrap() <= 60);

    // 2. The browser: authorize, sign in, consent to one of alice's two accounts.
    let mut browser = Browser::new(&env);
    let login = browser.authorize("tpp1", request_uri).await;
    assert_eq!(login.status, 200);
    assert!(login.body.contains("type=\"password\""), "{}", login.body);
    assert!(login.body.contains("tpp1"), "the page names the TPP");
    let session = browser
        .cookies
        .iter()
        .find(|(k, _)| k == "__Host-certbound-session")
        .cloned();
    assert!(session.is_some(), "a __Host- session cookie");
    let signed_in = browser.sign_in(&login, ALICE.0, ALICE.1).await;
    assert_eq!(signed_in.status, 303, "{signed_in:?}");
    let rotated = browser
        .cookies
        .iter()
        .find(|(k, _)| k == "__Host-certbound-session")
        .cloned();
    assert_ne!(rotated, session, "the session cookie is renewed at sign-in");
    let consent = browser.get(signed_in.location.as_deref().unwrap()).await;
    assert_eq!(consent.status, 200);
    for text in ["tpp1", "Approve", "Deny", "22289", "31820", "See your account details"] {
        assert!(consent.body.contains(text), "consent page lacks {text:?}");
    }
    let csp = consent.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("form-action 'self' https://tpp.example"), "{csp}");
    let back = browser.decide(&consent, "approve", &["22289"]).await;
    assert_eq!(back.status, 303, "{back:?}");
    let location = back.location.clone().unwrap();
    assert!(location.starts_with(&format!("{REDIRECT_URI}?")), "{location}");
    assert_eq!(back.redirect_param("state").as_deref(), Some("xyz-state"));
    assert_eq!(back.redirect_param("iss"), Some(env.issuer()), "RFC 9207 iss");
    let code = back.redirect_param("code").unwrap();

    // 3. The code at the token endpoint, over the same certificate.
    let (status, tokens) = flow::redeem(&env, &tpp, "tpp1", &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let access_token = tokens["access_token"].as_str().unwrap().to_string();
    let claims = jwt_payload(&access_token);
    let customer = env.store.customer_by_username("alice").await.unwrap().unwrap();
    assert_eq!(claims["sub"], customer.id);
    assert_eq!(claims["client_id"], "tpp1");
    assert_eq!(claims["scope"], "openid accounts");
    assert_eq!(claims["cnf"]["x5t#S256"], x5t_s256(&cert));
    assert!(claims["grant_id"].as_str().unwrap().starts_with("grt_"));
    assert_eq!(
        claims["authorization_details"],
        serde_json::json!([{"type": "account_access", "accounts": ["22289"]}])
    );
    env.verify_with_jwks(&access_token, jsonwebtoken::Algorithm::ES256)
        .await
        .expect("the access token verifies against the JWKS");
    let refresh_token = tokens["refresh_token"].as_str().expect("a refresh token").to_string();
    assert!(!refresh_token.contains('.'), "refresh tokens are opaque");

    // The ID token: for the client, about alice, with the nonce.
    let id_token = tokens["id_token"].as_str().expect("an ID token");
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let jwks = env.jwks().await;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["tpp1"]);
    validation.set_issuer(&[env.issuer()]);
    let id_claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(id_claims["sub"], customer.id);
    assert_eq!(id_claims["nonce"], "n-0S6_WzA2Mj");
    assert!(id_claims["auth_time"].as_i64().unwrap() <= certbound::now());

    // 4. Userinfo, with the token over the certificate it is bound to; not over another one.
    let userinfo = |client: reqwest::Client, token: String| {
        let url = env.url("/userinfo");
        async move {
            let response = client.get(url).bearer_auth(token).send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, info) = userinfo(tpp.clone(), access_token.clone()).await;
    assert_eq!(
        (status, &info["sub"]),
        (200, &Value::from(customer.id.clone())),
        "{info}"
    );
    let posted = tpp
        .post(env.url("/userinfo"))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200, "POST works like GET");
    assert_eq!(posted.json::<Value>().await.unwrap()["sub"], customer.id);
    let other = env.http(Some(&env.issue("tpp2")));
    assert_eq!(userinfo(other, access_token.clone()).await.0, 401);
    // A token a client got for itself, even with scope openid and a client_id that is a
    // customer's id (registration refuses those; this one is written to the store directly),
    // is nobody's userinfo.
    let mut impostor = common::pki_client(
        &customer.id,
        certbound::domain::SubjectMatcher::Dn(certbound::pki::DistinguishedName::parse("CN=impostor").unwrap()),
        "openid",
    );
    assert!(impostor.validate().is_err());
    impostor.client_id = customer.id.clone();
    env.store.insert_client(&impostor).await.unwrap();
    let impostor_http = env.http(Some(&env.issue("impostor")));
    let (_, own) = env.token(&impostor_http, &customer.id, &[("scope", "openid")]).await;
    let own = own["access_token"].as_str().unwrap().to_string();
    assert_eq!(jwt_payload(&own)["sub"], customer.id);
    let (status, body) = userinfo(impostor_http, own).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_token")), "{body}");

    // 5. The demo bank: the certificate, the bound token and the API key; only the chosen account.
    let bank = |token: String, path: &'static str| {
        let (tpp, url, key) = (tpp.clone(), env.url(path), tpp_api_key.clone());
        async move {
            let response = tpp
                .get(url)
                .bearer_auth(token)
                .header("x-api-key", key)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, accounts) = bank(access_token.clone(), "/bank/v1/accounts").await;
    assert_eq!(status, 200, "{accounts}");
    let ids: Vec<&str> = accounts["Data"]["Account"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AccountId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["22289"], "only the account alice chose");
    assert_eq!(
        bank(access_token.clone(), "/bank/v1/accounts/31820/balances").await.0,
        404
    );

    // 6. Refresh: a new access token under the same grant, no new refresh token (no rotation).
    let (status, refreshed) = flow::refresh(&env, &tpp, "tpp1", &refresh_token, &[]).await;
    assert_eq!(status, 200, "{refreshed}");
    assert!(refreshed.get("refresh_token").is_none(), "{refreshed}");
    let second = refreshed["access_token"].as_str().unwrap().to_string();
    assert_eq!(jwt_payload(&second)["grant_id"], claims["grant_id"]);
    assert_eq!(jwt_payload(&second)["cnf"], claims["cnf"]);
    let (status, narrowed) = flow::refresh(&env, &tpp, "tpp1", &refresh_token, &[("scope", "accounts")]).await;
    assert_eq!((status, narrowed["scope"].as_str()), (200, Some("accounts")));
    assert_eq!(bank(second.clone(), "/bank/v1/accounts").await.0, 200);

    // Introspection sees both kinds of token.
    let introspect = |token: String| {
        let (tpp, url) = (tpp.clone(), env.url("/introspect"));
        async move {
            post_form(&tpp, &url, &[("client_id", "tpp1"), ("token", &token)])
                .await
                .1
        }
    };
    assert_eq!(introspect(second.clone()).await["active"], true);
    let about_refresh = introspect(refresh_token.clone()).await;
    assert_eq!(about_refresh["active"], true, "{about_refresh}");
    assert_eq!(about_refresh["sub"], customer.id);

    // 7. Revoking the refresh token ends the grant: refresh fails, the access tokens die at the
    // resource server within the reload interval, introspection says inactive.
    let (status, _) = post_form(
        &tpp,
        &env.url("/revoke"),
        &[("client_id", "tpp1"), ("token", &refresh_token)],
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = flow::refresh(&env, &tpp, "tpp1", &refresh_token, &[]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let started = std::time::Instant::now();
    while bank(second.clone(), "/bank/v1/accounts").await.0 != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "revoked grant's token still works"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(bank(access_token.clone(), "/bank/v1/accounts").await.0, 401);
    assert_eq!(userinfo(tpp.clone(), access_token.clone()).await.0, 401);
    assert_eq!(introspect(second).await["active"], false);
    assert_eq!(introspect(refresh_token).await["active"], false);
    env.finish().await;
}

/// `certbound` against the test's database.
fn cli(env: &TestEnv, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_certbound"))
        .current_dir(env.dir.path())
        .env("CERTBOUND_LOG", "warn")
        .arg("--database-url")
        .arg(&env.database_url)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn grants_are_listed_and_revoked_with_the_cli(db: Db) {
    let env = bank(db).await;
    flow::register_tpp(&env, "tpp1", "openid accounts").await;
    let tpp = env.http(Some(&env.issue("tpp1")));
    let tokens = flow::tokens(&env, &tpp, "tpp1").await;
    let access_token = tokens["access_token"].as_str().unwrap().to_string();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();
    let key = api_key(&env, "tpp1").await;

    let (ok, text) = cli(&env, &["grant", "list", "--user", "alice", "--json"]);
    assert!(ok, "{text}");
    let grants: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(grants.len(), 1);
    let grant = &grants[0];
    assert_eq!(grant["state"], "active");
    assert_eq!(grant["client_id"], "tpp1");
    assert_eq!(grant["accounts"], serde_json::json!(["22289"]));
    assert_eq!(grant["id"], jwt_payload(&access_token)["grant_id"]);
    let (ok, text) = cli(&env, &["grant", "list", "--client", "tpp2", "--json"]);
    assert!(ok && text.trim() == "[]", "{text}");
    let (ok, text) = cli(&env, &["grant", "list", "--user", "nobody"]);
    assert!(!ok && text.contains("no customer nobody"), "{text}");

    let id = grant["id"].as_str().unwrap();
    let (ok, text) = cli(&env, &["grant", "revoke", id]);
    assert!(ok, "{text}");
    let (ok, text) = cli(&env, &["grant", "revoke", id]);
    assert!(!ok && text.contains("already revoked"), "{text}");
    let (_, text) = cli(&env, &["grant", "list", "--json"]);
    assert!(text.contains("\"revoked\""), "{text}");

    // The running server refuses the grant's tokens within its reload interval: the refresh
    // token at the token endpoint, the access token at the resource server.
    let started = std::time::Instant::now();
    loop {
        let refreshed = flow::refresh(&env, &tpp, "tpp1", &refresh_token, &[]).await.0;
        let at_bank = tpp
            .get(env.url("/bank/v1/accounts"))
            .bearer_auth(&access_token)
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if (refreshed, at_bank) == (400, 401) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{refreshed} {at_bank}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.finish().await;
}
