//! Keys a test client signs its JWTs with (client assertions, request objects, DPoP proofs), by
//! jsonwebtoken, independently of certbound's own signing code.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use certbound::jose::{SigningAlg, SigningKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// A client's key pair: its public JWK (with `kid`) and a way to sign.
pub struct ClientKey {
    pub public_jwk: Value,
    pub kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
}

impl ClientKey {
    pub fn generate(alg: SigningAlg) -> Self {
        let (key, pkcs8) = SigningKey::generate(alg).unwrap();
        let (alg, encoding) = match alg {
            SigningAlg::Es256 => (Algorithm::ES256, EncodingKey::from_ec_der(&pkcs8)),
            SigningAlg::Ps256 => (Algorithm::PS256, EncodingKey::from_rsa_der(pkcs8_private_key(&pkcs8))),
            SigningAlg::EdDsa => (Algorithm::EdDSA, EncodingKey::from_ed_der(&pkcs8)),
        };
        Self {
            public_jwk: key.public_jwk().clone(),
            kid: key.kid().to_string(),
            alg,
            encoding,
        }
    }

    /// `{"keys": [this key]}`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.public_jwk] })
    }

    /// Signs `claims` with `kid` and the given `typ`.
    pub fn sign(&self, typ: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.typ = typ.map(String::from);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// Signs with a header given in full.
    pub fn sign_with(&self, header: Header, claims: &Value) -> String {
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// Signs with a header given as JSON, exactly as written (members jsonwebtoken's `Header`
    /// does not model included).
    pub fn sign_raw_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &self.encoding, self.alg).unwrap();
        format!("{input}.{signature}")
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

/// The `privateKey` OCTET STRING of a PKCS#8 `PrivateKeyInfo` (for RSA, the PKCS#1 key
/// jsonwebtoken wants): SEQUENCE { version, algorithm, privateKey }.
fn pkcs8_private_key(der: &[u8]) -> &[u8] {
    /// The header length and content length of the DER element at `at`.
    fn element(der: &[u8], at: usize) -> (usize, usize) {
        let first = der[at + 1] as usize;
        if first < 0x80 {
            return (2, first);
        }
        let bytes = first & 0x7f;
        let length = der[at + 2..at + 2 + bytes]
            .iter()
            .fold(0, |n, b| (n << 8) | *b as usize);
        (2 + bytes, length)
    }
    let (outer_header, _) = element(der, 0);
    let mut at = outer_header;
    for _ in 0..2 {
        let (header, length) = element(der, at);
        at += header + length;
    }
    assert_eq!(der[at], 0x04, "an OCTET STRING");
    let (header, length) = element(der, at);
    &der[at + header..at + header + length]
}

/// An unsigned JWT (`alg: none`) with these claims.
pub fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string());
    format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

/// A JWT "signed" with HMAC using `secret`, the key-confusion attack.
pub fn hmac_signed(kid: &str, claims: &Value, secret: &[u8]) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// A client assertion (RFC 7523) for `client_id` to `audience`, living `lifetime` seconds.
pub fn assertion_claims(client_id: &str, audience: Value, lifetime: i64) -> Value {
    let now = certbound::now();
    json!({
        "iss": client_id, "sub": client_id, "aud": audience,
        "iat": now, "exp": now + lifetime, "jti": certbound::jose::random_id(),
    })
}
