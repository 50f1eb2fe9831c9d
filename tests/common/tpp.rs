//! A TPP as FAPI 2.0 lets one be: authenticated by its certificate (`tls_client_auth`) or by a
//! signed assertion (`private_key_jwt`), and binding its tokens to a certificate on the
//! connection or to a DPoP key. Every request it sends carries what its combination needs.

use serde_json::{json, Value};

use super::dpop::DpopKey;
use super::flow::{self, REDIRECT_URI};
use super::keys::{assertion_claims, ClientKey};
use super::{pki_client, post_form, TestEnv};
use certbound::domain::{AuthMethod, Client, GrantType, SubjectMatcher};
use certbound::jose::SigningAlg;
use certbound::oauth::client_auth::ASSERTION_TYPE;
use certbound::pki::dev::IssuedCert;

/// How the TPP authenticates.
pub enum Auth {
    Certificate,
    PrivateKeyJwt(ClientKey),
}

/// What its tokens are bound to.
pub enum Binding {
    Certificate,
    Dpop(DpopKey),
}

pub struct Tpp {
    pub id: String,
    pub auth: Auth,
    pub binding: Binding,
    /// The certificate on its connections, if any.
    pub cert: Option<IssuedCert>,
    pub http: reqwest::Client,
    issuer: String,
}

/// A `private_key_jwt` client with `jwks` or a `jwks_uri`, for client credentials and the code
/// flow.
pub async fn register_private_key_jwt(
    env: &TestEnv,
    id: &str,
    jwks: Option<Value>,
    jwks_uri: Option<String>,
) -> Client {
    let mut client = pki_client(id, SubjectMatcher::SanDns("unused.example".into()), "openid accounts");
    client.auth_method = AuthMethod::PrivateKeyJwt;
    client.subject = None;
    client.jwks = jwks;
    client.jwks_uri = jwks_uri;
    client.grant_types = vec![
        GrantType::ClientCredentials,
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
    ];
    client.redirect_uris = vec![REDIRECT_URI.into()];
    client.validate().unwrap();
    env.store.insert_client(&client).await.unwrap();
    client
}

impl Tpp {
    /// Registers `id` with the authentication method of `auth` and returns the TPP. A
    /// certificate (`CN={id}`) is on its connections when it authenticates with one or binds
    /// tokens to one.
    pub async fn register(env: &TestEnv, id: &str, auth: Auth, binding: Binding) -> Self {
        match &auth {
            Auth::Certificate => {
                flow::register_tpp(env, id, "openid accounts").await;
            }
            Auth::PrivateKeyJwt(key) => {
                register_private_key_jwt(env, id, Some(key.jwks()), None).await;
            }
        }
        let needs_cert = matches!(auth, Auth::Certificate) || matches!(binding, Binding::Certificate);
        let cert = needs_cert.then(|| env.issue(id));
        Self {
            id: id.into(),
            http: env.http(cert.as_ref()),
            auth,
            binding,
            cert,
            issuer: env.issuer(),
        }
    }

    pub fn dpop(&self) -> Option<&DpopKey> {
        match &self.binding {
            Binding::Dpop(key) => Some(key),
            Binding::Certificate => None,
        }
    }

    /// The authentication parameters: `client_id`, and an assertion for `private_key_jwt`.
    pub fn auth_params(&self) -> Vec<(&'static str, String)> {
        let mut params = vec![("client_id", self.id.clone())];
        if let Auth::PrivateKeyJwt(key) = &self.auth {
            params.push(("client_assertion_type", ASSERTION_TYPE.into()));
            params.push((
                "client_assertion",
                key.sign(Some("JWT"), &assertion_claims(&self.id, json!(self.issuer), 60)),
            ));
        }
        params
    }

    /// POSTs `form` plus authentication to `path` on the mTLS listener, with a DPoP proof if it
    /// binds by DPoP.
    pub async fn post(&self, env: &TestEnv, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let auth = self.auth_params();
        let mut all: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(form);
        let url = env.url(path);
        match self.dpop() {
            Some(key) => key.post_form(&self.http, &url, &all).await,
            None => post_form(&self.http, &url, &all).await,
        }
    }

    pub async fn client_credentials(&self, env: &TestEnv) -> (u16, Value) {
        self.post(
            env,
            "/token",
            &[("grant_type", "client_credentials"), ("scope", "accounts")],
        )
        .await
    }

    /// PAR, alice's approval of account 22289, and the code exchange: the token response.
    pub async fn code_flow(&self, env: &TestEnv) -> Value {
        let (verifier, challenge) = flow::pkce();
        let (status, pushed) = self.post(env, "/par", &flow::par_params(&challenge)).await;
        assert_eq!(status, 201, "{pushed}");
        let request_uri = pushed["request_uri"].as_str().unwrap();
        let back = flow::approve(env, &self.id, request_uri, flow::ALICE, &["22289"]).await;
        let code = back.redirect_param("code").expect("a code");
        let (status, tokens) = self.redeem(env, &code, &verifier).await;
        assert_eq!(status, 200, "{tokens}");
        tokens
    }

    pub async fn redeem(&self, env: &TestEnv, code: &str, verifier: &str) -> (u16, Value) {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ];
        self.post(env, "/token", &form).await
    }

    pub async fn refresh(&self, env: &TestEnv, refresh_token: &str) -> (u16, Value) {
        self.post(
            env,
            "/token",
            &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
        )
        .await
    }
}

/// A fresh ES256 DPoP key.
pub fn dpop_key() -> DpopKey {
    DpopKey::generate(SigningAlg::Es256)
}

/// A fresh ES256 client signing key.
pub fn signing_key() -> ClientKey {
    ClientKey::generate(SigningAlg::Es256)
}
