//! DPoP at the authorization server (RFC 9449) over real TLS: tokens bound to a DPoP key in every
//! combination with the two client authentications, codes bound at PAR, refresh tokens held to
//! their key, server nonces, and every proof check refusing what it must.

mod common;

use common::dpop::{DpopKey, Proof};
use common::flow::{self, REDIRECT_URI};
use common::tpp::{dpop_key, signing_key, Auth, Binding, Tpp};
use common::{jwt_payload, x5t_s256, Db, TestEnv};
use serde_json::{json, Value};

on_both_databases!(
    client_credentials_in_all_four_combinations,
    the_code_flow_in_all_four_combinations,
    a_code_bound_at_par_is_redeemed_with_that_key_only,
    refresh_tokens_of_dpop_grants_need_the_same_key,
    the_server_nonce_is_required_and_rotates,
    every_proof_check_refuses_what_it_must,
    a_dpop_bound_client_must_send_a_proof,
);

/// The four FAPI 2.0 combinations: certificate or assertion, bound to a certificate or a key.
async fn four_tpps(env: &TestEnv) -> Vec<Tpp> {
    vec![
        Tpp::register(env, "mtls-mtls", Auth::Certificate, Binding::Certificate).await,
        Tpp::register(env, "mtls-dpop", Auth::Certificate, Binding::Dpop(dpop_key())).await,
        Tpp::register(
            env,
            "pkjwt-mtls",
            Auth::PrivateKeyJwt(signing_key()),
            Binding::Certificate,
        )
        .await,
        Tpp::register(
            env,
            "pkjwt-dpop",
            Auth::PrivateKeyJwt(signing_key()),
            Binding::Dpop(dpop_key()),
        )
        .await,
    ]
}

/// The token response and its access token are bound as the TPP binds: `token_type` and `cnf`.
fn assert_bound(tpp: &Tpp, response: &Value) {
    let claims = jwt_payload(response["access_token"].as_str().unwrap());
    match tpp.dpop() {
        Some(key) => {
            assert_eq!(response["token_type"], "DPoP", "{}: {response}", tpp.id);
            assert_eq!(claims["cnf"], json!({ "jkt": key.jkt() }), "{}", tpp.id);
        }
        None => {
            assert_eq!(response["token_type"], "Bearer", "{}: {response}", tpp.id);
            let cert = tpp.cert.as_ref().unwrap();
            assert_eq!(claims["cnf"], json!({ "x5t#S256": x5t_s256(cert) }), "{}", tpp.id);
        }
    }
}

async fn client_credentials_in_all_four_combinations(db: Db) {
    let env = TestEnv::start(db).await;
    for tpp in four_tpps(&env).await {
        let (status, body) = tpp.client_credentials(&env).await;
        assert_eq!(status, 200, "{}: {body}", tpp.id);
        assert_bound(&tpp, &body);
    }
    env.finish().await;
}

async fn the_code_flow_in_all_four_combinations(db: Db) {
    let env = TestEnv::start(db).await;
    for tpp in four_tpps(&env).await {
        let tokens = tpp.code_flow(&env).await;
        assert_bound(&tpp, &tokens);
        let (status, refreshed) = tpp.refresh(&env, tokens["refresh_token"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{}: {refreshed}", tpp.id);
        assert_bound(&tpp, &refreshed);
    }
    env.finish().await;
}

/// PAR for `tpp` with `extra` parameters, sending a DPoP proof when it binds by DPoP; returns
/// the PKCE verifier and the response.
async fn push(env: &TestEnv, tpp: &Tpp, extra: &[(&str, &str)]) -> (String, u16, Value) {
    let (verifier, challenge) = flow::pkce();
    let mut form = flow::par_params(&challenge);
    form.extend_from_slice(extra);
    let (status, body) = tpp.post(env, "/par", &form).await;
    (verifier, status, body)
}

/// PAR, then alice's approval: the code.
async fn code_for(env: &TestEnv, tpp: &Tpp, pushed: &Value) -> String {
    let back = flow::approve(
        env,
        &tpp.id,
        pushed["request_uri"].as_str().unwrap(),
        flow::ALICE,
        &["22289"],
    )
    .await;
    back.redirect_param("code").expect("a code")
}

async fn a_code_bound_at_par_is_redeemed_with_that_key_only(db: Db) {
    let env = TestEnv::start(db).await;
    // Bound by a proof on the PAR request: a proof of another key cannot redeem the code, and
    // neither can a request without one.
    let key = dpop_key();
    let tpp = Tpp::register(&env, "tpp1", Auth::Certificate, Binding::Dpop(key)).await;
    let another_key = dpop_key();
    for redeemer in ["another key", "no proof", "the right key"] {
        let (verifier, status, pushed) = push(&env, &tpp, &[]).await;
        assert_eq!(status, 201, "{pushed}");
        let code = code_for(&env, &tpp, &pushed).await;
        let (status, body) = match redeemer {
            "another key" => {
                let form = redeem_form(&code, &verifier);
                let mut auth = vec![("client_id", "tpp1")];
                auth.extend(form.iter().map(|(k, v)| (*k, v.as_str())));
                another_key.post_form(&tpp.http, &env.url("/token"), &auth).await
            }
            "no proof" => {
                let form = redeem_form(&code, &verifier);
                let mut auth = vec![("client_id", "tpp1")];
                auth.extend(form.iter().map(|(k, v)| (*k, v.as_str())));
                common::post_form(&tpp.http, &env.url("/token"), &auth).await
            }
            _ => tpp.redeem(&env, &code, &verifier).await,
        };
        if redeemer == "the right key" {
            assert_eq!(status, 200, "{body}");
            assert_bound(&tpp, &body);
        } else {
            assert_eq!(
                (status, body["error"].as_str()),
                (400, Some("invalid_grant")),
                "{redeemer}: {body}"
            );
        }
    }

    // Bound by `dpop_jkt` alone (RFC 9449 §10), the PAR request carrying no proof.
    let plain = Tpp::register(&env, "tpp2", Auth::Certificate, Binding::Certificate).await;
    let key = dpop_key();
    let (verifier, status, pushed) = push(&env, &plain, &[("dpop_jkt", &key.jkt())]).await;
    assert_eq!(status, 201, "{pushed}");
    let code = code_for(&env, &plain, &pushed).await;
    let (status, body) = plain.redeem(&env, &code, &verifier).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let (verifier, _, pushed) = push(&env, &plain, &[("dpop_jkt", &key.jkt())]).await;
    let code = code_for(&env, &plain, &pushed).await;
    let mut form = vec![("client_id", "tpp2")];
    let redeem = redeem_form(&code, &verifier);
    form.extend(redeem.iter().map(|(k, v)| (*k, v.as_str())));
    let (status, body) = key.post_form(&plain.http, &env.url("/token"), &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_payload(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        key.jkt()
    );

    // dpop_jkt and the proof's key must agree; dpop_jkt must be a thumbprint.
    let (_, status, body) = push(&env, &tpp, &[("dpop_jkt", &dpop_key().jkt())]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "{body}"
    );
    let (_, status, body) = push(&env, &plain, &[("dpop_jkt", "not-a-thumbprint")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    env.finish().await;
}

fn redeem_form(code: &str, verifier: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "authorization_code".into()),
        ("code", code.into()),
        ("redirect_uri", REDIRECT_URI.into()),
        ("code_verifier", verifier.into()),
    ]
}

async fn refresh_tokens_of_dpop_grants_need_the_same_key(db: Db) {
    let env = TestEnv::start(db).await;
    let tpp = Tpp::register(
        &env,
        "pk",
        Auth::PrivateKeyJwt(signing_key()),
        Binding::Dpop(dpop_key()),
    )
    .await;
    let tokens = tpp.code_flow(&env).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    // Another key, and no proof at all (the client has a certificate to bind to instead).
    let other = DpopKey::generate(certbound::jose::SigningAlg::EdDsa);
    let auth = tpp.auth_params();
    let mut form: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
    form.extend([("grant_type", "refresh_token"), ("refresh_token", refresh_token)]);
    let (status, body) = other.post_form(&tpp.http, &env.url("/token"), &form).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let cert = env.issue("pk");
    let with_cert = env.http(Some(&cert));
    let auth = tpp.auth_params();
    let mut form: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
    form.extend([("grant_type", "refresh_token"), ("refresh_token", refresh_token)]);
    let (status, body) = common::post_form(&with_cert, &env.url("/token"), &form).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    // The right key still works: a refusal does not burn the refresh token.
    let (status, body) = tpp.refresh(&env, refresh_token).await;
    assert_eq!(status, 200, "{body}");
    assert_bound(&tpp, &body);
    env.finish().await;
}

async fn the_server_nonce_is_required_and_rotates(db: Db) {
    let env = TestEnv::start(db).await;
    let key = dpop_key();
    Tpp::register(&env, "tpp1", Auth::Certificate, Binding::Certificate).await;
    let http = env.http(Some(&env.issue("tpp1")));
    let url = env.url("/token");
    let form = [("grant_type", "client_credentials"), ("client_id", "tpp1")];
    // Without a nonce: use_dpop_nonce, and the nonce to use in DPoP-Nonce (RFC 9449 §8).
    let (status, body, nonce) = DpopKey::post_with(&http, &url, &key.proof("POST", &url), &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("use_dpop_nonce")),
        "{body}"
    );
    let nonce = nonce.expect("a DPoP-Nonce header");
    // A made-up nonce is refused the same way.
    let proof = Proof {
        nonce: Some("made-up".into()),
        ..Proof::for_request("POST", &url)
    };
    let (_, body, _) = DpopKey::post_with(&http, &url, &key.sign(&proof), &form).await;
    assert_eq!(body["error"], "use_dpop_nonce");
    // With the server's nonce: a token, and the nonce to use next.
    let proof = Proof {
        nonce: Some(nonce.clone()),
        ..Proof::for_request("POST", &url)
    };
    let (status, body, next) = DpopKey::post_with(&http, &url, &key.sign(&proof), &form).await;
    assert_eq!(status, 200, "{body}");
    assert!(next.is_some());
    // Nonces are the same on every node sharing the key-encryption key (no shared state).
    let second = env.start_second_node().await;
    let addr = second.mtls_addr.unwrap();
    let url2 = format!("https://localhost:{}/token", addr.port());
    let proof = Proof {
        nonce: Some(nonce),
        ..Proof::for_request("POST", &url2)
    };
    let cert = env.issue("tpp1");
    let http2 = common::http_client(&env.pki, addr, Some((common::chain_of(&cert), common::key_of(&cert))));
    let (status, body, _) = DpopKey::post_with(&http2, &url2, &key.sign(&proof), &form).await;
    assert_eq!(status, 200, "{body}");
    second.shutdown().await;
    env.finish().await;
}

async fn every_proof_check_refuses_what_it_must(db: Db) {
    let env = TestEnv::start(db).await;
    let key = dpop_key();
    let other = dpop_key();
    Tpp::register(&env, "tpp1", Auth::Certificate, Binding::Certificate).await;
    let http = env.http(Some(&env.issue("tpp1")));
    let url = env.url("/token");
    let form = [("grant_type", "client_credentials"), ("client_id", "tpp1")];
    let (_, _, nonce) = DpopKey::post_with(&http, &url, &key.proof("POST", &url), &form).await;
    let nonce = nonce.unwrap();
    let good = || Proof {
        nonce: Some(nonce.clone()),
        ..Proof::for_request("POST", &url)
    };
    let now = certbound::now();
    let claims =
        |proof: &Proof| json!({"htm": proof.htm, "htu": proof.htu, "iat": proof.iat, "jti": proof.jti, "nonce": nonce});
    let public_jwk = |k: &DpopKey| {
        let mut jwk = k.key.public_jwk.clone();
        jwk.as_object_mut().unwrap().remove("kid");
        jwk
    };
    let replayed = key.sign(&good());
    let cases: Vec<(&str, String)> = vec![
        ("typ JWT", key.sign(&Proof { typ: "JWT", ..good() })),
        (
            "typ at+jwt",
            key.sign(&Proof {
                typ: "at+jwt",
                ..good()
            }),
        ),
        (
            "htm GET",
            key.sign(&Proof {
                htm: "GET".into(),
                ..good()
            }),
        ),
        (
            "htu another endpoint",
            key.sign(&Proof {
                htu: env.url("/par"),
                ..good()
            }),
        ),
        (
            "htu another host",
            key.sign(&Proof {
                htu: "https://attacker.example/token".into(),
                ..good()
            }),
        ),
        (
            "htu another scheme",
            key.sign(&Proof {
                htu: url.replace("https", "http"),
                ..good()
            }),
        ),
        (
            "iat three minutes old",
            key.sign(&Proof {
                iat: now - 180,
                ..good()
            }),
        ),
        (
            "iat a minute ahead",
            key.sign(&Proof {
                iat: now + 60,
                ..good()
            }),
        ),
        ("jti used before", replayed.clone()),
        (
            "no jti",
            key.sign_raw("dpop+jwt", public_jwk(&key), &{
                let mut c = claims(&good());
                c.as_object_mut().unwrap().remove("jti");
                c
            }),
        ),
        (
            "a private jwk",
            key.sign_raw(
                "dpop+jwt",
                {
                    let mut jwk = public_jwk(&key);
                    jwk["d"] = "AAAA".into();
                    jwk
                },
                &claims(&good()),
            ),
        ),
        (
            "signed by another key",
            key.sign_raw("dpop+jwt", public_jwk(&other), &claims(&good())),
        ),
        ("no jwk", key.key.sign(Some("dpop+jwt"), &claims(&good()))),
        ("alg none", {
            use base64::Engine;
            let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
            format!(
                "{}.{}.",
                b64(json!({"typ": "dpop+jwt", "alg": "none", "jwk": public_jwk(&key)})),
                b64(claims(&good()))
            )
        }),
        ("HS256 with a symmetric jwk", {
            use base64::Engine;
            let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
            let header = json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "c2VjcmV0"}});
            let input = format!("{}.{}", b64(header), b64(claims(&good())));
            let secret = jsonwebtoken::EncodingKey::from_secret(b"secret");
            let signature =
                jsonwebtoken::crypto::sign(input.as_bytes(), &secret, jsonwebtoken::Algorithm::HS256).unwrap();
            format!("{input}.{signature}")
        }),
        ("not a JWT", "nonsense".into()),
    ];
    // The same proof twice: the first is accepted.
    let (status, body, _) = DpopKey::post_with(&http, &url, &replayed, &form).await;
    assert_eq!(status, 200, "{body}");
    for (case, proof) in cases {
        let (status, body, _) = DpopKey::post_with(&http, &url, &proof, &form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_dpop_proof")),
            "{case}: {body}"
        );
    }
    // Two DPoP headers.
    let response = http
        .post(&url)
        .header("DPoP", key.sign(&good()))
        .header("DPoP", key.sign(&good()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_dpop_proof");
    // A query on htu is not compared (RFC 9449 §4.3), and every allowed algorithm works.
    let (status, body, _) = DpopKey::post_with(
        &http,
        &url,
        &key.sign(&Proof {
            htu: format!("{url}?x=1"),
            ..good()
        }),
        &form,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for alg in [certbound::jose::SigningAlg::Ps256, certbound::jose::SigningAlg::EdDsa] {
        let key = DpopKey::generate(alg);
        let (status, body, _) = DpopKey::post_with(&http, &url, &key.sign(&good()), &form).await;
        assert_eq!(status, 200, "{}: {body}", alg.as_str());
        assert_eq!(
            jwt_payload(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
            key.jkt()
        );
    }
    env.finish().await;
}

async fn a_dpop_bound_client_must_send_a_proof(db: Db) {
    let env = TestEnv::start(db).await;
    let mut client = common::pki_client(
        "tpp1",
        certbound::domain::SubjectMatcher::Dn(certbound::pki::DistinguishedName::parse("CN=tpp1").unwrap()),
        "accounts",
    );
    client.dpop_bound_access_tokens = true;
    env.store.insert_client(&client).await.unwrap();
    let http = env.http(Some(&env.issue("tpp1")));
    let form = [("grant_type", "client_credentials"), ("client_id", "tpp1")];
    // Its certificate is on the connection, but its tokens must be DPoP-bound.
    let (status, body) = common::post_form(&http, &env.url("/token"), &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "{body}"
    );
    let (status, body) = dpop_key().post_form(&http, &env.url("/token"), &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    env.finish().await;
}
