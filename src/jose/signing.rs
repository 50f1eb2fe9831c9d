//! Private signing keys held as aws-lc-rs key pairs, each with its public JWK and JWS headers
//! encoded once.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PSS_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::{jwk_thumbprint, KeyError, SigningAlg};

/// The kinds of JWT this server signs, by their `typ` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtType {
    /// RFC 9068 §2.1: `typ: at+jwt`.
    AccessToken,
    /// OpenID Connect Core §2 ID token: `typ: JWT`.
    IdToken,
}

impl JwtType {
    const ALL: [JwtType; 2] = [JwtType::AccessToken, JwtType::IdToken];

    pub fn typ(self) -> &'static str {
        match self {
            JwtType::AccessToken => "at+jwt",
            JwtType::IdToken => "JWT",
        }
    }
}

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private signing key, with its public JWK and pre-encoded JWS headers.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    pair: Pair,
    public_jwk: Value,
    /// base64url of `{"alg","kid","typ"}`, one per [`JwtType`], in the order of `JwtType::ALL`.
    headers_b64: [String; 2],
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({} {})", self.alg.as_str(), self.kid)
    }
}

impl SigningKey {
    /// Generates a key and returns it with its PKCS#8 encoding for storage, wiped from memory
    /// when dropped.
    pub fn generate(alg: SigningAlg) -> Result<(Self, Zeroizing<Vec<u8>>), KeyError> {
        use aws_lc_rs::encoding::AsDer;
        let pkcs8 = match alg {
            SigningAlg::Es256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| KeyError::Generate)?
                .as_ref()
                .to_vec(),
            SigningAlg::Ps256 => RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .and_then(|k| k.as_der())
                .map_err(|_| KeyError::Generate)?
                .as_ref()
                .to_vec(),
            SigningAlg::EdDsa => Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map_err(|_| KeyError::Generate)?
                .as_ref()
                .to_vec(),
        };
        let pkcs8 = Zeroizing::new(pkcs8);
        Ok((Self::from_pkcs8(alg, &pkcs8)?, pkcs8))
    }

    pub fn from_pkcs8(alg: SigningAlg, pkcs8: &[u8]) -> Result<Self, KeyError> {
        let invalid = |e: aws_lc_rs::error::KeyRejected| KeyError::Invalid(e.to_string());
        let (pair, members) = match alg {
            SigningAlg::Es256 => {
                let k = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).map_err(invalid)?;
                let point = k.public_key().as_ref();
                let members = json!({
                    "crv": "P-256",
                    "kty": "EC",
                    "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                    "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
                });
                (Pair::Ec(k), members)
            }
            SigningAlg::Ps256 => {
                let k = RsaKeyPair::from_pkcs8(pkcs8).map_err(invalid)?;
                let public = k.public_key();
                let members = json!({
                    "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
                    "kty": "RSA",
                    "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                });
                (Pair::Rsa(k), members)
            }
            SigningAlg::EdDsa => {
                let k = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(invalid)?;
                let members = json!({
                    "crv": "Ed25519",
                    "kty": "OKP",
                    "x": URL_SAFE_NO_PAD.encode(k.public_key().as_ref()),
                });
                (Pair::Ed(k), members)
            }
        };
        let kid = jwk_thumbprint(&members);
        let mut public_jwk = members;
        public_jwk["kid"] = kid.clone().into();
        public_jwk["alg"] = alg.as_str().into();
        public_jwk["use"] = "sig".into();
        let headers_b64 = JwtType::ALL
            .map(|t| URL_SAFE_NO_PAD.encode(json!({"alg": alg.as_str(), "kid": kid, "typ": t.typ()}).to_string()));
        Ok(Self {
            headers_b64,
            kid,
            alg,
            pair,
            public_jwk,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The public key as a JWK with `kid`, `alg` and `use`.
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// Signs `claims` as a compact JWS with header `{"alg","kid","typ"}` for its type.
    pub fn sign(&self, typ: JwtType, claims: &impl Serialize) -> Result<String, KeyError> {
        self.sign_encoded(&self.headers_b64[typ as usize], claims)
    }

    /// Signs under any header, for tests that forge tokens of other kinds.
    #[cfg(test)]
    pub(crate) fn sign_with_header(&self, header: &Value, claims: &impl Serialize) -> Result<String, KeyError> {
        self.sign_encoded(&URL_SAFE_NO_PAD.encode(header.to_string()), claims)
    }

    fn sign_encoded(&self, header: &str, claims: &impl Serialize) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?;
        let mut jws = String::with_capacity(header.len() + payload.len() * 4 / 3 + 400);
        jws.push_str(header);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut jws);
        let signature = match &self.pair {
            Pair::Ec(k) => k
                .sign(&SystemRandom::new(), jws.as_bytes())
                .map_err(|_| KeyError::Sign)?
                .as_ref()
                .to_vec(),
            Pair::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&RSA_PSS_SHA256, &SystemRandom::new(), jws.as_bytes(), &mut sig)
                    .map_err(|_| KeyError::Sign)?;
                sig
            }
            Pair::Ed(k) => k.sign(jws.as_bytes()).as_ref().to_vec(),
        };
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut jws);
        Ok(jws)
    }

    /// [`sign`](Self::sign) for an RFC 9068 access token.
    pub fn sign_access_token(&self, claims: &impl Serialize) -> Result<String, KeyError> {
        self.sign(JwtType::AccessToken, claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_carries_its_own_typ_header() {
        let (key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
        for (typ, expected) in [(JwtType::AccessToken, "at+jwt"), (JwtType::IdToken, "JWT")] {
            let jws = key.sign(typ, &json!({"sub": "x"})).unwrap();
            let header = jsonwebtoken::decode_header(&jws).unwrap();
            assert_eq!(header.typ.as_deref(), Some(expected));
            assert_eq!(header.kid.as_deref(), Some(key.kid()));
        }
    }
}
