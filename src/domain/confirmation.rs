//! The access token's confirmation (`cnf`, RFC 7800): the key the sender must prove it holds
//! when it presents the token. One variant per binding; the resource server fails closed on a
//! `cnf` it does not understand.

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::pki::Thumbprint;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// RFC 8705 §3.1 `x5t#S256`: the SHA-256 thumbprint of the client certificate.
    X5tS256(Thumbprint),
}

/// Whether what the sender presented on this request satisfies a confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    Holds,
    /// The request carries no proof of the kind the token needs.
    Absent,
    /// The request proves a different key.
    Mismatch,
}

impl Confirmation {
    /// Checks the binding against the certificate on the connection (compared in constant time).
    pub fn check(&self, certificate: Option<&Thumbprint>) -> Binding {
        match (self, certificate) {
            (Confirmation::X5tS256(bound), Some(presented)) if bound == presented => Binding::Holds,
            (Confirmation::X5tS256(_), Some(_)) => Binding::Mismatch,
            (Confirmation::X5tS256(_), None) => Binding::Absent,
        }
    }
}

impl Serialize for Confirmation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Confirmation::X5tS256(t) => map.serialize_entry("x5t#S256", &t.to_base64url())?,
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Confirmation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(rename = "x5t#S256")]
            x5t_s256: Option<String>,
        }
        let wire = Wire::deserialize(deserializer)?;
        match wire.x5t_s256 {
            Some(t) => Thumbprint::from_base64url(&t)
                .map(Confirmation::X5tS256)
                .ok_or_else(|| D::Error::custom("x5t#S256 is not a SHA-256 thumbprint")),
            None => Err(D::Error::custom("unsupported confirmation method")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_rfc8705_cnf_and_refuses_what_it_cannot_check() {
        let t = Thumbprint::of_der(b"cert");
        let cnf = Confirmation::X5tS256(t);
        let json = serde_json::to_value(cnf).unwrap();
        assert_eq!(json, serde_json::json!({ "x5t#S256": t.to_base64url() }));
        assert_eq!(serde_json::from_value::<Confirmation>(json).unwrap(), cnf);
        assert!(serde_json::from_value::<Confirmation>(serde_json::json!({"x5t#S256": "AAAA"})).is_err());
        assert!(serde_json::from_value::<Confirmation>(serde_json::json!({"jwk": {}})).is_err());
    }

    #[test]
    fn binding_holds_only_for_the_same_certificate() {
        let bound = Thumbprint::of_der(b"a");
        let cnf = Confirmation::X5tS256(bound);
        assert_eq!(cnf.check(Some(&bound)), Binding::Holds);
        assert_eq!(cnf.check(Some(&Thumbprint::of_der(b"b"))), Binding::Mismatch);
        assert_eq!(cnf.check(None), Binding::Absent);
    }
}
