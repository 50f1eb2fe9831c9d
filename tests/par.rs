//! Pushed authorization requests (RFC 9126, FAPI 2.0 SP §5.3.2.2): everything is validated when
//! the client pushes, over mutual TLS, and each refusal is the standard error.

mod common;

use certbound::domain::GrantType;
use common::flow::{self, REDIRECT_URI};
use common::{assert_invalid_client, Db, TestEnv};

/// Extra PAR parameters and the error they must cause.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a str);

on_both_databases!(
    par_refuses_what_fapi_forbids,
    par_answers_created_with_a_one_time_request_uri
);

async fn par_answers_created_with_a_one_time_request_uri(db: Db) {
    let env = TestEnv::start(db).await;
    flow::register_tpp(&env, "tpp1", "openid accounts").await;
    let tpp = env.http(Some(&env.issue("tpp1")));
    let (_, challenge) = flow::pkce();
    let (status, first) = flow::par(&env, &tpp, "tpp1", &challenge, &[]).await;
    assert_eq!(status, 201, "{first}");
    let (_, second) = flow::par(&env, &tpp, "tpp1", &challenge, &[]).await;
    assert_ne!(
        first["request_uri"], second["request_uri"],
        "every push gets its own URI"
    );
    let id = first["request_uri"].as_str().unwrap().rsplit(':').next().unwrap();
    assert_eq!(id.len(), 43, "256 random bits");
    assert_eq!(first["expires_in"], 60);
    env.finish().await;
}

async fn par_refuses_what_fapi_forbids(db: Db) {
    let env = TestEnv::start(db).await;
    flow::register_tpp(&env, "tpp1", "openid accounts").await;
    // A client registered for client credentials only.
    env.register_pki_client("cc-only", "cc-only", "accounts").await;
    let cert = env.issue("tpp1");
    let tpp = env.http(Some(&cert));
    let (_, challenge) = flow::pkce();
    let urn = "urn:ietf:params:oauth:request_uri:abc";
    let cases: &[Case] = &[
        (&[("request_uri", urn)], "invalid_request"),
        (&[("request", "eyJhbGciOiJub25lIn0.e30.")], "invalid_request_object"),
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("response_type", "code id_token")], "unsupported_response_type"),
        (&[("response_type", "")], "invalid_request"),
        (&[("redirect_uri", "")], "invalid_request"),
        (&[("redirect_uri", "https://attacker.example/cb")], "invalid_request"),
        (&[("redirect_uri", "https://tpp.example/cb/")], "invalid_request"),
        (&[("redirect_uri", "https://TPP.example/cb")], "invalid_request"),
        (&[("code_challenge", "")], "invalid_request"),
        (&[("code_challenge_method", "")], "invalid_request"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("code_challenge", "too-short")], "invalid_request"),
        (
            &[("code_challenge", "=========================================AA")],
            "invalid_request",
        ),
        (&[("response_mode", "fragment")], "invalid_request"),
        (&[("response_mode", "form_post")], "invalid_request"),
        (&[("scope", "openid payments")], "invalid_scope"),
        (&[("resource", "not-a-uri")], "invalid_target"),
    ];
    for (extra, error) in cases {
        let (got, body) = flow::par(&env, &tpp, "tpp1", &challenge, extra).await;
        assert_eq!((got, body["error"].as_str()), (400, Some(*error)), "{extra:?}: {body}");
    }
    let long_state = "s".repeat(513);
    let (got, body) = flow::par(&env, &tpp, "tpp1", &challenge, &[("state", &long_state)]).await;
    assert_eq!((got, body["error"].as_str()), (400, Some("invalid_request")), "{body}");
    // A parameter sent twice is refused, not resolved.
    let (got, body) = common::post_form(
        &tpp,
        &env.url("/par"),
        &[
            ("client_id", "tpp1"),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT_URI),
            ("redirect_uri", "https://attacker.example/cb"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!((got, body["error"].as_str()), (400, Some("invalid_request")), "{body}");

    // Not authenticated: no certificate, another client's certificate, the front listener.
    let (got, body) = flow::par(&env, &env.http(None), "tpp1", &challenge, &[]).await;
    assert_invalid_client(got, &body);
    let (got, body) = flow::par(&env, &env.http(Some(&env.issue("tpp2"))), "tpp1", &challenge, &[]).await;
    assert_invalid_client(got, &body);
    let (got, body) = common::post_form(
        &tpp,
        &env.front_url("/par"),
        &[("client_id", "tpp1"), ("response_type", "code")],
    )
    .await;
    assert_invalid_client(got, &body);
    // A client not registered for the code flow.
    let (got, body) = flow::par(&env, &env.http(Some(&env.issue("cc-only"))), "cc-only", &challenge, &[]).await;
    assert_eq!(
        (got, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    // And a registration that cannot work is refused: the code grant without a redirect URI.
    let mut broken = certbound::domain::Client {
        client_id: "broken".into(),
        ..env.store.get_client("tpp1").await.unwrap().unwrap()
    };
    broken.redirect_uris.clear();
    assert!(broken.validate().is_err());
    broken.grant_types = vec![GrantType::RefreshToken];
    assert!(broken.validate().is_err(), "refresh_token alone");
    env.finish().await;
}
