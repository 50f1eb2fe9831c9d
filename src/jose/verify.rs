//! Verifying JWTs: a public key's algorithm comes from the key (its JWK), never from the token,
//! and each token is checked against the [`Profile`] of its kind.

use std::collections::HashMap;

use jsonwebtoken::{DecodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{KeyError, Profile, SigningAlg, TokenError};

/// What the caller expects of the claims the profile checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expect<'a> {
    /// `iss` must equal this.
    pub issuer: Option<&'a str>,
    /// Seconds of clock skew tolerated on `exp` and `nbf`.
    pub leeway: u64,
}

/// A public key that JWTs may be verified with.
pub struct VerificationKey {
    alg: SigningAlg,
    key: DecodingKey,
}

impl VerificationKey {
    /// From a public JWK (RFC 7517). The algorithm is the JWK's `alg` if it has one, else the
    /// one FAPI 2.0 allows for its key type: ES256 for P-256, PS256 for RSA, EdDSA for Ed25519.
    /// A JWK carrying private members is refused: it was never meant to be published.
    pub fn from_jwk(jwk: &Value) -> Result<Self, KeyError> {
        let text = |k: &str| {
            jwk.get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| KeyError::Invalid(format!("JWK lacks {k}")))
        };
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|m| jwk.get(m).is_some())
        {
            return Err(KeyError::Invalid("JWK holds private key material".into()));
        }
        let inferred = match (text("kty")?, jwk.get("crv").and_then(Value::as_str)) {
            ("EC", Some("P-256")) => SigningAlg::Es256,
            ("RSA", _) => SigningAlg::Ps256,
            ("OKP", Some("Ed25519")) => SigningAlg::EdDsa,
            (kty, crv) => return Err(KeyError::Invalid(format!("unsupported key type {kty} {crv:?}"))),
        };
        let alg = match jwk.get("alg").and_then(Value::as_str) {
            None => inferred,
            Some(a) => match a.parse::<SigningAlg>() {
                Ok(alg) if alg == inferred => alg,
                _ => return Err(KeyError::Invalid(format!("JWK alg {a} is not allowed for its key"))),
            },
        };
        let bad = |e: jsonwebtoken::errors::Error| KeyError::Invalid(e.to_string());
        let key = match alg {
            SigningAlg::Es256 => DecodingKey::from_ec_components(text("x")?, text("y")?).map_err(bad)?,
            SigningAlg::Ps256 => DecodingKey::from_rsa_components(text("n")?, text("e")?).map_err(bad)?,
            SigningAlg::EdDsa => DecodingKey::from_ed_components(text("x")?).map_err(bad)?,
        };
        Ok(Self { alg, key })
    }

    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// Verifies a JWT whose header was already decoded: its `typ` and algorithm against the
    /// profile and this key, the signature, then the profile's time and issuer rules.
    pub fn decode<T: DeserializeOwned>(
        &self,
        token: &str,
        header: &Header,
        profile: &Profile,
        expect: Expect<'_>,
    ) -> Result<T, TokenError> {
        if !profile.typ.accepts(header.typ.as_deref()) {
            return Err(TokenError::WrongType);
        }
        if header.alg != self.alg.jsonwebtoken() || !profile.algorithms.contains(&self.alg) {
            return Err(TokenError::WrongAlgorithm);
        }
        let mut validation = Validation::new(self.alg.jsonwebtoken());
        validation.leeway = expect.leeway;
        validation.validate_exp = profile.validate_exp;
        validation.validate_nbf = profile.validate_nbf;
        validation.validate_aud = false;
        if let Some(issuer) = expect.issuer {
            validation.set_issuer(&[issuer]);
        }
        validation.set_required_spec_claims(profile.required_claims);
        jsonwebtoken::decode::<T>(token, &self.key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::BadSignature,
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                jsonwebtoken::errors::ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => TokenError::WrongAlgorithm,
                jsonwebtoken::errors::ErrorKind::Json(_) | jsonwebtoken::errors::ErrorKind::MissingRequiredClaim(_) => {
                    TokenError::InvalidClaims
                }
                _ => TokenError::Malformed,
            })
    }
}

/// Verifies a JWT whose key is in its own `jwk` header (RFC 9449 DPoP proofs): the key must be
/// public and of an allowed type. Returns the claims and the key.
pub fn decode_with_embedded_key<T: DeserializeOwned>(
    token: &str,
    profile: &Profile,
    expect: Expect<'_>,
) -> Result<(T, Value), TokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
    if !profile.typ.accepts(header.typ.as_deref()) {
        return Err(TokenError::WrongType);
    }
    let jwk = raw_header_member(token, "jwk").ok_or(TokenError::UnknownKey)?;
    let key = VerificationKey::from_jwk(&jwk).map_err(|_| TokenError::UnknownKey)?;
    let claims = key.decode(token, &header, profile, expect)?;
    Ok((claims, jwk))
}

/// A member of the JWT's header exactly as sent: jsonwebtoken's typed `jwk` drops members it
/// does not model, among them the private ones a public key must not carry.
fn raw_header_member(token: &str, name: &str) -> Option<Value> {
    use base64::Engine;
    let segment = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(segment).ok()?;
    let mut header: serde_json::Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    header.remove(name)
}

/// Public keys by `kid`: a JWKS made usable.
#[derive(Default)]
pub struct Verifier {
    keys: HashMap<String, VerificationKey>,
}

impl Verifier {
    /// From public JWKs. Keys of other types, or without `kid`, are skipped when `lenient` (a
    /// remote JWKS may hold keys for other uses) and are an error otherwise.
    pub fn from_jwks(jwks: &[Value], lenient: bool) -> Result<Self, KeyError> {
        let mut keys = HashMap::new();
        for jwk in jwks {
            let kid = jwk.get("kid").and_then(Value::as_str);
            match (kid, VerificationKey::from_jwk(jwk)) {
                (Some(kid), Ok(key)) => {
                    keys.insert(kid.to_string(), key);
                }
                _ if lenient => {}
                (None, _) => return Err(KeyError::Invalid("JWK lacks kid".into())),
                (_, Err(e)) => return Err(e),
            }
        }
        Ok(Self { keys })
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    pub fn knows(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// Verifies a JWT signed by one of these keys, named by its `kid`, under `profile`.
    pub fn decode<T: DeserializeOwned>(
        &self,
        token: &str,
        profile: &Profile,
        expect: Expect<'_>,
    ) -> Result<T, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if !profile.typ.accepts(header.typ.as_deref()) {
            return Err(TokenError::WrongType);
        }
        let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
        let key = self.keys.get(kid).ok_or(TokenError::UnknownKey)?;
        key.decode(token, &header, profile, expect)
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::json;

    use super::super::profile::{ACCESS_TOKEN, CLIENT_ASSERTION, DPOP_PROOF, REQUEST_OBJECT};
    use super::super::{random_id, SigningKey};
    use super::*;

    const ISS: &str = "https://as.example";

    fn claims(exp: i64) -> Value {
        json!({
            "iss": ISS, "sub": "c1", "aud": "https://rs.example", "client_id": "c1",
            "jti": random_id(), "iat": crate::now(), "nbf": crate::now() - 1, "exp": exp,
        })
    }

    fn key(alg: SigningAlg) -> (SigningKey, Verifier) {
        let (key, _) = SigningKey::generate(alg).unwrap();
        let verifier = Verifier::from_jwks(&[key.public_jwk().clone()], false).unwrap();
        (key, verifier)
    }

    fn with_header(key: &SigningKey, header: Value, claims: &Value) -> String {
        key.sign_with_header(&header, claims).unwrap()
    }

    fn expect(issuer: &str) -> Expect<'_> {
        Expect {
            issuer: Some(issuer),
            leeway: 0,
        }
    }

    #[test]
    fn every_algorithm_verifies_and_the_issuer_is_checked() {
        for alg in SigningAlg::ALL {
            let (key, verifier) = key(alg);
            let token = key.sign_access_token(&claims(crate::now() + 60)).unwrap();
            let got: Value = verifier.decode(&token, &ACCESS_TOKEN, expect(ISS)).unwrap();
            assert_eq!(got["client_id"], "c1");
            let wrong = verifier.decode::<Value>(&token, &ACCESS_TOKEN, expect("https://other.example"));
            assert_eq!(wrong.unwrap_err(), TokenError::WrongIssuer);
        }
    }

    #[test]
    fn tampered_expired_and_foreign_tokens_fail() {
        let (key, verifier) = key(SigningAlg::Es256);
        let token = key.sign_access_token(&claims(crate::now() + 60)).unwrap();
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let mut payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        payload["scope"] = "payments".into();
        parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
        let decode = |t: &str| verifier.decode::<Value>(t, &ACCESS_TOKEN, expect(ISS)).unwrap_err();
        assert_eq!(decode(&parts.join(".")), TokenError::BadSignature);
        let expired = key.sign_access_token(&claims(crate::now() - 1)).unwrap();
        assert_eq!(decode(&expired), TokenError::Expired);
        let (other, _) = self::key(SigningAlg::Es256);
        let foreign = other.sign_access_token(&claims(crate::now() + 60)).unwrap();
        assert_eq!(decode(&foreign), TokenError::UnknownKey);
        assert_eq!(decode("garbage"), TokenError::Malformed);
    }

    #[test]
    fn alg_none_hmac_and_the_wrong_typ_are_refused() {
        let (key, verifier) = key(SigningAlg::Es256);
        let kid = key.kid().to_string();
        let body = URL_SAFE_NO_PAD.encode(claims(crate::now() + 60).to_string());
        let decode = |t: &str| verifier.decode::<Value>(t, &ACCESS_TOKEN, expect(ISS));
        let none = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "at+jwt", "kid": kid}).to_string());
        assert!(decode(&format!("{none}.{body}.")).is_err());
        let hs = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}).to_string());
        assert!(decode(&format!("{hs}.{body}.AAAA")).is_err());
        let jwt = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "typ": "JWT", "kid": kid}).to_string());
        assert_eq!(
            decode(&format!("{jwt}.{body}.AAAA")).unwrap_err(),
            TokenError::WrongType
        );
    }

    #[test]
    fn a_token_of_one_profile_does_not_pass_as_another() {
        let (key, verifier) = key(SigningAlg::Es256);
        let claims = claims(crate::now() + 60);
        let access_token = key.sign_access_token(&claims).unwrap();
        for profile in [&CLIENT_ASSERTION, &REQUEST_OBJECT, &DPOP_PROOF] {
            assert_eq!(
                verifier
                    .decode::<Value>(&access_token, profile, expect(ISS))
                    .unwrap_err(),
                TokenError::WrongType,
                "{}",
                profile.name
            );
        }
        let kid = key.kid();
        let assertion = with_header(&key, json!({"alg": "ES256", "kid": kid}), &claims);
        assert!(verifier
            .decode::<Value>(&assertion, &CLIENT_ASSERTION, expect(ISS))
            .is_ok());
        assert_eq!(
            verifier
                .decode::<Value>(&assertion, &ACCESS_TOKEN, expect(ISS))
                .unwrap_err(),
            TokenError::WrongType
        );
        let request = with_header(
            &key,
            json!({"alg": "ES256", "kid": kid, "typ": "oauth-authz-req+jwt"}),
            &claims,
        );
        assert!(verifier.decode::<Value>(&request, &REQUEST_OBJECT, expect(ISS)).is_ok());
        // A request object must carry nbf (FAPI 2.0 Message Signing §5.3.1).
        let mut no_nbf = claims.clone();
        no_nbf.as_object_mut().unwrap().remove("nbf");
        let request = with_header(&key, json!({"alg": "ES256", "kid": kid}), &no_nbf);
        assert_eq!(
            verifier
                .decode::<Value>(&request, &REQUEST_OBJECT, expect(ISS))
                .unwrap_err(),
            TokenError::InvalidClaims
        );
    }

    #[test]
    fn dpop_proofs_verify_with_their_own_key_and_need_no_exp() {
        let (key, _) = key(SigningAlg::EdDsa);
        let jwk = key.public_jwk().clone();
        let proof = json!({"jti": random_id(), "htm": "POST", "htu": "https://as.example/token", "iat": crate::now()});
        let token = with_header(&key, json!({"alg": "EdDSA", "typ": "dpop+jwt", "jwk": jwk}), &proof);
        let header = jsonwebtoken::decode_header(&token).unwrap();
        let embedded = serde_json::to_value(header.jwk.as_ref().unwrap()).unwrap();
        let got: Value = VerificationKey::from_jwk(&embedded)
            .unwrap()
            .decode(&token, &header, &DPOP_PROOF, Expect::default())
            .unwrap();
        assert_eq!(got["htm"], "POST");
    }

    #[test]
    fn jwks_keys_infer_their_algorithm_and_private_keys_are_refused() {
        let (key, _) = key(SigningAlg::Ps256);
        let mut jwk = key.public_jwk().clone();
        jwk.as_object_mut().unwrap().remove("alg");
        assert_eq!(VerificationKey::from_jwk(&jwk).unwrap().alg(), SigningAlg::Ps256);
        jwk["alg"] = "RS256".into();
        assert!(
            VerificationKey::from_jwk(&jwk).is_err(),
            "RS256 is not a FAPI algorithm"
        );
        jwk["alg"] = "ES256".into();
        assert!(VerificationKey::from_jwk(&jwk).is_err(), "alg must fit the key type");
        jwk.as_object_mut().unwrap().remove("alg");
        jwk["d"] = "secret".into();
        assert!(VerificationKey::from_jwk(&jwk).is_err());
        assert!(Verifier::from_jwks(&[json!({"kty": "oct", "k": "c2VjcmV0", "kid": "h"})], false).is_err());
        assert!(
            Verifier::from_jwks(&[json!({"kty": "oct", "k": "c2VjcmV0", "kid": "h"})], true)
                .unwrap()
                .kids()
                .next()
                .is_none()
        );
    }
}
