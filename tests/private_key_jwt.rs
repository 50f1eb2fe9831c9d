//! `private_key_jwt` (RFC 7523, FAPI 2.0 SP §5.3.2.1) over real TLS: assertions signed with the
//! client's registered keys (inline or at a `jwks_uri`), every assertion check refusing what it
//! must, one authentication method per request, and tokens bound to the connection's
//! certificate.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use certbound::config::ClientJwksConfig;
use certbound::jose::SigningAlg;
use certbound::oauth::client_auth::ASSERTION_TYPE;
use common::keys::{assertion_claims, hmac_signed, unsigned, ClientKey};
use common::tpp::register_private_key_jwt as register;
use common::{assert_invalid_client, post_form, x5t_s256, Db, TestEnv};
use serde_json::{json, Value};

on_both_databases!(
    assertions_authenticate_and_tokens_bind_to_the_certificate,
    every_assertion_check_refuses_what_it_must,
    one_method_per_request,
    every_authenticated_endpoint_takes_assertions,
    a_replayed_assertion_is_refused_by_another_process,
    keys_at_a_jwks_uri_are_fetched_cached_and_refreshed,
);

/// A client_credentials request authenticated by `assertion`.
async fn token(env: &TestEnv, http: &reqwest::Client, client_id: &str, assertion: &str) -> (u16, Value) {
    post_form(
        http,
        &env.url("/token"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
            ("scope", "accounts"),
        ],
    )
    .await
}

async fn assertions_authenticate_and_tokens_bind_to_the_certificate(db: Db) {
    let env = TestEnv::start(db).await;
    let key = ClientKey::generate(SigningAlg::Es256);
    register(&env, "pk1", Some(key.jwks()), None).await;
    // Any certificate the client holds: it binds tokens, it does not authenticate.
    let cert = env.issue("pk1-transport");
    let http = env.http(Some(&cert));
    let assertion = key.sign(Some("JWT"), &assertion_claims("pk1", json!(env.issuer()), 60));
    let (status, body) = token(&env, &http, "pk1", &assertion).await;
    assert_eq!(status, 200, "{body}");
    let claims = common::jwt_payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], "pk1");
    assert_eq!(claims["cnf"]["x5t#S256"], x5t_s256(&cert));

    // Every algorithm FAPI allows; no typ at all is fine too (RFC 7523 names none).
    for alg in [SigningAlg::Ps256, SigningAlg::EdDsa] {
        let other = ClientKey::generate(alg);
        let id = format!("pk-{}", alg.as_str());
        register(&env, &id, Some(other.jwks()), None).await;
        let assertion = other.sign(None, &assertion_claims(&id, json!(env.issuer()), 60));
        assert_eq!(token(&env, &http, &id, &assertion).await.0, 200, "{}", alg.as_str());
    }

    // client_id may be left out: the assertion's issuer names the client.
    let assertion = key.sign(Some("JWT"), &assertion_claims("pk1", json!(env.issuer()), 60));
    let (status, body) = post_form(
        &http,
        &env.url("/token"),
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // No certificate and no DPoP proof: nothing to bind a token to, so no token (FAPI 2.0).
    let assertion = key.sign(Some("JWT"), &assertion_claims("pk1", json!(env.issuer()), 60));
    let (status, body) = token(&env, &env.http(None), "pk1", &assertion).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    env.finish().await;
}

async fn every_assertion_check_refuses_what_it_must(db: Db) {
    let env = TestEnv::start(db).await;
    let key = ClientKey::generate(SigningAlg::Es256);
    let other_key = ClientKey::generate(SigningAlg::Es256);
    register(&env, "pk1", Some(key.jwks()), None).await;
    register(&env, "pk2", Some(other_key.jwks()), None).await;
    let http = env.http(Some(&env.issue("pk1-transport")));
    let issuer = env.issuer();
    let good = || assertion_claims("pk1", json!(issuer), 60);
    let with = |name: &str, value: Value| {
        let mut claims = good();
        claims[name] = value;
        claims
    };
    let without = |name: &str| {
        let mut claims = good();
        claims.as_object_mut().unwrap().remove(name);
        claims
    };
    let now = certbound::now();
    let cases: Vec<(&str, String)> = vec![
        (
            "aud is the token endpoint",
            key.sign(Some("JWT"), &with("aud", json!(env.url("/token")))),
        ),
        ("aud is an array", key.sign(Some("JWT"), &with("aud", json!([issuer])))),
        (
            "aud is another server",
            key.sign(Some("JWT"), &with("aud", json!("https://other.example"))),
        ),
        ("no aud", key.sign(Some("JWT"), &without("aud"))),
        ("expired", key.sign(Some("JWT"), &with("exp", json!(now - 30)))),
        ("no exp", key.sign(Some("JWT"), &without("exp"))),
        (
            "exp an hour ahead",
            key.sign(Some("JWT"), &with("exp", json!(now + 3600))),
        ),
        (
            "issued in the future",
            key.sign(Some("JWT"), &with("iat", json!(now + 120))),
        ),
        ("not valid yet", key.sign(Some("JWT"), &with("nbf", json!(now + 120)))),
        (
            "sub is another client",
            key.sign(Some("JWT"), &with("sub", json!("pk2"))),
        ),
        (
            "iss is another client",
            key.sign(Some("JWT"), &with("iss", json!("pk2"))),
        ),
        ("no jti", key.sign(Some("JWT"), &without("jti"))),
        ("typ of an access token", key.sign(Some("at+jwt"), &good())),
        ("typ of a DPoP proof", key.sign(Some("dpop+jwt"), &good())),
        ("another client's key", {
            let mut header = jsonwebtoken::Header::new(other_key.algorithm());
            header.kid = Some(key.kid.clone());
            other_key.sign_with(header, &good())
        }),
        ("another client's key and kid", other_key.sign(Some("JWT"), &good())),
        ("alg none", unsigned(&good())),
        (
            "HS256 with the public key as secret",
            hmac_signed(&key.kid, &good(), key.public_jwk.to_string().as_bytes()),
        ),
        ("not a JWT", "nonsense".into()),
    ];
    for (case, assertion) in cases {
        let (status, body) = token(&env, &http, "pk1", &assertion).await;
        assert_invalid_client(status, &body);
        let _ = case;
    }
    // The assertion type must be exact, and there must be an assertion.
    let assertion = key.sign(Some("JWT"), &good());
    for assertion_type in ["urn:ietf:params:oauth:client-assertion-type:saml2-bearer", "jwt-bearer"] {
        let (status, body) = post_form(
            &http,
            &env.url("/token"),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "pk1"),
                ("client_assertion_type", assertion_type),
                ("client_assertion", &assertion),
            ],
        )
        .await;
        assert_invalid_client(status, &body);
    }
    let (status, body) = post_form(
        &http,
        &env.url("/token"),
        &[("grant_type", "client_credentials"), ("client_id", "pk1")],
    )
    .await;
    assert_invalid_client(status, &body);
    // A jti is used once.
    let once = key.sign(Some("JWT"), &good());
    assert_eq!(token(&env, &http, "pk1", &once).await.0, 200);
    let (status, body) = token(&env, &http, "pk1", &once).await;
    assert_invalid_client(status, &body);
    env.finish().await;
}

async fn one_method_per_request(db: Db) {
    let env = TestEnv::start(db).await;
    let key = ClientKey::generate(SigningAlg::Es256);
    register(&env, "pk1", Some(key.jwks()), None).await;
    env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let tpp1 = env.http(Some(&env.issue("tpp1")));
    let issuer = env.issuer();
    let send = |http: reqwest::Client, form: Vec<(&'static str, String)>, basic: bool| {
        let url = env.url("/token");
        async move {
            let mut request = http.post(url).form(&form);
            if basic {
                request = request.basic_auth("tpp1", Some("secret"));
            }
            let response = request.send().await.unwrap();
            let challenge = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_string());
            (
                response.status().as_u16(),
                challenge,
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let cc = |id: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", id.to_string()),
        ]
    };

    // A certificate that authenticates tpp1, and an assertion too.
    let mut both = cc("tpp1");
    both.push(("client_assertion_type", ASSERTION_TYPE.into()));
    both.push((
        "client_assertion",
        key.sign(Some("JWT"), &assertion_claims("tpp1", json!(issuer), 60)),
    ));
    let (status, _, body) = send(tpp1.clone(), both, false).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    // The certificate and a Basic header: an attempt through the Authorization header is a
    // 401 with a challenge (RFC 6749 §5.2).
    let (status, challenge, body) = send(tpp1.clone(), cc("tpp1"), true).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    assert_eq!(challenge.as_deref(), Some(r#"Basic realm="certbound""#));
    // An assertion and a Basic header.
    let mut assertion_and_basic = cc("pk1");
    assertion_and_basic.push(("client_assertion_type", ASSERTION_TYPE.into()));
    assertion_and_basic.push((
        "client_assertion",
        key.sign(Some("JWT"), &assertion_claims("pk1", json!(issuer), 60)),
    ));
    let (status, challenge, body) = send(env.http(None), assertion_and_basic, true).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    assert_eq!(challenge.as_deref(), Some(r#"Basic realm="certbound""#));
    // A Basic header alone: a method certbound does not accept; the 401 carries a challenge.
    let (status, challenge, body) = send(env.http(None), cc("tpp1"), true).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    assert_eq!(challenge.as_deref(), Some(r#"Basic realm="certbound""#));
    // client_secret in the form alone: 401, no challenge (no Authorization header was sent).
    let mut secret = cc("tpp1");
    secret.push(("client_secret", "secret".into()));
    let (status, challenge, _) = send(env.http(None), secret, false).await;
    assert_eq!((status, challenge), (401, None));
    // For a private_key_jwt client a certificate only binds: assertion plus certificate is one
    // method.
    let mut pk = cc("pk1");
    pk.push(("client_assertion_type", ASSERTION_TYPE.into()));
    pk.push((
        "client_assertion",
        key.sign(Some("JWT"), &assertion_claims("pk1", json!(issuer), 60)),
    ));
    let (status, _, body) = send(tpp1, pk, false).await;
    assert_eq!(status, 200, "{body}");
    env.finish().await;
}

async fn every_authenticated_endpoint_takes_assertions(db: Db) {
    let env = TestEnv::start(db).await;
    let key = ClientKey::generate(SigningAlg::Es256);
    register(&env, "pk1", Some(key.jwks()), None).await;
    let cert = env.issue("pk1-transport");
    let http = env.http(Some(&cert));
    let issuer = env.issuer();
    let auth = || {
        vec![
            ("client_id".to_string(), "pk1".to_string()),
            ("client_assertion_type".to_string(), ASSERTION_TYPE.to_string()),
            (
                "client_assertion".to_string(),
                key.sign(Some("JWT"), &assertion_claims("pk1", json!(issuer), 60)),
            ),
        ]
    };
    let post = |path: &str, mut form: Vec<(String, String)>, extra: &[(&str, &str)]| {
        for (k, v) in extra {
            form.push((k.to_string(), v.to_string()));
        }
        let (http, url) = (http.clone(), env.url(path));
        async move {
            let borrowed: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            post_form(&http, &url, &borrowed).await
        }
    };

    // The code flow: PAR, the customer, the token.
    let (verifier, challenge) = common::flow::pkce();
    let (status, pushed) = post(
        "/par",
        auth(),
        &[
            ("response_type", "code"),
            ("redirect_uri", common::flow::REDIRECT_URI),
            ("scope", "openid accounts"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{pushed}");
    let back = common::flow::approve(
        &env,
        "pk1",
        pushed["request_uri"].as_str().unwrap(),
        common::flow::ALICE,
        &["22289"],
    )
    .await;
    let code = back.redirect_param("code").unwrap();
    let (status, tokens) = post(
        "/token",
        auth(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", common::flow::REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let access_token = tokens["access_token"].as_str().unwrap().to_string();
    assert_eq!(common::jwt_payload(&access_token)["cnf"]["x5t#S256"], x5t_s256(&cert));
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();
    let (status, refreshed) = post(
        "/token",
        auth(),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh_token)],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");

    // Introspection and revocation.
    let (status, about) = post("/introspect", auth(), &[("token", &access_token)]).await;
    assert_eq!((status, &about["active"]), (200, &json!(true)), "{about}");
    let (status, _) = post("/revoke", auth(), &[("token", &refresh_token)]).await;
    assert_eq!(status, 200);
    let (_, about) = post("/introspect", auth(), &[("token", &refresh_token)]).await;
    assert_eq!(about["active"], false);
    env.finish().await;
}

async fn a_replayed_assertion_is_refused_by_another_process(db: Db) {
    let env = TestEnv::start(db).await;
    let key = ClientKey::generate(SigningAlg::Es256);
    register(&env, "pk1", Some(key.jwks()), None).await;
    let second = env.start_second_node().await;
    let cert = env.issue("pk1-transport");
    let first_http = env.http(Some(&cert));
    let second_http = common::http_client(
        &env.pki,
        second.mtls_addr.unwrap(),
        Some((common::chain_of(&cert), common::key_of(&cert))),
    );
    let assertion = key.sign(Some("JWT"), &assertion_claims("pk1", json!(env.issuer()), 60));
    assert_eq!(token(&env, &first_http, "pk1", &assertion).await.0, 200);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "pk1"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion.as_str()),
    ];
    let url = format!("https://localhost:{}/token", second.mtls_addr.unwrap().port());
    let (status, body) = post_form(&second_http, &url, &form).await;
    assert_invalid_client(status, &body);
    second.shutdown().await;
    // Recorded ids are forgotten once their JWTs have expired, and not before.
    let now = certbound::now();
    assert!(env.store.record_jti("probe", "j1", now + 60).await.unwrap());
    // The batching writer: of many recordings of one id at once, exactly one is first, however
    // they fall into batches; other ids are unaffected.
    let recorder = Arc::new(certbound::store::seen_jtis::JtiRecorder::start(env.store.clone()));
    let attempts: Vec<_> = (0..40)
        .map(|i| {
            let recorder = recorder.clone();
            let jti = if i % 2 == 0 {
                "same".to_string()
            } else {
                format!("other-{i}")
            };
            tokio::spawn(async move { (i % 2 == 0, recorder.record("burst", &jti, now + 60).await.unwrap()) })
        })
        .collect();
    let mut firsts_of_same = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            (true, first) => firsts_of_same += usize::from(first),
            (false, first) => assert!(first, "a distinct id is new"),
        }
    }
    assert_eq!(firsts_of_same, 1);
    assert!(!env.store.record_jti("burst", "same", now + 60).await.unwrap());
    assert_eq!(
        env.store.purge_seen_jtis(now).await.unwrap(),
        0,
        "nothing has expired yet"
    );
    assert!(env.store.purge_seen_jtis(now + 3600).await.unwrap() >= 2);
    assert!(env.store.record_jti("probe", "j1", now + 60).await.unwrap());
    env.finish().await;
}

/// A TPP's web server publishing its JWKS over TLS, counting the fetches.
struct JwksServer {
    url: String,
    jwks: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn jwks_server(env: &TestEnv, jwks: Value) -> JwksServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let shared = Arc::new(Mutex::new(jwks));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (served, counted) = (shared.clone(), fetches.clone());
    let app = Router::new().route(
        "/jwks.json",
        get(move || {
            let (served, counted) = (served.clone(), counted.clone());
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                axum::Json(served.lock().unwrap().clone())
            }
        }),
    );
    let tls = certbound::tls::server_config(&env.pki.server_cert(), &env.pki.server_key(), false).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(certbound::tls::serve(
        listener,
        tls,
        Arc::new(certbound::tls::Forwarding::default()),
        app,
        async {
            let _ = stopped.await;
        },
    ));
    JwksServer {
        url: format!("https://localhost:{port}/jwks.json"),
        jwks: shared,
        fetches,
        _stop: stop,
    }
}

async fn keys_at_a_jwks_uri_are_fetched_cached_and_refreshed(db: Db) {
    let env = TestEnv::start_with(db, |f| {
        f.client_jwks = Some(ClientJwksConfig {
            // The dev CA signed the test's JWKS server; it listens on loopback.
            ca_file: Some(f.data_dir.clone().unwrap().join("pki/ca.pem")),
            allow_private_addresses: true,
            min_refresh_seconds: Some(1),
        })
    })
    .await;
    let first = ClientKey::generate(SigningAlg::Es256);
    let server = jwks_server(&env, first.jwks()).await;
    register(&env, "pk1", None, Some(server.url.clone())).await;
    let http = env.http(Some(&env.issue("pk1-transport")));
    let issuer = env.issuer();
    let sign = |key: &ClientKey| key.sign(Some("JWT"), &assertion_claims("pk1", json!(issuer), 60));
    assert_eq!(token(&env, &http, "pk1", &sign(&first)).await.0, 200);
    assert_eq!(token(&env, &http, "pk1", &sign(&first)).await.0, 200);
    assert_eq!(server.fetches.load(Ordering::SeqCst), 1, "cached");

    // The TPP rotates its key: an assertion with the new kid makes certbound fetch again (once
    // the minimum interval has passed); a flood of made-up kids costs at most one fetch a second.
    let second = ClientKey::generate(SigningAlg::Es256);
    *server.jwks.lock().unwrap() = second.jwks();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(token(&env, &http, "pk1", &sign(&second)).await.0, 200);
    let fetched = server.fetches.load(Ordering::SeqCst);
    assert_eq!(fetched, 2);
    for _ in 0..20 {
        let stranger = ClientKey::generate(SigningAlg::Es256);
        assert_invalid_client_pair(token(&env, &http, "pk1", &sign(&stranger)).await);
    }
    assert!(server.fetches.load(Ordering::SeqCst) <= fetched + 1, "rate-limited");
    // The rotated-out key no longer works once its JWKS is gone.
    assert_invalid_client_pair(token(&env, &http, "pk1", &sign(&first)).await);
    env.finish().await;

    // By default a jwks_uri on a loopback or private address is not fetched at all.
    let env = TestEnv::start_with(db, |f| {
        f.client_jwks = Some(ClientJwksConfig {
            ca_file: Some(f.data_dir.clone().unwrap().join("pki/ca.pem")),
            ..ClientJwksConfig::default()
        })
    })
    .await;
    let key = ClientKey::generate(SigningAlg::Es256);
    let server = jwks_server(&env, key.jwks()).await;
    register(&env, "pk1", None, Some(server.url.clone())).await;
    let http = env.http(Some(&env.issue("pk1-transport")));
    let assertion = key.sign(Some("JWT"), &assertion_claims("pk1", json!(env.issuer()), 60));
    assert_invalid_client_pair(token(&env, &http, "pk1", &assertion).await);
    assert_eq!(server.fetches.load(Ordering::SeqCst), 0, "never contacted");
    env.finish().await;
}

fn assert_invalid_client_pair((status, body): (u16, Value)) {
    assert_invalid_client(status, &body);
}
