//! An Open Banking TPP over real mutual TLS: registered for the code flow with the RFC 9396
//! types, creating account-access consents with a client-credentials token bound to its
//! certificate, and calling the demo bank with its API key.

use certbound::domain::{GrantType, SubjectMatcher};
use certbound::pki::DistinguishedName;
use serde_json::{json, Value};

use super::flow::REDIRECT_URI;
use super::{pki_client, IssuedCert, TestEnv};

pub const CONSENTS: &str = "/open-banking/v3.1/aisp/account-access-consents";

/// A TPP (`CN={id}`, tls_client_auth) for the code flow with consents and payments.
pub struct ObTpp {
    pub id: String,
    pub cert: IssuedCert,
    pub http: reqwest::Client,
    pub api_key: String,
}

/// An answer: status, `x-fapi-interaction-id`, body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub interaction_id: Option<String>,
    pub body: Value,
}

impl ObTpp {
    pub async fn register(env: &TestEnv, id: &str) -> Self {
        Self::register_with(env, id, |_| {}).await
    }

    /// The same, with `configure` adjusting the registration before it is stored.
    pub async fn register_with(
        env: &TestEnv,
        id: &str,
        configure: impl FnOnce(&mut certbound::domain::Client),
    ) -> Self {
        let mut client = pki_client(
            id,
            SubjectMatcher::Dn(DistinguishedName::parse(&format!("CN={id}")).unwrap()),
            "openid accounts",
        );
        client.grant_types = vec![
            GrantType::ClientCredentials,
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
        ];
        client.redirect_uris = vec![REDIRECT_URI.into()];
        client.authorization_details_types = vec!["account_access_consent".into(), "payment_initiation".into()];
        configure(&mut client);
        client.validate().unwrap();
        env.store.insert_client(&client).await.unwrap();
        let issued = certbound::rs::api_keys::issue(id, &[]);
        env.store.insert_api_key(&issued.row, None).await.unwrap();
        let cert = env.issue(id);
        Self {
            id: id.to_string(),
            http: env.http(Some(&cert)),
            cert,
            api_key: issued.key,
        }
    }

    /// New connections with the same certificate (after the server closed idle ones).
    pub fn reconnect(&mut self, env: &TestEnv) {
        self.http = env.http(Some(&self.cert));
    }

    /// A client-credentials token with scope `accounts`, bound to the certificate.
    pub async fn consent_token(&self, env: &TestEnv) -> String {
        let (status, body) = env.token(&self.http, &self.id, &[("scope", "accounts")]).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// Sends a request with `token` and returns the answer.
    pub async fn send(&self, request: reqwest::RequestBuilder, token: &str) -> Answer {
        let response = request.bearer_auth(token).send().await.unwrap();
        let status = response.status().as_u16();
        let interaction_id = response
            .headers()
            .get("x-fapi-interaction-id")
            .map(|v| v.to_str().unwrap().to_string());
        let body = response.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            interaction_id,
            body,
        }
    }

    /// POST a consent request body (raw bytes, JSON content type).
    pub async fn post_consent_raw(&self, env: &TestEnv, token: &str, body: Vec<u8>) -> Answer {
        let request = self
            .http
            .post(env.url(CONSENTS))
            .header("content-type", "application/json")
            .body(body);
        self.send(request, token).await
    }

    /// Creates a consent with these permissions and `data` members; returns its id.
    pub async fn create_consent(&self, env: &TestEnv, permissions: &[&str], data: Value) -> String {
        let token = self.consent_token(env).await;
        let mut body = json!({ "Data": data, "Risk": {} });
        body["Data"]["Permissions"] = json!(permissions);
        let answer = self.post_consent_raw(env, &token, body.to_string().into_bytes()).await;
        assert_eq!(answer.status, 201, "{answer:?}");
        answer.body["Data"]["ConsentId"].as_str().unwrap().to_string()
    }

    pub async fn get_consent(&self, env: &TestEnv, token: &str, id: &str) -> Answer {
        self.send(self.http.get(env.url(&format!("{CONSENTS}/{id}"))), token)
            .await
    }

    pub async fn delete_consent(&self, env: &TestEnv, token: &str, id: &str) -> Answer {
        self.send(self.http.delete(env.url(&format!("{CONSENTS}/{id}"))), token)
            .await
    }

    /// A GET at the demo bank with the customer's token and the API key.
    pub async fn bank(&self, env: &TestEnv, token: &str, path: &str) -> Answer {
        let request = self
            .http
            .get(env.url(&format!("/bank/v1{path}")))
            .header("x-api-key", &self.api_key);
        self.send(request, token).await
    }
}

/// The RFC 9396 detail naming a consent.
pub fn consent_detail(id: &str) -> String {
    json!([{ "type": "account_access_consent", "consent_id": id }]).to_string()
}
