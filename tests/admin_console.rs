//! The admin console in a real headless Chromium over WebDriver, on SQLite and PostgreSQL:
//! sign in; register a client by uploading its certificate, then get a token with it over
//! mTLS; disable it (token refused) and enable it; delete it after typing the password again;
//! a viewer sees everything and changes nothing; forms without the session's CSRF token are
//! refused; a client name and a certificate subject holding HTML render inert. Screenshots go
//! to target/screenshots/admin-*.png.

mod common;

use std::time::{Duration, Instant};

use certbound::domain::{AdminRole, Administrator};
use certbound::rs::api_keys::ApiKeyFailure;
use common::chromium::{arrived_at, chromium, element, screenshot, sign_in, text_of};
use common::{Db, TestEnv};
use fantoccini::Client;

const OPS: (&str, &str) = ("ops", "correct horse battery");
const AUDITOR: (&str, &str) = ("auditor", "staple paper clip");

async fn add_administrators(env: &TestEnv) {
    for ((name, password), role) in [(OPS, AdminRole::Admin), (AUDITOR, AdminRole::Viewer)] {
        let admin = Administrator::register(name, password, role).unwrap();
        env.store.insert_administrator(&admin).await.unwrap();
    }
}

/// Polls the token endpoint until it answers `want` (running nodes see registration changes
/// within the one-second reload interval).
async fn token_status_becomes(env: &TestEnv, http: &reqwest::Client, client_id: &str, want: u16) {
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
async fn text_becomes(browser: &Client, css: &str, want: &str) {
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
async fn class_becomes(browser: &Client, css: &str, want: &str) {
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
async fn key_is(env: &TestEnv, key: &str, want: Result<(), ApiKeyFailure>) {
    for _ in 0..100 {
        let got = env
            .server()
            .local
            .api_keys
            .verify(key, "budget-buddy", None, certbound::now())
            .await;
        if got == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server's API keys did not come to {want:?}");
}

/// The browser's console session cookie, to replay requests a page would not send.
async fn session_cookie(browser: &Client) -> String {
    let cookie = browser.get_named_cookie("__Host-certbound-admin").await.unwrap();
    format!("__Host-certbound-admin={}", cookie.value())
}

async fn hidden_csrf(browser: &Client) -> String {
    element(browser, "form[action='/admin/sign-out'] input[name=csrf]")
        .await
        .attr("value")
        .await
        .unwrap()
        .unwrap()
}

/// A form post with the given cookie, as another page (or site) might send it.
async fn post_as(env: &TestEnv, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let http = common::http_client(&env.pki, env.front_addr(), None);
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

async fn no_alert(browser: &Client) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        browser.get_alert_text().await.is_err(),
        "a dialog fired: markup a TPP controls ran as script"
    );
}

async fn console(db: Db) {
    let env = TestEnv::start_with(db, |f| f.display_name = Some("Demo Bank".into())).await;
    add_administrators(&env).await;
    let tag = match db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    };
    let shot = |name: &str| format!("admin-{name}-{tag}");
    let profile = tempfile::tempdir().unwrap();
    let (_driver, browser) = chromium(profile.path()).await;

    // Signed out, the console sends the browser to sign in; a wrong password is refused.
    browser.goto(&env.front_url("/admin/clients")).await.unwrap();
    arrived_at(&browser, &env.front_url("/admin/sign-in")).await;
    screenshot(&browser, &shot("sign-in")).await;
    sign_in(&browser, OPS.0, "not the password").await;
    assert_eq!(
        text_of(&browser, ".error").await,
        "The username or password is not right."
    );
    sign_in(&browser, OPS.0, OPS.1).await;
    arrived_at(&browser, &env.front_url("/admin/clients")).await;
    assert!(text_of(&browser, ".who").await.contains("ops"));

    // Register a client by uploading its certificate file.
    let tpp = env.issue("budget-tpp");
    let cert_file = env.dir.path().join("budget-tpp.pem");
    std::fs::write(&cert_file, &tpp.cert_pem).unwrap();
    element(&browser, "a[href='/admin/clients/new']")
        .await
        .click()
        .await
        .unwrap();
    element(&browser, "#file")
        .await
        .send_keys(cert_file.to_str().unwrap())
        .await
        .unwrap();
    element(&browser, "form[enctype] button.primary")
        .await
        .click()
        .await
        .unwrap();
    assert_eq!(text_of(&browser, "#cert-subject").await, "CN=budget-tpp");
    let trust = element(&browser, "#trust").await;
    assert_eq!(
        trust.attr("class").await.unwrap().as_deref(),
        Some("ok"),
        "{}",
        trust.text().await.unwrap()
    );
    assert_eq!(text_of(&browser, "#cert-thumbprint").await, common::x5t_s256(&tpp));
    let name = element(&browser, "#name").await;
    assert_eq!(name.prop("value").await.unwrap().as_deref(), Some("budget-tpp"));
    name.clear().await.unwrap();
    name.send_keys("Budget Buddy").await.unwrap();
    let id_field = element(&browser, "#client_id").await;
    id_field.clear().await.unwrap();
    id_field.send_keys("budget-buddy").await.unwrap();
    element(&browser, "#scope").await.send_keys("accounts").await.unwrap();
    screenshot(&browser, &shot("register")).await;
    element(&browser, "form[action='/admin/clients'] button.primary")
        .await
        .click()
        .await
        .unwrap();
    arrived_at(&browser, &env.front_url("/admin/clients/budget-buddy")).await;
    assert!(text_of(&browser, "h1").await.contains("Budget Buddy"));

    // The registration works over mTLS with that certificate.
    let http = env.http(Some(&tpp));
    token_status_becomes(&env, &http, "budget-buddy", 200).await;
    // The page shows the last success once the audit writer has stored it.
    assert!(env.server().state.audit.settled(Duration::from_secs(5)).await);
    browser.refresh().await.unwrap();
    text_becomes(&browser, "dl.facts + h2 + dl.facts", "CN=budget-tpp").await;
    screenshot(&browser, &shot("client")).await;

    // Disable: refused at the token endpoint. Enable: issued again.
    element(&browser, "button[value=disabled]").await.click().await.unwrap();
    element(&browser, "button[value=active]").await;
    token_status_becomes(&env, &http, "budget-buddy", 401).await;
    element(&browser, "button[value=active]").await.click().await.unwrap();
    element(&browser, "button[value=disabled]").await;
    token_status_becomes(&env, &http, "budget-buddy", 200).await;

    // Edit: a scope more, and the token endpoint grants it.
    element(&browser, "a[href='/admin/clients/budget-buddy/edit']")
        .await
        .click()
        .await
        .unwrap();
    let scope = element(&browser, "#scope").await;
    assert_eq!(scope.prop("value").await.unwrap().as_deref(), Some("accounts"));
    scope.send_keys(" payments").await.unwrap();
    screenshot(&browser, &shot("edit")).await;
    element(&browser, "form[action$='/edit'] button.primary")
        .await
        .click()
        .await
        .unwrap();
    arrived_at(&browser, &env.front_url("/admin/clients/budget-buddy")).await;
    assert!(text_of(&browser, "dl.facts").await.contains("payments"));
    let started = Instant::now();
    loop {
        let (status, body) = env.token(&http, "budget-buddy", &[("scope", "payments")]).await;
        if status == 200 {
            assert_eq!(body["scope"], "payments");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{status}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // An edit that would not make a valid registration is refused with the reason, and
    // changes nothing.
    element(&browser, "a[href='/admin/clients/budget-buddy/edit']")
        .await
        .click()
        .await
        .unwrap();
    element(&browser, "#cert_pins")
        .await
        .send_keys("not-a-thumbprint")
        .await
        .unwrap();
    element(&browser, "form[action$='/edit'] button.primary")
        .await
        .click()
        .await
        .unwrap();
    assert!(text_of(&browser, ".error").await.contains("not-a-thumbprint"));
    token_status_becomes(&env, &http, "budget-buddy", 200).await;
    browser
        .goto(&env.front_url("/admin/clients/budget-buddy"))
        .await
        .unwrap();

    // Test certificates against the client: its own passes every check; another's fails the
    // check a real token request with it fails, by the same name.
    element(&browser, "a[href='/admin/clients/budget-buddy/test']")
        .await
        .click()
        .await
        .unwrap();
    element(&browser, "#pem").await.send_keys(&tpp.cert_pem).await.unwrap();
    element(&browser, "form[enctype] button.primary")
        .await
        .click()
        .await
        .unwrap();
    assert_eq!(
        element(&browser, "#verdict")
            .await
            .attr("class")
            .await
            .unwrap()
            .as_deref(),
        Some("ok")
    );
    let stranger = env.issue("someone-else");
    element(&browser, "#pem")
        .await
        .send_keys(&stranger.cert_pem)
        .await
        .unwrap();
    element(&browser, "form[enctype] button.primary")
        .await
        .click()
        .await
        .unwrap();
    // The old page has a verdict too: wait for the new one.
    class_becomes(&browser, "#verdict", "error").await;
    let failed = text_of(&browser, "tr[data-check=certificate_subject_matches]").await;
    assert!(failed.contains("failed"), "{failed}");
    for passed in [
        "client_active",
        "certificate_valid_now",
        "certificate_chain_trusted",
        "certificate_pinned",
    ] {
        let row = text_of(&browser, &format!("tr[data-check={passed}]")).await;
        assert!(row.contains("passed"), "{row}");
    }
    screenshot(&browser, &shot("test-certificate")).await;
    let (status, _) = env.token(&env.http(Some(&stranger)), "budget-buddy", &[]).await;
    assert_eq!(status, 401);
    env.server().state.audit.settled(Duration::from_secs(5)).await;
    let filter = certbound::store::audit::AuditFilter {
        client_id: Some("budget-buddy".into()),
        outcome: Some(certbound::domain::AuditOutcome::Failure),
        ..Default::default()
    };
    let refused = env.store.audit_events(&filter, 1).await.unwrap();
    assert_eq!(refused[0].failed_check.as_deref(), Some("certificate_subject_matches"));
    browser
        .goto(&env.front_url("/admin/clients/budget-buddy"))
        .await
        .unwrap();

    // An API key: shown once with a copy button, then only its prefix; it works at the
    // resource server until revoked.
    browser
        .goto(&env.front_url("/admin/clients/budget-buddy"))
        .await
        .unwrap();
    element(&browser, "a[href='/admin/clients/budget-buddy/api-keys']")
        .await
        .click()
        .await
        .unwrap();
    element(&browser, "#issue button.primary").await.click().await.unwrap();
    let key = element(&browser, "#api-key")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(key.starts_with("cbk_"), "{key}");
    assert!(text_of(&browser, ".warn").await.contains("only time it is shown"));
    let copy = element(&browser, "button[data-copy]").await;
    assert!(
        copy.is_displayed().await.unwrap(),
        "the copy button's script runs under the CSP"
    );
    screenshot(&browser, &shot("api-key-issued")).await;
    key_is(&env, &key, Ok(())).await;
    element(&browser, "a.button.primary").await.click().await.unwrap();
    arrived_at(&browser, &env.front_url("/admin/clients/budget-buddy/api-keys")).await;
    browser.refresh().await.unwrap();
    let source = browser.source().await.unwrap();
    assert!(!source.contains(&key), "the key is never shown again");
    assert!(source.contains(&format!("{}_…", &key[..20])), "listed by its prefix");
    screenshot(&browser, &shot("api-keys")).await;
    element(&browser, "form[action$='/revoke'] button")
        .await
        .click()
        .await
        .unwrap();
    element(&browser, "span.status.revoked").await;
    key_is(&env, &key, Err(ApiKeyFailure::Revoked)).await;
    // Rotation: a new key, and the live one keeps working through the overlap.
    element(&browser, "#issue button.primary").await.click().await.unwrap();
    let first = element(&browser, "#api-key")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    element(&browser, "a.button.primary").await.click().await.unwrap();
    let overlap = element(&browser, "#overlap").await;
    overlap.clear().await.unwrap();
    overlap.send_keys("600").await.unwrap();
    element(&browser, "#rotate button.primary").await.click().await.unwrap();
    let second = element(&browser, "#api-key")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    element(&browser, "a.button.primary").await.click().await.unwrap();
    let expiring = text_of(&browser, &format!("tr[data-key='{}']", &first[4..20])).await;
    assert!(expiring.contains("expiring"), "{expiring}");
    key_is(&env, &first, Ok(())).await;
    key_is(&env, &second, Ok(())).await;

    // A customer's grant, listed and revoked: its refresh token stops working.
    common::flow::register_tpp(&env, "wallet", "openid accounts").await;
    let wallet = env.http(Some(&env.issue("wallet")));
    let tokens = common::flow::tokens(&env, &wallet, "wallet").await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    browser
        .goto(&env.front_url("/admin/grants?client_id=wallet"))
        .await
        .unwrap();
    let row = text_of(&browser, "table.grants tbody tr").await;
    assert!(row.contains("active") && row.contains("accounts"), "{row}");
    screenshot(&browser, &shot("grants")).await;
    element(&browser, "table.grants form button")
        .await
        .click()
        .await
        .unwrap();
    element(&browser, "table.grants span.status.revoked").await;
    let (status, body) = common::flow::refresh(&env, &wallet, "wallet", refresh_token, &[]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    // Every token of a client.
    element(&browser, "#revoke-all button.danger")
        .await
        .click()
        .await
        .unwrap();
    text_becomes(&browser, "#revoke-all", "Every token issued up to").await;
    assert!(env.store.client_tokens_revoked_at("wallet").await.unwrap().is_some());

    // Forms without the session's token, or with another session's, change nothing.
    let ops_cookie = session_cookie(&browser).await;
    let ops_csrf = hidden_csrf(&browser).await;
    let status_path = "/admin/clients/budget-buddy/status";
    let (status, page) = post_as(&env, &ops_cookie, status_path, &[("status", "disabled")]).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("This form has expired"));

    // A client named with markup, with a certificate whose subject is markup, pasted.
    let hostile = env.issue("<script>alert(2)</script>");
    element(&browser, "a[href='/admin/clients']")
        .await
        .click()
        .await
        .unwrap();
    element(&browser, "a[href='/admin/clients/new']")
        .await
        .click()
        .await
        .unwrap();
    element(&browser, "#pem")
        .await
        .send_keys(&hostile.cert_pem)
        .await
        .unwrap();
    element(&browser, "form[enctype] button.primary")
        .await
        .click()
        .await
        .unwrap();
    // RFC 4514 escapes < and > in a DN; the page shows that text, not markup.
    assert_eq!(
        text_of(&browser, "#cert-subject").await,
        r"CN=\<script\>alert(2)\</script\>"
    );
    no_alert(&browser).await;
    let name = element(&browser, "#name").await;
    name.clear().await.unwrap();
    name.send_keys("<img src=x onerror=alert(1)>").await.unwrap();
    let id_field = element(&browser, "#client_id").await;
    id_field.clear().await.unwrap();
    id_field.send_keys("hostile").await.unwrap();
    element(&browser, "form[action='/admin/clients'] button.primary")
        .await
        .click()
        .await
        .unwrap();
    arrived_at(&browser, &env.front_url("/admin/clients/hostile")).await;
    no_alert(&browser).await;
    assert_eq!(text_of(&browser, "h1 .tpp").await, "<img src=x onerror=alert(1)>");
    assert!(browser
        .find_all(fantoccini::Locator::Css("img"))
        .await
        .unwrap()
        .is_empty());
    browser.goto(&env.front_url("/admin/clients")).await.unwrap();
    no_alert(&browser).await;
    assert!(text_of(&browser, "table.list")
        .await
        .contains("<img src=x onerror=alert(1)>"));
    assert!(text_of(&browser, "table.list")
        .await
        .contains(r"CN=\<script\>alert(2)\</script\>"));
    screenshot(&browser, &shot("clients")).await;

    // Delete wants the password again, then a confirmation.
    browser.goto(&env.front_url("/admin/clients/hostile")).await.unwrap();
    element(&browser, "a.danger").await.click().await.unwrap();
    arrived_at(&browser, &env.front_url("/admin/reauth")).await;
    screenshot(&browser, &shot("reauth")).await;
    element(&browser, "#password").await.send_keys(OPS.1).await.unwrap();
    element(&browser, "form[action='/admin/reauth'] button.primary")
        .await
        .click()
        .await
        .unwrap();
    arrived_at(&browser, &env.front_url("/admin/clients/hostile/delete")).await;
    element(&browser, "button.danger").await.click().await.unwrap();
    arrived_at(&browser, &env.front_url("/admin/clients")).await;
    assert!(!text_of(&browser, "table.list").await.contains("hostile"));
    token_status_becomes(&env, &env.http(Some(&hostile)), "hostile", 401).await;

    // Signing keys: rotate, then purge the retired one (the password was typed just now).
    let old_kid = env.jwks().await.keys[0].common.key_id.clone().unwrap();
    element(&browser, "a[href='/admin/signing-keys']")
        .await
        .click()
        .await
        .unwrap();
    element(&browser, "form[action='/admin/signing-keys'] button")
        .await
        .click()
        .await
        .unwrap();
    text_becomes(&browser, &format!("tr[data-kid='{old_kid}']"), "retired").await;
    screenshot(&browser, &shot("signing-keys")).await;
    element(&browser, &format!("tr[data-kid='{old_kid}'] a.danger"))
        .await
        .click()
        .await
        .unwrap();
    element(&browser, "button.danger").await.click().await.unwrap();
    arrived_at(&browser, &env.front_url("/admin/signing-keys")).await;
    assert!(browser
        .find_all(fantoccini::Locator::Css(&format!("tr[data-kid='{old_kid}']")))
        .await
        .unwrap()
        .is_empty());
    let started = Instant::now();
    while env
        .jwks()
        .await
        .keys
        .iter()
        .any(|k| k.common.key_id.as_deref() == Some(old_kid.as_str()))
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the purged key is still published"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The audit trail shows what the console did, by whom.
    browser
        .goto(&env.front_url("/admin/audit?kind=admin&client_id=budget-buddy"))
        .await
        .unwrap();
    let table = text_of(&browser, "table.audit").await;
    for action in [
        "admin.client.register",
        "admin.client.disable",
        "admin.client.enable",
        "admin.client.update",
    ] {
        assert!(table.contains(action), "audit lacks {action}: {table}");
    }
    assert!(table.contains("by ops"));
    browser
        .goto(&env.front_url("/admin/audit?client_id=budget-buddy&outcome=failure"))
        .await
        .unwrap();
    assert!(text_of(&browser, "table.audit").await.contains("client_active"));
    screenshot(&browser, &shot("audit")).await;

    // Sign out; the old cookie no longer opens anything.
    element(&browser, "form[action='/admin/sign-out'] button")
        .await
        .click()
        .await
        .unwrap();
    arrived_at(&browser, &env.front_url("/admin/sign-in")).await;
    let (_, page) = post_as(
        &env,
        &ops_cookie,
        status_path,
        &[("status", "disabled"), ("csrf", &ops_csrf)],
    )
    .await;
    assert!(
        page.contains(r#"action="/admin/sign-in""#),
        "a signed-out session is sent to sign in"
    );

    // A viewer: no buttons, and the server refuses what a button would have posted.
    sign_in(&browser, AUDITOR.0, AUDITOR.1).await;
    arrived_at(&browser, &env.front_url("/admin/clients")).await;
    assert!(browser
        .find_all(fantoccini::Locator::Css("a[href='/admin/clients/new']"))
        .await
        .unwrap()
        .is_empty());
    browser
        .goto(&env.front_url("/admin/clients/budget-buddy"))
        .await
        .unwrap();
    element(&browser, "dl.facts").await;
    assert!(browser
        .find_all(fantoccini::Locator::Css("button[value=disabled], a.danger"))
        .await
        .unwrap()
        .is_empty());
    screenshot(&browser, &shot("viewer")).await;
    let viewer_cookie = session_cookie(&browser).await;
    let viewer_csrf = hidden_csrf(&browser).await;
    let (status, page) = post_as(
        &env,
        &viewer_cookie,
        status_path,
        &[("status", "disabled"), ("csrf", &viewer_csrf)],
    )
    .await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("Read-only access"));
    let (status, _) = post_as(
        &env,
        &viewer_cookie,
        "/admin/clients/budget-buddy/delete",
        &[("csrf", &viewer_csrf)],
    )
    .await;
    assert_eq!(status, 403);
    // The ops session's token does not work in the viewer's session either.
    let (status, _) = post_as(
        &env,
        &viewer_cookie,
        status_path,
        &[("status", "disabled"), ("csrf", &ops_csrf)],
    )
    .await;
    assert_eq!(status, 403);
    token_status_becomes(&env, &http, "budget-buddy", 200).await;

    browser.close().await.unwrap();
}

on_both_databases!(console);
