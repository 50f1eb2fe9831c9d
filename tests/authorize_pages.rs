//! The front channel refuses with a page, never a redirect: request_uri reused, expired, of
//! another client or absent; parameters outside PAR; the customer's forms without their CSRF
//! token or from another browser; sign-in failures and throttling; consent decisions.

mod common;

use common::flow::{self, Browser, Page, ALICE, BOB, REDIRECT_URI};
use common::{Db, TestEnv};

on_both_databases!(
    authorize_accepts_only_a_fresh_request_uri_of_its_client,
    forms_need_their_csrf_token_and_their_browser,
    sign_in_failures_look_alike_and_are_throttled,
    denial_and_consent_rules,
    everything_a_client_controls_is_escaped,
);

/// An error page: HTML, the given status, no redirect, the pages' headers.
fn assert_error_page(page: &Page, status: u16) {
    assert_eq!(page.status, status, "{page:?}");
    assert!(page.location.is_none(), "never a redirect: {page:?}");
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert_eq!(page.headers["cache-control"], "no-store");
}

async fn push(env: &TestEnv, client_id: &str) -> String {
    let tpp = env.http(Some(&env.issue(client_id)));
    let (_, challenge) = flow::pkce();
    let (status, body) = flow::par(env, &tpp, client_id, &challenge, &[]).await;
    assert_eq!(status, 201, "{body}");
    body["request_uri"].as_str().unwrap().to_string()
}

fn authorize_url(params: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    format!("/authorize?{}", query.finish())
}

async fn authorize_accepts_only_a_fresh_request_uri_of_its_client(db: Db) {
    let env = TestEnv::start(db).await;
    flow::register_tpp(&env, "tpp1", "openid accounts").await;
    flow::register_tpp(&env, "tpp2", "openid accounts").await;
    let mut browser = Browser::new(&env);

    // Used once, then never again.
    let request_uri = push(&env, "tpp1").await;
    let first = browser
        .get(&authorize_url(&[("client_id", "tpp1"), ("request_uri", &request_uri)]))
        .await;
    assert_eq!(first.status, 303);
    let again = browser
        .get(&authorize_url(&[("client_id", "tpp1"), ("request_uri", &request_uri)]))
        .await;
    assert_error_page(&again, 400);

    // Another client's request_uri.
    let request_uri = push(&env, "tpp1").await;
    let foreign = browser
        .get(&authorize_url(&[("client_id", "tpp2"), ("request_uri", &request_uri)]))
        .await;
    assert_error_page(&foreign, 400);
    // ... which did not use it up for its own client.
    let own = browser
        .get(&authorize_url(&[("client_id", "tpp1"), ("request_uri", &request_uri)]))
        .await;
    assert_eq!(own.status, 303, "{own:?}");

    // Parameters outside the pushed request, even harmless-looking ones.
    for extra in [
        ("scope", "openid"),
        ("redirect_uri", REDIRECT_URI),
        ("state", "x"),
        ("response_type", "code"),
    ] {
        let request_uri = push(&env, "tpp1").await;
        let page = browser
            .get(&authorize_url(&[
                ("client_id", "tpp1"),
                ("request_uri", &request_uri),
                extra,
            ]))
            .await;
        assert_error_page(&page, 400);
    }

    // Absent, malformed, unknown; and no client_id.
    for params in [
        vec![("client_id", "tpp1")],
        vec![
            ("client_id", "tpp1"),
            ("request_uri", "https://tpp.example/request.jwt"),
        ],
        vec![
            ("client_id", "tpp1"),
            ("request_uri", "urn:ietf:params:oauth:request_uri:nope"),
        ],
        vec![
            ("client_id", "tpp1"),
            (
                "request_uri",
                "urn:ietf:params:oauth:request_uri:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            ),
        ],
        vec![("request_uri", "urn:ietf:params:oauth:request_uri:x")],
        vec![],
    ] {
        assert_error_page(&browser.get(&authorize_url(&params)).await, 400);
    }

    // Expired: a pushed request one second past its lifetime.
    let request_uri = push(&env, "tpp1").await;
    let id = request_uri.rsplit(':').next().unwrap();
    expire_pushed_request(&env, id).await;
    let page = browser
        .get(&authorize_url(&[("client_id", "tpp1"), ("request_uri", &request_uri)]))
        .await;
    assert_error_page(&page, 400);

    // POST works like GET; other methods are 405.
    let request_uri = push(&env, "tpp1").await;
    let posted = browser
        .post("/authorize", &[("client_id", "tpp1"), ("request_uri", &request_uri)])
        .await;
    assert_eq!(posted.status, 303, "{posted:?}");
    let put = reqwest_put(&env).await;
    assert_eq!(put, 405);
    env.finish().await;
}

async fn reqwest_put(env: &TestEnv) -> u16 {
    env.http(None)
        .put(env.front_url("/authorize"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Moves a pushed request's expiry into the past, through the database.
async fn expire_pushed_request(env: &TestEnv, id: &str) {
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(id.as_bytes()));
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&env.database_url).await.unwrap();
    let done = sqlx::query("UPDATE pushed_requests SET expires_at = $1 WHERE id_hash = $2")
        .bind(certbound::now() - 1)
        .bind(hash)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
    pool.close().await;
}

async fn forms_need_their_csrf_token_and_their_browser(db: Db) {
    let env = TestEnv::start(db).await;
    flow::register_tpp(&env, "tpp1", "openid accounts").await;
    let mut browser = Browser::new(&env);
    let login = browser.authorize("tpp1", &push(&env, "tpp1").await).await;
    let action = login.form_action();

    // No token, and another interaction's token.
    let no_token = browser
        .post(&action, &[("username", ALICE.0), ("password", ALICE.1)])
        .await;
    assert_error_page(&no_token, 403);
    let mut other = Browser::new(&env);
    let foreign = other.authorize("tpp1", &push(&env, "tpp1").await).await;
    let with_foreign = browser
        .post(
            &action,
            &[("csrf", &foreign.csrf()), ("username", ALICE.0), ("password", ALICE.1)],
        )
        .await;
    assert_error_page(&with_foreign, 403);

    // Another browser (another session cookie, or none) with the right token.
    let stolen = other
        .post(
            &action,
            &[("csrf", &login.csrf()), ("username", ALICE.0), ("password", ALICE.1)],
        )
        .await;
    assert_error_page(&stolen, 403);
    let mut cookieless = Browser::new(&env);
    assert_error_page(&cookieless.get(&action.replace("/login", "")).await, 403);

    // The right browser and token sign in; the consent form needs its token too.
    let signed_in = browser.sign_in(&login, ALICE.0, ALICE.1).await;
    assert_eq!(signed_in.status, 303);
    let consent = browser.get(signed_in.location.as_deref().unwrap()).await;
    let consent_action = consent.form_action();
    let forged = browser
        .post(&consent_action, &[("decision", "approve"), ("account", "22289")])
        .await;
    assert_error_page(&forged, 403);
    let forged = browser
        .post(
            &consent_action,
            &[("csrf", &foreign.csrf()), ("decision", "approve"), ("account", "22289")],
        )
        .await;
    assert_error_page(&forged, 403);
    // The old session cookie no longer opens the interaction after sign-in.
    let approved = browser.decide(&consent, "approve", &["22289"]).await;
    assert_eq!(approved.status, 303);
    assert!(approved.redirect_param("code").is_some());
    // Posted twice: the second is refused, no second code.
    let twice = browser.decide(&consent, "approve", &["22289"]).await;
    assert_error_page(&twice, 400);
    env.finish().await;
}

async fn sign_in_failures_look_alike_and_are_throttled(db: Db) {
    let env = TestEnv::start(db).await;
    flow::register_tpp(&env, "tpp1", "openid accounts").await;

    // Alice signs in once from her own browser, which it then remembers.
    let mut alices = Browser::new(&env);
    let login = alices.authorize("tpp1", &push(&env, "tpp1").await).await;
    assert_eq!(alices.sign_in(&login, ALICE.0, ALICE.1).await.status, 303);
    assert!(alices.cookies.iter().any(|(k, _)| k == "__Host-certbound-device"));

    // Wrong password, unknown user, malformed username: the same page.
    let mut attacker = Browser::new(&env);
    let login = attacker.authorize("tpp1", &push(&env, "tpp1").await).await;
    let wrong = attacker.sign_in(&login, ALICE.0, "not-her-password").await;
    let unknown = attacker.sign_in(&login, "mallory", "whatever-password").await;
    let malformed = attacker.sign_in(&login, "<script>", "whatever-password").await;
    for page in [&wrong, &unknown, &malformed] {
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains("The username or password is not right."),
            "{}",
            page.body
        );
        assert!(!page.body.contains("<script>"), "escaped");
    }
    let strip = |p: &Page, name: &str| p.body.replace(name, "");
    assert_eq!(
        strip(&wrong, ALICE.0),
        strip(&unknown, "mallory"),
        "no hint which one was wrong"
    );

    // Three more failures for alice (five in all): the sixth attempt is refused, even with the
    // right password, with a clear message.
    for _ in 0..4 {
        assert_eq!(attacker.sign_in(&login, ALICE.0, "guess-guess").await.status, 200);
    }
    let throttled = attacker.sign_in(&login, ALICE.0, ALICE.1).await;
    assert_eq!(throttled.status, 429, "{throttled:?}");
    assert!(throttled.body.contains("Too many failed sign-in attempts"));
    // Other customers are not affected.
    assert_eq!(attacker.sign_in(&login, BOB.0, BOB.1).await.status, 303);

    // Alice's own browser is exempt from the per-username limit: no lockout by an attacker.
    let login = alices.authorize("tpp1", &push(&env, "tpp1").await).await;
    assert_eq!(alices.sign_in(&login, ALICE.0, ALICE.1).await.status, 303);
    env.finish().await;
}

async fn denial_and_consent_rules(db: Db) {
    let env = TestEnv::start(db).await;
    flow::register_tpp(&env, "tpp1", "openid accounts").await;
    let mut browser = Browser::new(&env);

    // Deny: access_denied with state and iss.
    let login = browser.authorize("tpp1", &push(&env, "tpp1").await).await;
    let signed_in = browser.sign_in(&login, ALICE.0, ALICE.1).await;
    let consent = browser.get(signed_in.location.as_deref().unwrap()).await;
    let denied = browser.decide(&consent, "deny", &[]).await;
    assert_eq!(denied.status, 303);
    assert!(denied.location.as_deref().unwrap().starts_with(REDIRECT_URI));
    assert_eq!(denied.redirect_param("error").as_deref(), Some("access_denied"));
    assert_eq!(denied.redirect_param("state").as_deref(), Some("st-1"));
    assert_eq!(denied.redirect_param("iss"), Some(env.issuer()));
    assert!(denied.redirect_param("code").is_none());

    // The accounts scope needs an account; only the customer's own; no decision is no grant.
    let login = browser.authorize("tpp1", &push(&env, "tpp1").await).await;
    let signed_in = browser.sign_in(&login, ALICE.0, ALICE.1).await;
    let consent = browser.get(signed_in.location.as_deref().unwrap()).await;
    let none = browser.decide(&consent, "approve", &[]).await;
    assert_eq!(none.status, 400);
    assert!(none.body.contains("Choose at least one account"), "{}", none.body);
    let bobs = browser.decide(&consent, "approve", &["40417"]).await;
    assert_eq!(bobs.status, 400, "bob's account is not alice's to share");
    assert!(bobs.location.is_none());
    let undecided = browser.decide(&consent, "maybe", &["22289"]).await;
    assert_eq!(undecided.status, 400);
    // Approved from four tabs at once: one grant, one code.
    let mut tabs = [browser.clone(), browser.clone(), browser.clone(), browser.clone()];
    let [a, b, c, d] = &mut tabs;
    let accounts = ["22289", "31820", "22289"];
    let (ra, rb, rc, rd) = tokio::join!(
        a.decide(&consent, "approve", &accounts),
        b.decide(&consent, "approve", &accounts),
        c.decide(&consent, "approve", &accounts),
        d.decide(&consent, "approve", &accounts),
    );
    let approved: Vec<&Page> = [&ra, &rb, &rc, &rd].into_iter().filter(|p| p.status == 303).collect();
    assert_eq!(approved.len(), 1, "{ra:?} {rb:?} {rc:?} {rd:?}");
    let grants = env.store.list_grants(None, Some("tpp1")).await.unwrap();
    assert_eq!(grants.len(), 1, "one grant, for the approval only");
    assert_eq!(grants[0].accounts, ["22289", "31820"]);
    assert_eq!(grants[0].scopes, ["openid", "accounts"]);
    env.finish().await;
}

async fn everything_a_client_controls_is_escaped(db: Db) {
    let env = TestEnv::start(db).await;
    let mut client = flow::register_tpp(&env, "evil", "openid accounts <b>bold</b>").await;
    client.client_id = "evil2".into();
    client.subject = Some(certbound::domain::SubjectMatcher::Dn(
        certbound::pki::DistinguishedName::parse("CN=evil2").unwrap(),
    ));
    client.name = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>".into();
    env.store.insert_client(&client).await.unwrap();
    let cert = env
        .ca
        .issue(&certbound::pki::dev::CertSpec::client("evil2", 30))
        .unwrap();
    let tpp = env.http(Some(&cert));
    let (_, challenge) = flow::pkce();
    let (status, pushed) = flow::par(
        &env,
        &tpp,
        "evil2",
        &challenge,
        &[("scope", "openid accounts <b>bold</b>")],
    )
    .await;
    assert_eq!(status, 201, "{pushed}");
    let mut browser = Browser::new(&env);
    let login = browser
        .authorize("evil2", pushed["request_uri"].as_str().unwrap())
        .await;
    assert!(!login.body.contains("<script>alert(1)"), "{}", login.body);
    let shown = |body: &str| body.replace("&#60;", "&lt;").replace("&#62;", "&gt;");
    assert!(
        shown(&login.body).contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        login.body
    );
    assert!(!login.body.contains("<img src=x"));
    let signed_in = browser.sign_in(&login, ALICE.0, ALICE.1).await;
    let consent = browser.get(signed_in.location.as_deref().unwrap()).await;
    assert!(!consent.body.contains("<script>alert(1)"));
    assert!(!consent.body.contains("<b>bold</b>"), "scope strings are escaped too");
    assert!(
        shown(&consent.body).contains("&lt;b&gt;bold&lt;/b&gt;"),
        "{}",
        consent.body
    );
    env.finish().await;
}
