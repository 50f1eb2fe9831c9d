//! Token requests signed by the client, for the token benchmark: `private_key_jwt` clients
//! registered with an ES256 key, and a signer that makes each request's client assertion and DPoP
//! proof afresh and keeps the server's latest nonce.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use certbound::domain::{AuthMethod, Client, ClientStatus, GrantType};
use certbound::store::Store;
use http::StatusCode;

use super::jwt::EsKey;
use super::{post_token, BenchClient, Sender};

/// A `private_key_jwt` client (`bench-pk-NNN`) and the key it signs its assertions with.
pub struct PkClient {
    pub id: String,
    pub key: EsKey,
}

/// Registers one `private_key_jwt` client per certificate client, before the server starts.
pub async fn register_pk_clients(dir: &Path, count: usize) -> Vec<Arc<PkClient>> {
    let store = Store::connect(&super::database_url(dir)).await.expect("database");
    let mut clients = Vec::with_capacity(count);
    for n in 0..count {
        let id = format!("bench-pk-{n:03}");
        let key = EsKey::generate();
        let mut jwk = key.jwk.clone();
        jwk["kid"] = "k1".into();
        let now = certbound::now();
        let client = Client {
            client_id: id.clone(),
            name: id.clone(),
            status: ClientStatus::Active,
            auth_method: AuthMethod::PrivateKeyJwt,
            grant_types: vec![GrantType::ClientCredentials],
            scopes: vec!["accounts".into()],
            redirect_uris: Vec::new(),
            bound_access_tokens: true,
            dpop_bound_access_tokens: false,
            require_signed_request_object: false,
            subject: None,
            jwks: Some(serde_json::json!({ "keys": [jwk] })),
            jwks_uri: None,
            ca_pins: Vec::new(),
            cert_pins: Vec::new(),
            issuer_serial_pins: Vec::new(),
            can_introspect: false,
            authorization_details_types: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        store.insert_client(&client).await.expect("register client");
        clients.push(Arc::new(PkClient { id, key }));
    }
    store.close().await;
    clients
}

/// What a worker signs in the assertion and DPoP modes, and the nonce it last learned.
pub struct Signer {
    pub pk: Option<Arc<PkClient>>,
    pub dpop: Option<EsKey>,
    pub issuer: String,
    pub htu: String,
    pub nonce: Option<String>,
}

impl Signer {
    /// The form and the DPoP proof of the next request, signed afresh.
    fn next(&self) -> (Bytes, Option<String>) {
        let form = match &self.pk {
            Some(pk) => format!(
                "grant_type=client_credentials&client_id={}&scope=accounts&client_assertion_type={}&client_assertion={}",
                pk.id,
                "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer",
                pk.key.assertion("k1", &pk.id, &self.issuer)
            ),
            None => String::new(),
        };
        let proof = self
            .dpop
            .as_ref()
            .map(|k| k.proof("POST", &self.htu, self.nonce.as_deref(), None));
        (Bytes::from(form), proof)
    }

    /// The client id and `cnf` its tokens must carry.
    pub fn expected(&self, client: &BenchClient) -> (String, serde_json::Value) {
        let id = self.pk.as_ref().map_or(client.id.clone(), |pk| pk.id.clone());
        let cnf = match &self.dpop {
            Some(key) => serde_json::json!({ "jkt": key.jkt }),
            None => serde_json::json!({ "x5t#S256": client.thumbprint }),
        };
        (id, cnf)
    }
}

/// A token request with an assertion or a DPoP proof; a `use_dpop_nonce` answer (the first
/// request, or a nonce period's end) is retried once with the nonce it carries, which a client
/// also learns from every successful response.
pub async fn signed_request(sender: &mut Sender, client: &BenchClient, signer: &mut Signer) -> Result<Bytes, String> {
    let form_of = |signer: &Signer| {
        let (form, proof) = signer.next();
        let form = if form.is_empty() { client_form(client) } else { form };
        (form, proof)
    };
    for _ in 0..2 {
        let (form, proof) = form_of(signer);
        let response = post_token(sender, form, proof.as_deref(), false).await?;
        if let Some(nonce) = response.headers().get("dpop-nonce").and_then(|v| v.to_str().ok()) {
            signer.nonce = Some(nonce.to_string());
        }
        if response.status() == StatusCode::OK {
            return Ok(response.into_body());
        }
        let body = String::from_utf8_lossy(response.body()).to_string();
        if !body.contains("use_dpop_nonce") {
            return Err(format!("{}: {body}", response.status()));
        }
    }
    Err("the server asked for a nonce twice".into())
}

fn client_form(client: &BenchClient) -> Bytes {
    Bytes::from(format!(
        "grant_type=client_credentials&client_id={}&scope=accounts",
        client.id
    ))
}
