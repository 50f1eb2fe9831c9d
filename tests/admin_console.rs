//! The admin console in a real headless Chromium over WebDriver, on SQLite and PostgreSQL, for
//! the clients: sign in; register a client by uploading its certificate, then get a token with
//! it over mTLS; disable it (token refused) and enable it; edit it; test certificates against
//! it; forms without the session's CSRF token are refused; a client name and a certificate
//! subject holding HTML render inert; delete after typing the password again; the audit trail;
//! a viewer sees everything and changes nothing. Screenshots go to
//! target/screenshots/admin-*.png.

mod common;

use std::time::{Duration, Instant};

use common::admin::{
    add_administrators, class_becomes, hidden_csrf, no_alert, post_as, session_cookie, text_becomes,
    token_status_becomes, AUDITOR, OPS,
};
use common::chromium::{arrived_at, chromium, click, element, screenshot, sign_in, text_of, type_into};
use common::{Db, TestEnv};

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
    click(&browser, "a[href='/admin/clients/new']").await;
    type_into(&browser, "#file", cert_file.to_str().unwrap()).await;
    click(&browser, "form[enctype] button.primary").await;
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
    type_into(&browser, "#scope", "accounts").await;
    screenshot(&browser, &shot("register")).await;
    click(&browser, "form[action='/admin/clients'] button.primary").await;
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
    click(&browser, "button[value=disabled]").await;
    element(&browser, "button[value=active]").await;
    token_status_becomes(&env, &http, "budget-buddy", 401).await;
    click(&browser, "button[value=active]").await;
    element(&browser, "button[value=disabled]").await;
    token_status_becomes(&env, &http, "budget-buddy", 200).await;

    // Edit: a scope more, and the token endpoint grants it.
    click(&browser, "a[href='/admin/clients/budget-buddy/edit']").await;
    let scope = element(&browser, "#scope").await;
    assert_eq!(scope.prop("value").await.unwrap().as_deref(), Some("accounts"));
    scope.send_keys(" payments").await.unwrap();
    screenshot(&browser, &shot("edit")).await;
    click(&browser, "form[action$='/edit'] button.primary").await;
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
    click(&browser, "a[href='/admin/clients/budget-buddy/edit']").await;
    type_into(&browser, "#cert_pins", "not-a-thumbprint").await;
    click(&browser, "form[action$='/edit'] button.primary").await;
    assert!(text_of(&browser, ".error").await.contains("not-a-thumbprint"));
    token_status_becomes(&env, &http, "budget-buddy", 200).await;
    browser
        .goto(&env.front_url("/admin/clients/budget-buddy"))
        .await
        .unwrap();

    // Test certificates against the client: its own passes every check; another's fails the
    // check a real token request with it fails, by the same name.
    click(&browser, "a[href='/admin/clients/budget-buddy/test']").await;
    type_into(&browser, "#pem", &tpp.cert_pem).await;
    click(&browser, "form[enctype] button.primary").await;
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
    type_into(&browser, "#pem", &stranger.cert_pem).await;
    click(&browser, "form[enctype] button.primary").await;
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

    // Forms without the session's token, or with another session's, change nothing.
    let ops_cookie = session_cookie(&browser).await;
    let ops_csrf = hidden_csrf(&browser).await;
    let status_path = "/admin/clients/budget-buddy/status";
    let (status, page) = post_as(&env, &ops_cookie, status_path, &[("status", "disabled")]).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("This form has expired"));

    // A client named with markup, with a certificate whose subject is markup, pasted.
    let hostile = env.issue("<script>alert(2)</script>");
    click(&browser, "a[href='/admin/clients']").await;
    click(&browser, "a[href='/admin/clients/new']").await;
    type_into(&browser, "#pem", &hostile.cert_pem).await;
    click(&browser, "form[enctype] button.primary").await;
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
    click(&browser, "form[action='/admin/clients'] button.primary").await;
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
    click(&browser, "a.danger").await;
    arrived_at(&browser, &env.front_url("/admin/reauth")).await;
    screenshot(&browser, &shot("reauth")).await;
    type_into(&browser, "#password", OPS.1).await;
    click(&browser, "form[action='/admin/reauth'] button.primary").await;
    arrived_at(&browser, &env.front_url("/admin/clients/hostile/delete")).await;
    click(&browser, "button.danger").await;
    arrived_at(&browser, &env.front_url("/admin/clients")).await;
    assert!(!text_of(&browser, "table.list").await.contains("hostile"));
    token_status_becomes(&env, &env.http(Some(&hostile)), "hostile", 401).await;

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
    click(&browser, "form[action='/admin/sign-out'] button").await;
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
