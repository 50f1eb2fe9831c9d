//! The access token's confirmation (`cnf`, RFC 7800): the key the sender must prove it holds
//! when it presents the token. One variant per binding; the resource server fails closed on a
//! `cnf` it does not understand.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;

use crate::pki::Thumbprint;

/// RFC 9449 `jkt`: the RFC 7638 SHA-256 thumbprint of a DPoP public key, compared in constant
/// time.
#[derive(Clone, Copy, Eq)]
pub struct Jkt([u8; 32]);

impl Jkt {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn from_base64url(s: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(s).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }
}

impl PartialEq for Jkt {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for Jkt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Jkt({})", self.to_base64url())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// RFC 8705 §3.1 `x5t#S256`: the SHA-256 thumbprint of the client certificate.
    X5tS256(Thumbprint),
    /// RFC 9449 §6.1 `jkt`: the thumbprint of the DPoP key.
    Jkt(Jkt),
}

/// What the sender proved it holds on this request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Proofs<'a> {
    /// The certificate on the connection.
    pub certificate: Option<&'a Thumbprint>,
    /// The key of a DPoP proof that verified for this request.
    pub dpop_key: Option<&'a Jkt>,
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
    /// Checks the binding against what the request proves (compared in constant time).
    pub fn check(&self, proofs: Proofs<'_>) -> Binding {
        match self {
            Confirmation::X5tS256(bound) => match proofs.certificate {
                Some(presented) if bound == presented => Binding::Holds,
                Some(_) => Binding::Mismatch,
                None => Binding::Absent,
            },
            Confirmation::Jkt(bound) => match proofs.dpop_key {
                Some(presented) if bound == presented => Binding::Holds,
                Some(_) => Binding::Mismatch,
                None => Binding::Absent,
            },
        }
    }

    pub fn is_dpop(&self) -> bool {
        matches!(self, Confirmation::Jkt(_))
    }
}

impl Serialize for Confirmation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Confirmation::X5tS256(t) => map.serialize_entry("x5t#S256", &t.to_base64url())?,
            Confirmation::Jkt(k) => map.serialize_entry("jkt", &k.to_base64url())?,
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
            jkt: Option<String>,
        }
        let wire = Wire::deserialize(deserializer)?;
        match (wire.x5t_s256, wire.jkt) {
            (Some(t), None) => Thumbprint::from_base64url(&t)
                .map(Confirmation::X5tS256)
                .ok_or_else(|| D::Error::custom("x5t#S256 is not a SHA-256 thumbprint")),
            (None, Some(k)) => Jkt::from_base64url(&k)
                .map(Confirmation::Jkt)
                .ok_or_else(|| D::Error::custom("jkt is not a SHA-256 thumbprint")),
            (Some(_), Some(_)) => Err(D::Error::custom("a token is bound one way only")),
            (None, None) => Err(D::Error::custom("unsupported confirmation method")),
        }
    }
}

/// Which sender constraints a resource accepts (a resource server's policy, a gateway's
/// configuration).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SenderBinding {
    /// Bound to the connection's client certificate (RFC 8705), sent as `Bearer`.
    Certificate,
    /// Bound to a DPoP key (RFC 9449), sent as `DPoP` with a proof.
    Dpop,
    /// Either one.
    #[default]
    Either,
}

impl SenderBinding {
    pub fn accepts_certificate(self) -> bool {
        matches!(self, SenderBinding::Certificate | SenderBinding::Either)
    }

    pub fn accepts_dpop(self) -> bool {
        matches!(self, SenderBinding::Dpop | SenderBinding::Either)
    }
}

impl std::str::FromStr for SenderBinding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "certificate" => Ok(SenderBinding::Certificate),
            "dpop" => Ok(SenderBinding::Dpop),
            "either" => Ok(SenderBinding::Either),
            other => Err(format!("binding {other:?} is not certificate, dpop or either")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_rfc8705_and_rfc9449_cnf_and_refuses_what_it_cannot_check() {
        let t = Thumbprint::of_der(b"cert");
        let cnf = Confirmation::X5tS256(t);
        let json = serde_json::to_value(cnf).unwrap();
        assert_eq!(json, serde_json::json!({ "x5t#S256": t.to_base64url() }));
        assert_eq!(serde_json::from_value::<Confirmation>(json).unwrap(), cnf);
        let k = Jkt::from_bytes([7; 32]);
        let json = serde_json::to_value(Confirmation::Jkt(k)).unwrap();
        assert_eq!(json, serde_json::json!({ "jkt": k.to_base64url() }));
        assert_eq!(
            serde_json::from_value::<Confirmation>(json).unwrap(),
            Confirmation::Jkt(k)
        );
        for bad in [
            serde_json::json!({"x5t#S256": "AAAA"}),
            serde_json::json!({"jkt": "AAAA"}),
            serde_json::json!({"jwk": {}}),
            serde_json::json!({"x5t#S256": t.to_base64url(), "jkt": k.to_base64url()}),
        ] {
            assert!(serde_json::from_value::<Confirmation>(bad).is_err());
        }
    }

    #[test]
    fn binding_holds_only_for_the_same_key_of_the_same_kind() {
        let bound = Thumbprint::of_der(b"a");
        let other = Thumbprint::of_der(b"b");
        let cnf = Confirmation::X5tS256(bound);
        let with = |certificate, dpop_key| Proofs { certificate, dpop_key };
        assert_eq!(cnf.check(with(Some(&bound), None)), Binding::Holds);
        assert_eq!(cnf.check(with(Some(&other), None)), Binding::Mismatch);
        assert_eq!(cnf.check(with(None, None)), Binding::Absent);
        let jkt = Jkt::from_bytes([1; 32]);
        let dpop = Confirmation::Jkt(jkt);
        assert_eq!(dpop.check(with(Some(&bound), Some(&jkt))), Binding::Holds);
        assert_eq!(
            dpop.check(with(Some(&bound), None)),
            Binding::Absent,
            "a certificate is not a DPoP key"
        );
        assert_eq!(
            dpop.check(with(None, Some(&Jkt::from_bytes([2; 32])))),
            Binding::Mismatch
        );
    }
}
