//! `[admin] client_ca`, over real TLS: the browser listener asks for a certificate listing the
//! administrators' CA, and every console request also needs one from it. Without one, or with a
//! TPP's, the console answers 403 whatever the session; the stylesheet stays public. The page a
//! browser without a certificate sees is driven in Chromium.

mod common;

use std::sync::{Arc, Mutex};

use certbound::config::AdminConfig;
use certbound::pki::dev::{Authority, CertSpec, IssuedCert};
use common::admin::{add_administrators, sign_in_form, OPS};
use common::chromium::{chromium, screenshot, text_of};
use common::{chain_of, key_of, roots, Db, TestEnv};
use rcgen::DnType;

on_both_databases!(the_console_wants_a_certificate_from_the_administrators_ca);

/// Presents `cert` and keeps the CA names the server listed when it asked for it.
#[derive(Debug)]
struct Recording {
    key: Arc<rustls::sign::CertifiedKey>,
    listed: Mutex<Vec<Vec<u8>>>,
}

impl rustls::client::ResolvesClientCert for Recording {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _schemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        *self.listed.lock().unwrap() = root_hint_subjects.iter().map(|s| s.to_vec()).collect();
        Some(self.key.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// A client of the browser listener, presenting `cert` if given, not following redirects.
fn browser(env: &TestEnv, cert: Option<&IssuedCert>) -> (reqwest::Client, Option<Arc<Recording>>) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(&env.pki));
    let (tls, recording) = match cert {
        Some(cert) => {
            let key = rustls::sign::CertifiedKey::from_der(chain_of(cert), key_of(cert), &provider).unwrap();
            let recording = Arc::new(Recording {
                key: Arc::new(key),
                listed: Mutex::default(),
            });
            (builder.with_client_cert_resolver(recording.clone()), Some(recording))
        }
        None => (builder.with_no_client_auth(), None),
    };
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .resolve("localhost", env.front_addr())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (http, recording)
}

/// Signs in as `OPS` with the sign-in form's double-submit token; the session cookie.
async fn sign_in(env: &TestEnv, http: &reqwest::Client) -> String {
    let (cookie, token) = sign_in_form(env, http).await;
    let response = http
        .post(env.front_url("/admin/sign-in"))
        .header("cookie", cookie)
        .form(&[("csrf", token.as_str()), ("username", OPS.0), ("password", OPS.1)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap())
        .find(|c| c.starts_with("__Host-certbound-admin="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

async fn the_console_wants_a_certificate_from_the_administrators_ca(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let administrators = Authority::generate(vec![(DnType::CommonName, "Bank Administrators CA".into())]).unwrap();
    let ca = dir.path().join("administrators.pem");
    std::fs::write(&ca, administrators.cert_pem()).unwrap();
    let env = TestEnv::start_with(db, |f| {
        f.admin = Some(AdminConfig {
            client_ca: Some(ca.clone()),
            ..AdminConfig::default()
        });
    })
    .await;
    add_administrators(&env).await;
    let alice = administrators.issue(&CertSpec::client("alice", 30)).unwrap();
    let tpp = env.ca.issue(&CertSpec::client("tpp", 30)).unwrap();

    // With an administrator's certificate: the handshake listed the administrators' CA, and
    // signing in works.
    let (admin_http, recording) = browser(&env, Some(&alice));
    let session = sign_in(&env, &admin_http).await;
    let listed = recording.unwrap().listed.lock().unwrap().clone();
    assert_eq!(listed.len(), 1, "only the administrators' CA is listed");
    assert!(String::from_utf8_lossy(&listed[0]).contains("Bank Administrators CA"));
    let page = |http: &reqwest::Client, path: &str| {
        let request = http.get(env.front_url(path)).header("cookie", session.clone());
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(page(&admin_http, "/admin/clients").await.0, 200);

    // The same session without a certificate, or with a TPP's: refused on every page.
    let (plain, _) = browser(&env, None);
    let (tpp_http, _) = browser(&env, Some(&tpp));
    for http in [&plain, &tpp_http] {
        for path in ["/admin/clients", "/admin/sign-in", "/admin/audit"] {
            let (status, html) = page(http, path).await;
            assert_eq!(status, 403, "{path}");
            assert!(html.contains("Administrator certificate required"), "{path}");
        }
    }
    let post = tpp_http
        .post(env.front_url("/admin/sign-in"))
        .form(&[("csrf", "x"), ("username", OPS.0), ("password", OPS.1)])
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 403);
    assert_eq!(
        page(&plain, "/static/admin.css").await.0,
        200,
        "the stylesheet is public"
    );
    // An expired administrator certificate is refused too.
    let lapsed = CertSpec {
        not_after: certbound::now() - 60,
        ..CertSpec::client("bob", 1)
    };
    let expired = administrators.issue(&lapsed).unwrap();
    let (expired_http, _) = browser(&env, Some(&expired));
    assert_eq!(page(&expired_http, "/admin/clients").await.0, 403);
    // TPPs and customers are not asked for anything new: the token endpoint still works.
    let client = env.register_pki_client("tpp1", "tpp1", "accounts").await;
    let tpp1 = env.issue("tpp1");
    let (status, body) = env.token(&env.http(Some(&tpp1)), &client.client_id, &[]).await;
    assert_eq!(status, 200, "{body}");

    // What a browser without a certificate shows.
    let profile = tempfile::tempdir().unwrap();
    let (_driver, browser) = chromium(profile.path()).await;
    browser.goto(&env.front_url("/admin/sign-in")).await.unwrap();
    assert_eq!(text_of(&browser, "h1").await, "Administrator certificate required");
    screenshot(&browser, &format!("admin-certificate-required-{db:?}").to_lowercase()).await;
    browser.close().await.unwrap();
    env.finish().await;
}
