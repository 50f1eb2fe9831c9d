//! Verification profiles: the rules each kind of JWT is checked by. A JWT made for one purpose
//! must never pass as another (RFC 8725 §3.11, explicit typing), so each profile fixes the `typ`
//! it accepts, the algorithms, and the time claims; the claims that only an endpoint can judge
//! (audience forms, `jti` replay, `htm`/`htu`) are the endpoint's own named checks.

use super::SigningAlg;

/// What the `typ` header must say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypRule {
    /// Exactly this media type (case-insensitively, with or without `application/`).
    Exactly(&'static str),
    /// This media type, or no `typ` at all (older clients omit it).
    ThisOrAbsent(&'static str),
}

impl TypRule {
    pub fn accepts(self, typ: Option<&str>) -> bool {
        let is = |expected: &str, got: &str| {
            let got = got.strip_prefix("application/").unwrap_or(got);
            got.eq_ignore_ascii_case(expected)
        };
        match (self, typ) {
            (TypRule::Exactly(expected) | TypRule::ThisOrAbsent(expected), Some(got)) => is(expected, got),
            (TypRule::Exactly(_), None) => false,
            (TypRule::ThisOrAbsent(_), None) => true,
        }
    }
}

/// The rules for one kind of JWT.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    pub name: &'static str,
    pub typ: TypRule,
    /// Algorithms accepted; the key's own algorithm must also be one of them.
    pub algorithms: &'static [SigningAlg],
    /// Registered claims that must be present (`exp`, `nbf`, `iss`, `sub`, `aud`); the rest are
    /// required by the claims type the caller deserialises into.
    pub required_claims: &'static [&'static str],
    /// `exp` is checked (a DPoP proof has none: its freshness is `iat`, the endpoint's check).
    pub validate_exp: bool,
    /// `nbf` is checked when present.
    pub validate_nbf: bool,
}

/// The algorithms FAPI 2.0 allows (Security Profile §5.4.1).
const FAPI_ALGORITHMS: &[SigningAlg] = &SigningAlg::ALL;

/// RFC 9068 JWT access tokens.
pub const ACCESS_TOKEN: Profile = Profile {
    name: "access token",
    typ: TypRule::Exactly("at+jwt"),
    algorithms: FAPI_ALGORITHMS,
    required_claims: &["exp", "iss", "sub"],
    validate_exp: true,
    validate_nbf: true,
};

/// RFC 9101 request objects (FAPI 2.0 Message Signing §5.3.1: `exp` and `nbf` required).
pub const REQUEST_OBJECT: Profile = Profile {
    name: "request object",
    typ: TypRule::ThisOrAbsent("oauth-authz-req+jwt"),
    algorithms: FAPI_ALGORITHMS,
    required_claims: &["exp", "nbf", "iss", "aud"],
    validate_exp: true,
    validate_nbf: true,
};

/// RFC 7523 §3 client assertions for `private_key_jwt`.
pub const CLIENT_ASSERTION: Profile = Profile {
    name: "client assertion",
    typ: TypRule::ThisOrAbsent("JWT"),
    algorithms: FAPI_ALGORITHMS,
    required_claims: &["exp", "iss", "sub", "aud"],
    validate_exp: true,
    validate_nbf: true,
};

/// RFC 9449 §4.2 DPoP proofs, verified with the key in their own `jwk` header.
pub const DPOP_PROOF: Profile = Profile {
    name: "DPoP proof",
    typ: TypRule::Exactly("dpop+jwt"),
    algorithms: FAPI_ALGORITHMS,
    required_claims: &[],
    validate_exp: false,
    validate_nbf: false,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_rules() {
        assert!(ACCESS_TOKEN.typ.accepts(Some("at+jwt")));
        assert!(ACCESS_TOKEN.typ.accepts(Some("application/AT+JWT")));
        assert!(!ACCESS_TOKEN.typ.accepts(Some("JWT")));
        assert!(!ACCESS_TOKEN.typ.accepts(None));
        assert!(CLIENT_ASSERTION.typ.accepts(None));
        assert!(CLIENT_ASSERTION.typ.accepts(Some("JWT")));
        assert!(!CLIENT_ASSERTION.typ.accepts(Some("at+jwt")));
        assert!(!CLIENT_ASSERTION.typ.accepts(Some("dpop+jwt")));
        assert!(REQUEST_OBJECT.typ.accepts(Some("oauth-authz-req+jwt")));
        assert!(!REQUEST_OBJECT.typ.accepts(Some("at+jwt")));
        assert!(DPOP_PROOF.typ.accepts(Some("dpop+jwt")));
        assert!(!DPOP_PROOF.typ.accepts(None));
    }
}
