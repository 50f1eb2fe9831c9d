//! The code flow as a TPP and a customer's browser drive it, over real TLS: PAR over mutual TLS,
//! the browser (a cookie-keeping HTTP client that follows nothing by itself) through
//! /authorize, sign-in and consent, and the code back at the token endpoint.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use certbound::domain::{Client, GrantType, SubjectMatcher};
use certbound::pki::DistinguishedName;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{pki_client, post_form, TestEnv};

pub const REDIRECT_URI: &str = "https://tpp.example/cb";
pub const ALICE: (&str, &str) = ("alice", "wonderland");
pub const BOB: (&str, &str) = ("bob", "the-builder");

/// Registers a `tls_client_auth` client (subject `CN={id}`) for the code flow, with refresh
/// tokens, client credentials and the redirect URI [`REDIRECT_URI`].
pub async fn register_tpp(env: &TestEnv, id: &str, scopes: &str) -> Client {
    let mut client = pki_client(
        id,
        SubjectMatcher::Dn(DistinguishedName::parse(&format!("CN={id}")).unwrap()),
        scopes,
    );
    client.grant_types = vec![
        GrantType::ClientCredentials,
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
    ];
    client.redirect_uris = vec![REDIRECT_URI.into()];
    env.store.insert_client(&client).await.unwrap();
    client
}

/// An RFC 7636 verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = format!("{}{}", certbound::jose::random_id(), certbound::jose::random_id());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The parameters of an authorization request a FAPI client pushes, but `client_id`.
pub fn par_params(challenge: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("response_type", "code"),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid accounts"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// A pushed request with everything a FAPI client sends; `extra` adds or overrides parameters
/// (an empty value removes one).
pub async fn par(
    env: &TestEnv,
    tpp: &reqwest::Client,
    client_id: &str,
    challenge: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form: Vec<(&str, &str)> = vec![("client_id", client_id)];
    form.extend(par_params(challenge));
    for (name, value) in extra {
        form.retain(|(n, _)| n != name);
        if !value.is_empty() {
            form.push((name, value));
        }
    }
    post_form(tpp, &env.url("/par"), &form).await
}

/// An answer as a browser sees it before following anything.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of the hidden CSRF field of the page's form.
    pub fn csrf(&self) -> String {
        self.hidden("csrf")
    }

    fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body))
            + marker.len();
        self.body[start..].split('"').next().unwrap().to_string()
    }

    /// The action of the page's form.
    pub fn form_action(&self) -> String {
        let start = self.body.find("action=\"").expect("a form") + 8;
        self.body[start..].split('"').next().unwrap().to_string()
    }

    /// A query parameter of the redirect this answer is.
    pub fn redirect_param(&self, name: &str) -> Option<String> {
        let location = self.location.as_deref()?;
        let query = location.split_once('?')?.1;
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// A customer's browser: no client certificate, cookies kept, redirects not followed. A clone is
/// another tab of the same browser.
#[derive(Clone)]
pub struct Browser {
    http: reqwest::Client,
    front: String,
    pub cookies: Vec<(String, String)>,
}

impl Browser {
    pub fn new(env: &TestEnv) -> Self {
        Self::at(&env.pki, &env.front_url(""))
    }

    /// A browser trusting `pki`'s CA, sending relative paths to `front` (any port of localhost).
    pub fn at(pki: &certbound::pki::dev::PkiLayout, front: &str) -> Self {
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(
                rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                    rustls::crypto::aws_lc_rs::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(super::roots(pki))
                .with_no_client_auth(),
            )
            .resolve("localhost", ([127, 0, 0, 1], 0).into())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            http,
            front: front.to_string(),
            cookies: Vec::new(),
        }
    }

    /// Sends relative paths to another front listener from now on (another process).
    pub fn move_to(&mut self, front: &str) {
        self.front = front.to_string();
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{path_or_url}", self.front)
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, response: reqwest::Response) -> Page {
        for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(k, _)| k != name);
            self.cookies.push((name.to_string(), value.to_string()));
        }
        Page {
            status: response.status().as_u16(),
            location: response
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|v| v.to_str().unwrap().to_string()),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path_or_url: &str) -> Page {
        let response = self
            .http
            .get(self.url(path_or_url))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(response).await
    }

    pub async fn post(&mut self, path_or_url: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .http
            .post(self.url(path_or_url))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.finish(response).await
    }

    /// GET /authorize with the pushed request; returns the page it redirects to (sign-in).
    pub async fn authorize(&mut self, client_id: &str, request_uri: &str) -> Page {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", client_id)
            .append_pair("request_uri", request_uri)
            .finish();
        let started = self.get(&format!("/authorize?{query}")).await;
        assert_eq!(started.status, 303, "{started:?}");
        self.get(started.location.as_deref().unwrap()).await
    }

    /// Posts the sign-in form of `page`.
    pub async fn sign_in(&mut self, page: &Page, username: &str, password: &str) -> Page {
        let csrf = page.csrf();
        let action = page.form_action();
        self.post(
            &action,
            &[("csrf", &csrf), ("username", username), ("password", password)],
        )
        .await
    }

    /// Posts the consent form of `page` with a decision and the chosen accounts.
    pub async fn decide(&mut self, page: &Page, decision: &str, accounts: &[&str]) -> Page {
        let csrf = page.csrf();
        let action = page.form_action();
        let mut form = vec![("csrf", csrf.as_str()), ("decision", decision)];
        for account in accounts {
            form.push(("account", account));
        }
        self.post(&action, &form).await
    }
}

/// The whole front channel for a pushed request: authorize, sign in as `customer`, approve with
/// `accounts`. Returns the redirect to the client.
pub async fn approve(
    env: &TestEnv,
    client_id: &str,
    request_uri: &str,
    customer: (&str, &str),
    accounts: &[&str],
) -> Page {
    let mut browser = Browser::new(env);
    let login = browser.authorize(client_id, request_uri).await;
    assert_eq!(login.status, 200, "{login:?}");
    let signed_in = browser.sign_in(&login, customer.0, customer.1).await;
    assert_eq!(signed_in.status, 303, "{signed_in:?}");
    let consent = browser.get(signed_in.location.as_deref().unwrap()).await;
    assert_eq!(consent.status, 200, "{consent:?}");
    browser.decide(&consent, "approve", accounts).await
}

/// PAR and the browser for a fresh grant of alice's account 22289 to `client_id`: the code and
/// its PKCE verifier.
pub async fn code(env: &TestEnv, tpp: &reqwest::Client, client_id: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let (status, pushed) = par(env, tpp, client_id, &challenge, &[]).await;
    assert_eq!(status, 201, "{pushed}");
    let back = approve(
        env,
        client_id,
        pushed["request_uri"].as_str().unwrap(),
        ALICE,
        &["22289"],
    )
    .await;
    (back.redirect_param("code").expect("a code"), verifier)
}

/// [`code`] and the token request in one: the token response.
pub async fn tokens(env: &TestEnv, tpp: &reqwest::Client, client_id: &str) -> Value {
    let (code, verifier) = code(env, tpp, client_id).await;
    let (status, body) = redeem(env, tpp, client_id, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// POST /token with grant_type=authorization_code.
pub async fn redeem(env: &TestEnv, tpp: &reqwest::Client, client_id: &str, code: &str, verifier: &str) -> (u16, Value) {
    post_form(
        tpp,
        &env.url("/token"),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// POST /token with grant_type=refresh_token.
pub async fn refresh(
    env: &TestEnv,
    tpp: &reqwest::Client,
    client_id: &str,
    refresh_token: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("client_id", client_id),
        ("refresh_token", refresh_token),
    ];
    form.extend_from_slice(extra);
    post_form(tpp, &env.url("/token"), &form).await
}
