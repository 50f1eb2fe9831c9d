//! Headless Chromium over WebDriver (chromedriver) for the customer's pages: a fresh profile per
//! session, a TPP redirect endpoint to land on, and screenshots to target/screenshots/.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::{free_port, KillOnDrop, TestEnv};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free loopback port, and a WebDriver session with headless Chromium in a
/// fresh profile.
pub async fn chromium(profile: &std::path::Path) -> (KillOnDrop, Client) {
    let port = free_port();
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
pub async fn tpp_callback(env: &TestEnv) -> (u16, tokio::sync::oneshot::Sender<()>) {
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

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The element, once the page that has it has loaded.
pub async fn element(browser: &Client, css: &str) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
}

pub async fn text_of(browser: &Client, css: &str) -> String {
    element(browser, css).await.text().await.unwrap()
}

/// The URL once the browser has arrived somewhere starting with `prefix`.
pub async fn arrived_at(browser: &Client, prefix: &str) -> String {
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

pub async fn sign_in(browser: &Client, username: &str, password: &str) {
    let field = element(browser, "#username").await;
    field.clear().await.unwrap();
    field.send_keys(username).await.unwrap();
    element(browser, "#password").await.send_keys(password).await.unwrap();
    element(browser, "button[type=submit]").await.click().await.unwrap();
}

/// Clicks the element, once the page that has it has loaded.
pub async fn click(browser: &Client, css: &str) {
    element(browser, css).await.click().await.unwrap();
}

/// Types `text` into the element, once the page that has it has loaded.
pub async fn type_into(browser: &Client, css: &str, text: &str) {
    element(browser, css).await.send_keys(text).await.unwrap();
}
