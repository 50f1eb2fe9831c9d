//! The customer's pages in a real headless Chromium, over WebDriver (chromedriver): sign in,
//! consent, and land on the TPP's redirect URI with `code` and `iss`; deny; a wrong password; an
//! Open Banking consent authorised for one account.
//! Screenshots of the pages go to target/screenshots/.

mod common;

use certbound::domain::{GrantType, SubjectMatcher};
use certbound::pki::DistinguishedName;
use common::chromium::{arrived_at, chromium, element, query_param, screenshot, sign_in, text_of, tpp_callback};
use common::flow::{self, ALICE};
use common::openbanking::{consent_detail, ObTpp};
use common::{Db, TestEnv};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_signs_in_consents_and_denies_in_chromium() {
    let env = TestEnv::start_with(Db::Sqlite, |f| f.display_name = Some("Demo Bank".into())).await;
    let (callback_port, stop_callback) = tpp_callback(&env).await;
    let redirect_uri = format!("https://localhost:{callback_port}/cb");
    let mut client = common::pki_client(
        "budget-app",
        SubjectMatcher::Dn(DistinguishedName::parse("CN=budget-app").unwrap()),
        "openid accounts",
    );
    client.name = "Budget Buddy".into();
    client.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
    client.redirect_uris = vec![redirect_uri.clone()];
    env.store.insert_client(&client).await.unwrap();
    let tpp = env.http(Some(&env.issue("budget-app")));
    let push = || async {
        let (verifier, challenge) = flow::pkce();
        let (status, pushed) = flow::par(
            &env,
            &tpp,
            "budget-app",
            &challenge,
            &[("redirect_uri", &redirect_uri), ("state", "s-42")],
        )
        .await;
        assert_eq!(status, 201, "{pushed}");
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", "budget-app")
            .append_pair("request_uri", pushed["request_uri"].as_str().unwrap())
            .finish();
        (env.front_url(&format!("/authorize?{query}")), verifier)
    };

    let profile = tempfile::tempdir().unwrap();
    let (_driver, browser) = chromium(profile.path()).await;

    // A wrong password first: the page says so, and nothing else.
    let (url, verifier) = push().await;
    browser.goto(&url).await.unwrap();
    arrived_at(&browser, &env.front_url("/interaction/")).await;
    assert!(text_of(&browser, ".lead").await.contains("Budget Buddy"));
    screenshot(&browser, "login").await;
    sign_in(&browser, ALICE.0, "not-the-password").await;
    assert_eq!(
        text_of(&browser, ".error").await,
        "The username or password is not right."
    );
    screenshot(&browser, "login-error").await;

    // Then the right one, the consent page, one account, Approve.
    sign_in(&browser, ALICE.0, ALICE.1).await;
    element(&browser, "button[value=approve]").await;
    let heading = text_of(&browser, "h1").await;
    assert!(heading.contains("Budget Buddy"), "{heading}");
    let page = browser.source().await.unwrap();
    for text in [
        "Confirm who you are",
        "See your account details",
        "Account 22289",
        "Account 31820",
    ] {
        assert!(page.contains(text), "consent page lacks {text:?}");
    }
    element(&browser, "input[name=account][value='22289']")
        .await
        .click()
        .await
        .unwrap();
    screenshot(&browser, "consent").await;
    element(&browser, "button[value=approve]").await.click().await.unwrap();
    let landed = arrived_at(&browser, &redirect_uri).await;
    assert_eq!(landed.split('?').next().unwrap(), redirect_uri, "{landed}");
    let param = |name: &str| query_param(&landed, name);
    assert_eq!(param("iss"), Some(env.issuer()));
    assert_eq!(param("state").as_deref(), Some("s-42"));
    let code = param("code").expect("a code");
    assert_eq!(text_of(&browser, "body").await, "Back at the TPP");
    screenshot(&browser, "landed").await;
    // The code the browser carried is good at the token endpoint.
    let (status, tokens) = common::post_form(
        &tpp,
        &env.url("/token"),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "budget-app"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");

    // Deny: back at the TPP with access_denied.
    let (url, _) = push().await;
    browser.goto(&url).await.unwrap();
    sign_in(&browser, ALICE.0, ALICE.1).await;
    element(&browser, "button[value=deny]").await.click().await.unwrap();
    let landed = arrived_at(&browser, &redirect_uri).await;
    let param = |name: &str| query_param(&landed, name);
    assert_eq!(param("error").as_deref(), Some("access_denied"), "{landed}");
    assert_eq!(param("iss"), Some(env.issuer()));
    assert!(param("code").is_none());

    // A link used twice shows the error page, in plain words.
    browser.goto(&url).await.unwrap();
    assert_eq!(text_of(&browser, "h1").await, "This link cannot be used");
    screenshot(&browser, "error").await;

    browser.close().await.unwrap();
    let _ = stop_callback.send(());
    env.finish().await;
}

/// An Open Banking consent authorised in Chromium: the TPP creates it, the customer reads its
/// permissions, window and expiry in plain words, chooses one account, and the bank then answers
/// for that account only, with what the consent allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_authorises_an_open_banking_consent_in_chromium() {
    let env = TestEnv::start_with(Db::Sqlite, |f| {
        f.display_name = Some("Demo Bank".into());
        f.demo_bank = Some(true);
    })
    .await;
    let (callback_port, stop_callback) = tpp_callback(&env).await;
    let redirect_uri = format!("https://localhost:{callback_port}/cb");
    let tpp = ObTpp::register_with(&env, "budget-app", |c| {
        c.name = "Budget Buddy".into();
        c.redirect_uris = vec![redirect_uri.clone()];
    })
    .await;
    let consent_id = tpp
        .create_consent(
            &env,
            &[
                "ReadAccountsDetail",
                "ReadBalances",
                "ReadTransactionsDetail",
                "ReadTransactionsDebits",
            ],
            json!({
                "ExpirationDateTime": "2027-03-01T00:00:00+00:00",
                "TransactionFromDateTime": "2026-01-01T00:00:00+00:00",
                "TransactionToDateTime": "2026-11-30T23:59:59+00:00",
            }),
        )
        .await;
    let (verifier, challenge) = flow::pkce();
    let details = consent_detail(&consent_id);
    let (status, pushed) = flow::par(
        &env,
        &tpp.http,
        &tpp.id,
        &challenge,
        &[("redirect_uri", &redirect_uri), ("authorization_details", &details)],
    )
    .await;
    assert_eq!(status, 201, "{pushed}");
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &tpp.id)
        .append_pair("request_uri", pushed["request_uri"].as_str().unwrap())
        .finish();

    let profile = tempfile::tempdir().unwrap();
    let (_driver, browser) = chromium(profile.path()).await;
    browser
        .goto(&env.front_url(&format!("/authorize?{query}")))
        .await
        .unwrap();
    arrived_at(&browser, &env.front_url("/interaction/")).await;
    sign_in(&browser, ALICE.0, ALICE.1).await;
    element(&browser, "button[value=approve]").await;
    let page = browser.source().await.unwrap();
    for text in [
        "Budget Buddy",
        "See your accounts",
        "See your balances",
        "See your transactions",
        "Money out only",
        "Transactions from 1 January 2026 to 30 November 2026.",
        "1 March 2027",
    ] {
        assert!(page.contains(text), "consent page lacks {text:?}");
    }
    assert!(
        !page.contains("See your account details"),
        "the consent replaces the scope's summary"
    );
    element(&browser, "input[name=account][value='31820']")
        .await
        .click()
        .await
        .unwrap();
    screenshot(&browser, "consent-open-banking").await;
    element(&browser, "button[value=approve]").await.click().await.unwrap();
    let landed = arrived_at(&browser, &redirect_uri).await;
    let code = query_param(&landed, "code").expect("a code");
    let (status, tokens) = common::post_form(
        &tpp.http,
        &env.url("/token"),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &tpp.id),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap();
    let accounts = tpp.bank(&env, token, "/accounts").await;
    assert_eq!(
        accounts.body["Data"]["Account"][0]["AccountId"], "31820",
        "{accounts:?}"
    );
    assert_eq!(accounts.body["Data"]["Account"].as_array().unwrap().len(), 1);
    assert_eq!(tpp.bank(&env, token, "/accounts/31820/balances").await.status, 200);
    let transactions = tpp.bank(&env, token, "/accounts/31820/transactions").await;
    let listed: Vec<(&str, &str)> = transactions.body["Data"]["Transaction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["TransactionId"].as_str().unwrap(),
                t["TransactionInformation"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, vec![("T1", "Coffee Roasters"), ("T3", "Energy bill")]);

    browser.close().await.unwrap();
    let _ = stop_callback.send(());
    env.finish().await;
}
