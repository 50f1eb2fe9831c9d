//! The admin console's tests share these: administrators, waiting for what a form post changes,
//! and requests replayed with a console session's cookie.

use std::time::{Duration, Instant};

use certbound::domain::{AdminRole, Administrator};
use certbound::rs::api_keys::ApiKeyFailure;
use fantoccini::Client;

use super::chromium::{arrived_at, chromium, element, sign_in, text_of};
use certbound::config::FileConfig;

use super::{Db, KillOnDrop, TestEnv};

pub const OPS: (&str, &str) = ("ops", "correct horse battery");
pub const AUDITOR: (&str, &str) = ("auditor", "staple paper clip");

pub async fn add_administrators(env: &TestEnv) {
    for ((name, password), role) in [(OPS, AdminRole::Admin), (AUDITOR, AdminRole::Viewer)] {
        let admin = Administrator::register(name, password, role).unwrap();
        env.store.insert_administrator(&admin).await.unwrap();
    }
}

/// Polls the token endpoint until it answers `want` (running nodes see registration changes
/// within the one-second reload interval).
pub async fn token_status_becomes(env: &TestEnv, http: &reqwest::Client, client_id: &str, want: u16) {
    let started = Instant::now();
    loop {
        let (status, body) = env.token(http, client_id, &[]).await;
        if status == want {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "token still {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the element's text contains `want`, across the page load a form post starts
/// (the old page may have the same element, or lose it while it is read).
pub async fn text_becomes(browser: &Client, css: &str, want: &str) {
    let started = Instant::now();
    loop {
        if let Ok(found) = browser.find(fantoccini::Locator::Css(css)).await {
            if found.text().await.is_ok_and(|t| t.contains(want)) {
                return;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{css} never said {want:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the element's class is `want` (the page after a form post has loaded).
pub async fn class_becomes(browser: &Client, css: &str, want: &str) {
    let started = Instant::now();
    loop {
        let class = element(browser, css).await.attr("class").await.ok().flatten();
        if class.as_deref() == Some(want) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{css} is still {class:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the running server's API key cache gives `want` for `key`.
pub async fn key_is(env: &TestEnv, key: &str, client_id: &str, want: Result<(), ApiKeyFailure>) {
    for _ in 0..100 {
        let got = env
            .server()
            .local
            .api_keys
            .verify(key, client_id, None, certbound::now())
            .await;
        if got == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server's API keys did not come to {want:?}");
}

/// The browser's console session cookie, to replay requests a page would not send.
pub async fn session_cookie(browser: &Client) -> String {
    let cookie = browser.get_named_cookie("__Host-certbound-admin").await.unwrap();
    format!("__Host-certbound-admin={}", cookie.value())
}

pub async fn hidden_csrf(browser: &Client) -> String {
    element(browser, "form[action='/admin/sign-out'] input[name=csrf]")
        .await
        .attr("value")
        .await
        .unwrap()
        .unwrap()
}

/// A form post with the given cookie, as another page (or site) might send it.
pub async fn post_as(env: &TestEnv, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let http = super::http_client(&env.pki, env.front_addr(), None);
    let response = http
        .post(env.front_url(path))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

pub async fn no_alert(browser: &Client) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        browser.get_alert_text().await.is_err(),
        "a dialog fired: markup a TPP controls ran as script"
    );
}

/// What must live as long as the browser: chromedriver and the profile directory.
pub struct Held(KillOnDrop, tempfile::TempDir);

/// A server with the two administrators, a browser signed in as `who`, and the screenshot name
/// for a page (`admin-{page}-{database}`).
pub async fn signed_in(db: Db, who: (&str, &str)) -> (TestEnv, Held, Client, impl Fn(&str) -> String) {
    signed_in_with(db, who, |_| {}).await
}

/// [`signed_in`] to a server configured further by `configure`.
pub async fn signed_in_with(
    db: Db,
    who: (&str, &str),
    configure: impl FnOnce(&mut FileConfig),
) -> (TestEnv, Held, Client, impl Fn(&str) -> String) {
    let env = TestEnv::start_with(db, |f| {
        f.display_name = Some("Demo Bank".into());
        configure(f);
    })
    .await;
    add_administrators(&env).await;
    let tag = match db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    };
    let profile = tempfile::tempdir().unwrap();
    let (driver, browser) = chromium(profile.path()).await;
    browser.goto(&env.front_url("/admin/sign-in")).await.unwrap();
    sign_in(&browser, who.0, who.1).await;
    arrived_at(&browser, &env.front_url("/admin/clients")).await;
    assert!(text_of(&browser, ".who").await.contains(who.0));
    (env, Held(driver, profile), browser, move |page: &str| {
        format!("admin-{page}-{tag}")
    })
}

/// The sign-in form's token and the cookie that must come back with it.
pub async fn sign_in_form(env: &TestEnv, http: &reqwest::Client) -> (String, String) {
    let response = http.get(env.front_url("/admin/sign-in")).send().await.unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let cookie = cookie.split(';').next().unwrap().to_string();
    let html = response.text().await.unwrap();
    let token = html
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    (cookie, token)
}
