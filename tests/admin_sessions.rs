//! The console's sessions over real TLS, without a browser: the sign-in form's double-submit
//! token, throttled sign-in, idle and absolute timeouts, a disabled administrator, the cookie's
//! attributes and the pages' security headers.

mod common;

use certbound::admin::session::{ABSOLUTE, IDLE};
use certbound::domain::status::Status;
use certbound::domain::{AdminRole, Administrator};
use certbound::store::admin_sessions::AdminSessionRow;
use certbound::web::cookies;
use common::admin::sign_in_form;
use common::{Db, TestEnv};

const PASSWORD: &str = "correct horse battery";

/// A client of the browser listener that does not follow redirects.
fn browser(env: &TestEnv) -> reqwest::Client {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(common::roots(&env.pki))
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .resolve("localhost", env.front_addr())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in; the status and, on success, the session cookie (`name=value`).
async fn sign_in(env: &TestEnv, http: &reqwest::Client, username: &str, password: &str) -> (u16, Option<String>) {
    let (cookie, token) = sign_in_form(env, http).await;
    let response = http
        .post(env.front_url("/admin/sign-in"))
        .header("cookie", cookie)
        .form(&[("csrf", token.as_str()), ("username", username), ("password", password)])
        .send()
        .await
        .unwrap();
    let session = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap())
        .find(|c| c.starts_with("__Host-certbound-admin="))
        .map(|c| {
            assert!(c.contains("Secure; HttpOnly; SameSite=Strict"), "{c}");
            c.split(';').next().unwrap().to_string()
        });
    (response.status().as_u16(), session)
}

async fn clients_page(env: &TestEnv, http: &reqwest::Client, cookie: &str) -> reqwest::Response {
    http.get(env.front_url("/admin/clients"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

fn location(response: &reqwest::Response) -> &str {
    response.headers()["location"].to_str().unwrap()
}

async fn sessions(db: Db) {
    let env = TestEnv::start(db).await;
    let admin = Administrator::register("ops", PASSWORD, AdminRole::Admin).unwrap();
    env.store.insert_administrator(&admin).await.unwrap();
    let http = browser(&env);

    // A sign-in posted without the form's cookie (as another site would) is refused.
    let (_, token) = sign_in_form(&env, &http).await;
    let response = http
        .post(env.front_url("/admin/sign-in"))
        .form(&[("csrf", token.as_str()), ("username", "ops"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // Signed in: the pages carry a strict policy and no framing.
    let (status, cookie) = sign_in(&env, &http, "ops", PASSWORD).await;
    assert_eq!(status, 303);
    let cookie = cookie.expect("a session cookie");
    let page = clients_page(&env, &http, &cookie).await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("script-src"), "no script may run: {csp}");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["cache-control"], "no-store");

    // Idle too long: the session is over.
    let hash = cookies::hash(cookie.split_once('=').unwrap().1);
    let now = certbound::now();
    env.store.touch_admin_session(&hash, now - IDLE - 1).await.unwrap();
    let page = clients_page(&env, &http, &cookie).await;
    assert_eq!((page.status().as_u16(), location(&page)), (303, "/admin/sign-in"));
    assert!(
        env.store.admin_session(&hash).await.unwrap().is_none(),
        "an ended session is removed"
    );

    // Active, but signed in longer ago than the absolute limit: over too.
    let old = cookies::random_token();
    env.store
        .insert_admin_session(&AdminSessionRow {
            id_hash: cookies::hash(&old),
            username: "ops".into(),
            csrf_token: cookies::random_token(),
            created_at: now - ABSOLUTE - 1,
            last_seen_at: now,
            reauthenticated_at: 0,
        })
        .await
        .unwrap();
    let old_cookie = format!("__Host-certbound-admin={old}");
    assert_eq!(clients_page(&env, &http, &old_cookie).await.status(), 303);

    // A disabled administrator's session ends at the next request, and sign-in is refused.
    let (_, cookie) = sign_in(&env, &http, "ops", PASSWORD).await;
    let cookie = cookie.unwrap();
    assert_eq!(clients_page(&env, &http, &cookie).await.status(), 200);
    env.store
        .set_administrator_status("ops", Status::Disabled)
        .await
        .unwrap();
    assert_eq!(clients_page(&env, &http, &cookie).await.status(), 303);
    assert_eq!(sign_in(&env, &http, "ops", PASSWORD).await, (200, None));
    env.store.set_administrator_status("ops", Status::Active).await.unwrap();

    // Five failures for one username (the disabled one counted), then even the right password
    // waits.
    for _ in 0..4 {
        assert_eq!(sign_in(&env, &http, "ops", "wrong password").await, (200, None));
    }
    assert_eq!(sign_in(&env, &http, "ops", PASSWORD).await, (429, None));

    // Every attempt is in the audit trail.
    env.server()
        .state
        .audit
        .settled(std::time::Duration::from_secs(5))
        .await;
    let filter = certbound::store::audit::AuditFilter {
        kind: Some(certbound::domain::AuditKind::Admin),
        ..Default::default()
    };
    let events = env.store.audit_events(&filter, 100).await.unwrap();
    let failures = events
        .iter()
        .filter(|e| e.endpoint == "admin.sign_in" && e.failed_check.as_deref() == Some("password"))
        .count();
    assert_eq!(failures, 5, "four wrong passwords and the disabled administrator");
    assert!(events.iter().any(|e| e.failed_check.as_deref() == Some("throttled")));
}

on_both_databases!(sessions);
