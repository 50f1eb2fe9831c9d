//! Signed request objects at PAR (RFC 9101, FAPI 2.0 Message Signing §5.3.1) over real TLS:
//! signed with a key of the client's registered JWKS whatever its authentication method, their
//! claims the whole request, and every rule refusing what it must.

mod common;

use certbound::domain::client::jwks_from_pem_certificates;
use certbound::domain::{AuthMethod, GrantType, SubjectMatcher};
use certbound::pki::dev::{self, CertSpec};
use certbound::pki::DistinguishedName;
use common::flow::{self, REDIRECT_URI};
use common::keys::{hmac_signed, unsigned, ClientKey};
use common::tpp::{dpop_key, signing_key, Auth, Binding, Tpp};
use common::{jwt_payload, pki_client, post_form, Db, TestEnv};
use serde_json::{json, Value};

on_both_databases!(
    a_signed_request_object_is_the_request,
    every_authentication_method_signs_with_its_registered_jwks,
    a_client_may_be_required_to_sign,
    every_request_object_rule_refuses_what_it_must,
);

/// The claims of a good request object from `client_id`, for `issuer`.
fn request_claims(client_id: &str, issuer: &str, challenge: &str) -> Value {
    let now = certbound::now();
    json!({
        "iss": client_id, "aud": issuer, "client_id": client_id,
        "nbf": now, "exp": now + 300, "iat": now, "jti": certbound::jose::random_id(),
        "response_type": "code", "redirect_uri": REDIRECT_URI, "scope": "openid accounts",
        "state": "inside", "nonce": "n-inside",
        "code_challenge": challenge, "code_challenge_method": "S256",
    })
}

/// A `tls_client_auth` client (`CN={id}`) that also registered `jwks`.
async fn register_mtls_with_jwks(env: &TestEnv, id: &str, jwks: Value, require_signed: bool) {
    let mut client = pki_client(
        id,
        SubjectMatcher::Dn(DistinguishedName::parse(&format!("CN={id}")).unwrap()),
        "openid accounts",
    );
    client.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
    client.redirect_uris = vec![REDIRECT_URI.into()];
    client.jwks = Some(jwks);
    client.require_signed_request_object = require_signed;
    client.validate().unwrap();
    env.store.insert_client(&client).await.unwrap();
}

/// PAR with `client_id` and `request` (and `extra`) over `http`.
async fn push(
    env: &TestEnv,
    http: &reqwest::Client,
    client_id: &str,
    request: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![("client_id", client_id), ("request", request)];
    form.extend_from_slice(extra);
    post_form(http, &env.url("/par"), &form).await
}

async fn a_signed_request_object_is_the_request(db: Db) {
    let env = TestEnv::start(db).await;
    let key = signing_key();
    register_mtls_with_jwks(&env, "tpp1", key.jwks(), false).await;
    let http = env.http(Some(&env.issue("tpp1")));
    let (verifier, challenge) = flow::pkce();
    let request = key.sign(
        Some("oauth-authz-req+jwt"),
        &request_claims("tpp1", &env.issuer(), &challenge),
    );
    // Parameters beside the request object are ignored (RFC 9101 §6.3): they would widen the
    // scope and redirect elsewhere, and they change nothing.
    let outer = [
        ("scope", "openid accounts payments"),
        ("redirect_uri", "https://attacker.example/cb"),
        ("state", "outside"),
    ];
    let (status, pushed) = push(&env, &http, "tpp1", &request, &outer).await;
    assert_eq!(status, 201, "{pushed}");
    let back = flow::approve(
        &env,
        "tpp1",
        pushed["request_uri"].as_str().unwrap(),
        flow::ALICE,
        &["22289"],
    )
    .await;
    let location = back.location.clone().unwrap();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    assert_eq!(back.redirect_param("state").as_deref(), Some("inside"));
    let code = back.redirect_param("code").unwrap();
    let (status, tokens) = flow::redeem(&env, &http, "tpp1", &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        jwt_payload(tokens["access_token"].as_str().unwrap())["scope"],
        "openid accounts"
    );
    assert_eq!(jwt_payload(tokens["id_token"].as_str().unwrap())["nonce"], "n-inside");
    // No typ is accepted too (RFC 9101 §4 recommends it, older clients omit it).
    let request = key.sign(None, &request_claims("tpp1", &env.issuer(), &challenge));
    assert_eq!(push(&env, &http, "tpp1", &request, &[]).await.0, 201);
    env.finish().await;
}

async fn every_authentication_method_signs_with_its_registered_jwks(db: Db) {
    let env = TestEnv::start(db).await;
    let (_, challenge) = flow::pkce();
    // private_key_jwt, with a DPoP proof on PAR: one key set for the assertion and the object.
    let pk = Tpp::register(
        &env,
        "pk",
        Auth::PrivateKeyJwt(signing_key()),
        Binding::Dpop(dpop_key()),
    )
    .await;
    let Auth::PrivateKeyJwt(key) = &pk.auth else {
        unreachable!()
    };
    let request = key.sign(
        Some("oauth-authz-req+jwt"),
        &request_claims("pk", &env.issuer(), &challenge),
    );
    let (status, body) = pk.post(&env, "/par", &[("request", &request)]).await;
    assert_eq!(status, 201, "{body}");
    // self_signed_tls_client_auth: one JWKS holding its certificate (x5c) and a signing key.
    let cert = dev::self_signed(&CertSpec::client("selfie", 30)).unwrap();
    let signer = ClientKey::generate(certbound::jose::SigningAlg::EdDsa);
    let mut jwks = jwks_from_pem_certificates(&[cert.cert_pem.as_bytes().to_vec()]).unwrap();
    jwks["keys"].as_array_mut().unwrap().push(signer.public_jwk.clone());
    let mut client = pki_client("selfie", SubjectMatcher::SanDns("unused".into()), "openid accounts");
    client.auth_method = AuthMethod::SelfSignedTlsClientAuth;
    client.subject = None;
    client.grant_types = vec![GrantType::AuthorizationCode];
    client.redirect_uris = vec![REDIRECT_URI.into()];
    client.jwks = Some(jwks);
    client.validate().unwrap();
    env.store.insert_client(&client).await.unwrap();
    let http = env.http(Some(&cert));
    let request = signer.sign(
        Some("oauth-authz-req+jwt"),
        &request_claims("selfie", &env.issuer(), &challenge),
    );
    let (status, body) = push(&env, &http, "selfie", &request, &[]).await;
    assert_eq!(status, 201, "{body}");
    env.finish().await;
}

async fn a_client_may_be_required_to_sign(db: Db) {
    let env = TestEnv::start(db).await;
    let key = signing_key();
    register_mtls_with_jwks(&env, "strict", key.jwks(), true).await;
    let http = env.http(Some(&env.issue("strict")));
    let (_, challenge) = flow::pkce();
    let (status, body) = flow::par(&env, &http, "strict", &challenge, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let request = key.sign(
        Some("oauth-authz-req+jwt"),
        &request_claims("strict", &env.issuer(), &challenge),
    );
    assert_eq!(push(&env, &http, "strict", &request, &[]).await.0, 201);
    env.finish().await;
}

async fn every_request_object_rule_refuses_what_it_must(db: Db) {
    let env = TestEnv::start(db).await;
    let key = signing_key();
    let stranger = signing_key();
    register_mtls_with_jwks(&env, "tpp1", key.jwks(), false).await;
    register_mtls_with_jwks(&env, "tpp2", stranger.jwks(), false).await;
    let http = env.http(Some(&env.issue("tpp1")));
    let (_, challenge) = flow::pkce();
    let issuer = env.issuer();
    let good = || request_claims("tpp1", &issuer, &challenge);
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
    let sign = |claims: &Value| key.sign(Some("oauth-authz-req+jwt"), claims);
    let now = certbound::now();
    let jwe = {
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let header = json!({"alg": "RSA-OAEP-256", "enc": "A256GCM", "cty": "JWT"}).to_string();
        format!(
            "{}.{}.{}.{}.{}",
            b64(header.as_bytes()),
            b64(&[1; 256]),
            b64(&[2; 12]),
            b64(&[3; 64]),
            b64(&[4; 16])
        )
    };
    let cases: Vec<(&str, String)> = vec![
        ("unsigned", unsigned(&good())),
        (
            "HS256 with the public key as secret",
            hmac_signed(&key.kid, &good(), key.public_jwk.to_string().as_bytes()),
        ),
        (
            "signed by another client's key",
            stranger.sign(Some("oauth-authz-req+jwt"), &good()),
        ),
        ("encrypted", jwe),
        ("typ of an access token", key.sign(Some("at+jwt"), &good())),
        ("aud another server", sign(&with("aud", json!("https://other.example")))),
        ("aud the PAR endpoint", sign(&with("aud", json!(env.url("/par"))))),
        ("no aud", sign(&without("aud"))),
        ("expired", sign(&with("exp", json!(now - 60)))),
        ("no exp", sign(&without("exp"))),
        ("no nbf", sign(&without("nbf"))),
        ("nbf in the future", sign(&with("nbf", json!(now + 120)))),
        (
            "nbf over an hour old",
            sign(&{
                let mut c = with("nbf", json!(now - 3700));
                c["exp"] = json!(now + 60);
                c
            }),
        ),
        ("exp over an hour after nbf", sign(&with("exp", json!(now + 3700)))),
        ("iss another client", sign(&with("iss", json!("tpp2")))),
        ("client_id another client", sign(&with("client_id", json!("tpp2")))),
        ("no client_id", sign(&without("client_id"))),
        (
            "a nested request_uri",
            sign(&with("request_uri", json!("urn:ietf:params:oauth:request_uri:x"))),
        ),
        ("not a JWT", "nonsense".into()),
    ];
    for (case, request) in cases {
        let (status, body) = push(&env, &http, "tpp1", &request, &[]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request_object")),
            "{case}: {body}"
        );
        if case == "encrypted" {
            assert_eq!(
                body["error_description"],
                "the request object must be signed, not encrypted"
            );
        }
    }
    // The request's own parameters are checked as a form's would be.
    let request = sign(&with("redirect_uri", json!("https://attacker.example/cb")));
    let (status, body) = push(&env, &http, "tpp1", &request, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    // The same client's object sent by another client (tpp2 authenticates, tpp1 signed).
    let http2 = env.http(Some(&env.issue("tpp2")));
    let (status, body) = push(&env, &http2, "tpp2", &sign(&good()), &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request_object")),
        "{body}"
    );
    env.finish().await;
}
