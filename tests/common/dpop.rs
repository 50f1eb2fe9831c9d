//! A DPoP client (RFC 9449) as a TPP runs one: a key pair, proofs signed by jsonwebtoken with the
//! public key in the header, the server's latest nonce kept and put in the next proof, and the
//! thumbprint computed here by RFC 7638 independently of certbound.

use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use certbound::jose::SigningAlg;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::keys::ClientKey;

pub struct DpopKey {
    pub key: ClientKey,
    nonce: Mutex<Option<String>>,
}

/// What a proof says about its request; [`Proof::for_request`] fills in the right values.
#[derive(Debug, Clone)]
pub struct Proof {
    pub htm: String,
    pub htu: String,
    pub iat: i64,
    pub jti: String,
    pub nonce: Option<String>,
    pub ath: Option<String>,
    pub typ: &'static str,
}

impl Proof {
    pub fn for_request(htm: &str, htu: &str) -> Self {
        Self {
            htm: htm.into(),
            htu: htu.into(),
            iat: certbound::now(),
            jti: certbound::jose::random_id(),
            nonce: None,
            ath: None,
            typ: "dpop+jwt",
        }
    }

    /// Binds the proof to an access token (`ath`, RFC 9449 §4.2).
    pub fn with_token(mut self, token: &str) -> Self {
        self.ath = Some(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())));
        self
    }
}

impl DpopKey {
    pub fn generate(alg: SigningAlg) -> Self {
        Self {
            key: ClientKey::generate(alg),
            nonce: Mutex::new(None),
        }
    }

    /// RFC 7638 thumbprint of the public key.
    pub fn jkt(&self) -> String {
        jkt_of(&self.key.public_jwk)
    }

    /// The public JWK as a proof header carries it (without `kid`, `alg`, `use`).
    fn header_jwk(&self) -> Value {
        let mut jwk = self.key.public_jwk.clone();
        for extra in ["kid", "alg", "use"] {
            jwk.as_object_mut().unwrap().remove(extra);
        }
        jwk
    }

    /// Signs `proof`, with the last nonce the server gave unless the proof names its own.
    pub fn sign(&self, proof: &Proof) -> String {
        let nonce = proof.nonce.clone().or_else(|| self.nonce.lock().unwrap().clone());
        let mut claims = json!({ "htm": proof.htm, "htu": proof.htu, "iat": proof.iat, "jti": proof.jti });
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        if let Some(ath) = &proof.ath {
            claims["ath"] = ath.clone().into();
        }
        self.sign_raw(proof.typ, self.header_jwk(), &claims)
    }

    /// Signs any claims with any `jwk` in the header.
    pub fn sign_raw(&self, typ: &str, jwk: Value, claims: &Value) -> String {
        let alg = serde_json::to_value(self.key.algorithm()).unwrap();
        self.key
            .sign_raw_header(&json!({ "typ": typ, "alg": alg, "jwk": jwk }), claims)
    }

    /// A proof for this request, with a fresh `jti`.
    pub fn proof(&self, htm: &str, htu: &str) -> String {
        self.sign(&Proof::for_request(htm, htu))
    }

    /// Remembers the nonce a response carried.
    pub fn learn(&self, response: &reqwest::Response) {
        if let Some(nonce) = response.headers().get("dpop-nonce") {
            *self.nonce.lock().unwrap() = Some(nonce.to_str().unwrap().to_string());
        }
    }

    /// POSTs a form with a proof for `url`; when the server asks for a nonce
    /// (`use_dpop_nonce`), learns it and sends once more with a new proof, as clients do.
    pub async fn post_form(&self, http: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
        for _ in 0..2 {
            let response = http
                .post(url)
                .header("DPoP", self.proof("POST", url))
                .form(form)
                .send()
                .await
                .unwrap();
            self.learn(&response);
            let status = response.status().as_u16();
            let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null);
            if body["error"] != "use_dpop_nonce" {
                return (status, body);
            }
        }
        panic!("the server asked for a nonce twice");
    }

    /// POSTs a form with exactly this proof (no retry).
    pub async fn post_with(
        http: &reqwest::Client,
        url: &str,
        proof: &str,
        form: &[(&str, &str)],
    ) -> (u16, Value, Option<String>) {
        let response = http.post(url).header("DPoP", proof).form(form).send().await.unwrap();
        let nonce = response
            .headers()
            .get("dpop-nonce")
            .map(|v| v.to_str().unwrap().to_string());
        let status = response.status().as_u16();
        let body = serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null);
        (status, body, nonce)
    }
}

/// RFC 7638 thumbprint of a public JWK, written out here independently of certbound.
pub fn jkt_of(jwk: &Value) -> String {
    let members: Vec<&str> = match jwk["kty"].as_str().unwrap() {
        "EC" => vec!["crv", "kty", "x", "y"],
        "RSA" => vec!["e", "kty", "n"],
        _ => vec!["crv", "kty", "x"],
    };
    let body: Vec<String> = members
        .iter()
        .map(|m| format!("\"{m}\":\"{}\"", jwk[*m].as_str().unwrap()))
        .collect();
    URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{{{}}}", body.join(","))))
}
