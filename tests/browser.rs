//! The customer's pages in a real headless Chromium, over WebDriver (chromedriver): sign in,
//! consent, and land on the TPP's redirect URI with `code` and `iss`; deny; a wrong password.
//! Screenshots of the pages go to target/screenshots/.

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use certbound::domain::{GrantType, SubjectMatcher};
use certbound::pki::DistinguishedName;
use common::flow::{self, ALICE};
use common::{Db, KillOnDrop, TestEnv};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free loopback port, and a WebDriver session with headless Chromium in a
/// fresh profile.
async fn chromium(profile: &std::path::Path) -> (KillOnDrop, Client) {
    let port = common::free_port();
    let driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (scripts/test.sh installs chromium-driver)");
    let driver = KillOnDrop(driver);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut capabilities = serde_json::Map::new();
    // The dev CA is not in Chromium's trust store; the pages' TLS is tested elsewhere.
    capabilities.insert("acceptInsecureCerts".into(), json!(true));
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=900,1000", format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session");
    (driver, client)
}

/// The TPP's redirect endpoint: a page that says the customer is back.
async fn tpp_callback(env: &TestEnv) -> (u16, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tls = certbound::tls::server_config(&env.pki.server_cert(), &env.pki.server_key(), false).unwrap();
    let app = Router::new().route("/cb", get(|| async { "Back at the TPP" }));
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
    (port, stop)
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The element, once the page that has it has loaded.
async fn element(browser: &Client, css: &str) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
}

async fn text_of(browser: &Client, css: &str) -> String {
    element(browser, css).await.text().await.unwrap()
}

/// The URL once the browser has arrived somewhere starting with `prefix`.
async fn arrived_at(browser: &Client, prefix: &str) -> String {
    let started = Instant::now();
    loop {
        let url = browser.current_url().await.unwrap().to_string();
        if url.starts_with(prefix) {
            return url;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still at {url}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sign_in(browser: &Client, username: &str, password: &str) {
    let field = element(browser, "#username").await;
    field.clear().await.unwrap();
    field.send_keys(username).await.unwrap();
    element(browser, "#password").await.send_keys(password).await.unwrap();
    element(browser, "button[type=submit]").await.click().await.unwrap();
}

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
