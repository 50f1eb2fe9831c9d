//! What a TPP signs when it does not authenticate by certificate, or binds tokens to a key:
//! ES256 client assertions (RFC 7523) and DPoP proofs (RFC 9449), signed with an aws-lc-rs key
//! held in memory, as a production client would, so the load generator spends little CPU on them.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// An ES256 key pair with its public JWK.
pub struct EsKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    /// The public JWK (`kty`, `crv`, `x`, `y`).
    pub jwk: Value,
    /// Its RFC 7638 thumbprint, what `cnf.jkt` names.
    pub jkt: String,
}

impl EsKey {
    pub fn generate() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key generation");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).expect("own key");
        // The uncompressed point: 0x04, then x and y.
        let point = pair.public_key().as_ref();
        let (x, y) = (
            URL_SAFE_NO_PAD.encode(&point[1..33]),
            URL_SAFE_NO_PAD.encode(&point[33..65]),
        );
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        Self {
            jkt: URL_SAFE_NO_PAD.encode(Sha256::digest(canonical)),
            jwk: json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
            pair,
            rng,
        }
    }

    /// A compact JWS of `claims` under `header`.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.pair.sign(&self.rng, input.as_bytes()).expect("signing");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    /// A client assertion from `client_id` for `issuer`, living a minute.
    pub fn assertion(&self, kid: &str, client_id: &str, issuer: &str) -> String {
        let now = certbound::now();
        self.sign(
            &json!({"alg": "ES256", "typ": "JWT", "kid": kid}),
            &json!({"iss": client_id, "sub": client_id, "aud": issuer, "iat": now, "exp": now + 60, "jti": random_id()}),
        )
    }

    /// A DPoP proof for `htm` `htu`, with the server's nonce and, at a resource, `ath` of the
    /// access token.
    pub fn proof(&self, htm: &str, htu: &str, nonce: Option<&str>, access_token: Option<&str>) -> String {
        let mut claims = json!({"htm": htm, "htu": htu, "iat": certbound::now(), "jti": random_id()});
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        if let Some(token) = access_token {
            claims["ath"] = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())).into();
        }
        self.sign(&json!({"alg": "ES256", "typ": "dpop+jwt", "jwk": self.jwk}), &claims)
    }
}

fn random_id() -> String {
    certbound::jose::random_id()
}
