//! Registered clients: what a client is allowed to do and how its certificate is matched
//! (RFC 8705 §2, RFC 7591 client metadata).

use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::customer::CUSTOMER_ID_PREFIX;
use super::scope::is_scope_token;
use super::GrantType;
use crate::jose::VerificationKey;
use crate::pki::{certs_from_pem, DistinguishedName, SpkiPin, Thumbprint};

/// `token_endpoint_auth_method` values certbound accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// PKI: chain to a trust anchor plus one registered subject (RFC 8705 §2.1).
    TlsClientAuth,
    /// A certificate registered with the client (RFC 8705 §2.2).
    SelfSignedTlsClientAuth,
    /// A JWT signed with one of the client's registered keys (RFC 7523 §2.2).
    PrivateKeyJwt,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 3] = [
        AuthMethod::TlsClientAuth,
        AuthMethod::SelfSignedTlsClientAuth,
        AuthMethod::PrivateKeyJwt,
    ];

    /// Whether the method authenticates the client by its certificate on the connection.
    pub fn uses_certificate(self) -> bool {
        matches!(self, AuthMethod::TlsClientAuth | AuthMethod::SelfSignedTlsClientAuth)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::TlsClientAuth => "tls_client_auth",
            AuthMethod::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

impl FromStr for AuthMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tls_client_auth" => Ok(Self::TlsClientAuth),
            "self_signed_tls_client_auth" => Ok(Self::SelfSignedTlsClientAuth),
            "private_key_jwt" => Ok(Self::PrivateKeyJwt),
            other => Err(format!("unsupported auth method {other:?}")),
        }
    }
}

/// Whether the client may authenticate.
pub type ClientStatus = super::status::Status;

/// The one registered subject a `tls_client_auth` certificate must carry (RFC 8705 §2.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectMatcher {
    Dn(DistinguishedName),
    SanDns(String),
    SanUri(String),
    SanIp(IpAddr),
    SanEmail(String),
}

impl SubjectMatcher {
    /// The RFC 8705 metadata name and the value as registered.
    pub fn parts(&self) -> (&'static str, String) {
        match self {
            SubjectMatcher::Dn(dn) => ("tls_client_auth_subject_dn", dn.to_string()),
            SubjectMatcher::SanDns(v) => ("tls_client_auth_san_dns", v.clone()),
            SubjectMatcher::SanUri(v) => ("tls_client_auth_san_uri", v.clone()),
            SubjectMatcher::SanIp(v) => ("tls_client_auth_san_ip", v.to_string()),
            SubjectMatcher::SanEmail(v) => ("tls_client_auth_san_email", v.clone()),
        }
    }

    /// Parses from the metadata name and value.
    pub fn from_parts(kind: &str, value: &str) -> Result<Self, String> {
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("{kind} is empty"));
        }
        match kind {
            "tls_client_auth_subject_dn" => DistinguishedName::parse(value).map(Self::Dn).map_err(|e| e.to_string()),
            "tls_client_auth_san_dns" => Ok(Self::SanDns(value.to_ascii_lowercase())),
            "tls_client_auth_san_uri" => Ok(Self::SanUri(value.to_string())),
            "tls_client_auth_san_ip" => value
                .parse()
                .map(Self::SanIp)
                .map_err(|_| format!("{value:?} is not an IP address")),
            "tls_client_auth_san_email" if value.contains('@') => Ok(Self::SanEmail(value.to_string())),
            "tls_client_auth_san_email" => Err(format!("{value:?} is not an email address")),
            other => Err(format!("unknown subject kind {other:?}")),
        }
    }
}

/// An exact certificate named by issuer and serial number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerSerial {
    pub issuer: String,
    /// Hex of the serial number's DER integer content.
    pub serial: String,
}

impl IssuerSerial {
    /// Parses `SERIAL_HEX:ISSUER_DN`, normalising both parts.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (serial, issuer) = s.split_once(':').ok_or("expected SERIAL_HEX:ISSUER_DN")?;
        let pin = Self {
            issuer: issuer.to_string(),
            serial: serial.trim().trim_start_matches("0x").to_ascii_lowercase(),
        };
        let (dn, _) = pin.decode()?;
        Ok(Self {
            issuer: dn.to_string(),
            ..pin
        })
    }

    /// The issuer name and the serial number's bytes.
    pub fn decode(&self) -> Result<(DistinguishedName, Vec<u8>), String> {
        // An odd number of digits is a number with its leading zero left out ("abc" is 0x0abc).
        let digits = match self.serial.len() % 2 {
            1 => format!("0{}", self.serial),
            _ => self.serial.clone(),
        };
        let serial = crate::encoding::unhex(&digits)
            .filter(|b| !b.is_empty())
            .ok_or("serial must be hex bytes")?;
        let dn = DistinguishedName::parse(&self.issuer).map_err(|e| e.to_string())?;
        Ok((dn, serial))
    }
}

/// A registered client, as loaded from the store.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub status: ClientStatus,
    pub auth_method: AuthMethod,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    pub redirect_uris: Vec<String>,
    /// `tls_client_certificate_bound_access_tokens` (RFC 8705 §3.4): tokens are bound to the
    /// certificate on the connection when there is one.
    pub bound_access_tokens: bool,
    /// `dpop_bound_access_tokens` (RFC 9449 §5.2): every token request must carry a DPoP proof.
    pub dpop_bound_access_tokens: bool,
    /// `require_signed_request_object` (RFC 9101 §10.5): PAR takes only a signed `request`.
    pub require_signed_request_object: bool,
    pub subject: Option<SubjectMatcher>,
    /// RFC 7591 `jwks`: the client's public keys (for client assertions and request objects),
    /// and for self-signed clients their certificates in `x5c`.
    pub jwks: Option<Value>,
    /// RFC 7591 `jwks_uri`: where the client publishes its keys instead (https only).
    pub jwks_uri: Option<String>,
    pub ca_pins: Vec<SpkiPin>,
    pub cert_pins: Vec<Thumbprint>,
    pub issuer_serial_pins: Vec<IssuerSerial>,
    /// May introspect tokens issued to other clients (a resource server).
    pub can_introspect: bool,
    /// RFC 9396 §10 `authorization_details_types`: what the client may request; none by default.
    pub authorization_details_types: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Client {
    /// RFC 7591 `grant_types`: whether the client registered for this grant.
    pub fn may_use(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Thumbprints of the certificates in the client's JWKS `x5c` entries (leaf only).
    pub fn jwks_thumbprints(&self) -> Vec<Thumbprint> {
        jwks_certificates(self.jwks.as_ref())
            .iter()
            .map(|der| Thumbprint::of_der(der))
            .collect()
    }

    /// Every issuer-and-serial pin decodes: one that did not would match nothing, and a pin that
    /// can never match must not be written (the store checks this on every insert).
    pub fn validate_pins(&self) -> Result<(), String> {
        for pin in &self.issuer_serial_pins {
            pin.decode()
                .map_err(|e| format!("issuer/serial pin {}:{}: {e}", pin.serial, pin.issuer))?;
        }
        Ok(())
    }

    /// Checks what the client's own metadata must satisfy before it is stored.
    pub fn validate(&self) -> Result<(), String> {
        if self.client_id.is_empty()
            || self.client_id.len() > 255
            || self.client_id.chars().any(|c| c.is_control() || c == ' ')
        {
            return Err("client_id must be 1-255 printable characters without spaces".into());
        }
        if self.client_id.starts_with(CUSTOMER_ID_PREFIX) {
            return Err(format!(
                "client_id must not start with {CUSTOMER_ID_PREFIX:?}: that is how customers' subject ids start"
            ));
        }
        if self.grant_types.is_empty() {
            return Err("at least one grant type is required".into());
        }
        if let Some(bad) = self.scopes.iter().find(|s| !is_scope_token(s)) {
            return Err(format!("invalid scope {bad:?}"));
        }
        if let Some(bad) = self.authorization_details_types.iter().find(|t| !is_scope_token(t)) {
            return Err(format!("invalid authorization_details type {bad:?}"));
        }
        if let Some(bad) = self.redirect_uris.iter().find(|u| !is_redirect_uri(u)) {
            return Err(format!(
                "invalid redirect URI {bad:?}: an absolute https URI without a fragment"
            ));
        }
        if self.may_use(GrantType::AuthorizationCode) && self.redirect_uris.is_empty() {
            return Err("the authorization_code grant needs at least one redirect URI".into());
        }
        if self.may_use(GrantType::RefreshToken) && !self.may_use(GrantType::AuthorizationCode) {
            return Err("the refresh_token grant goes with authorization_code".into());
        }
        if self.jwks.is_some() && self.jwks_uri.is_some() {
            return Err("jwks and jwks_uri are exclusive (RFC 7591 §2)".into());
        }
        if let Some(uri) = &self.jwks_uri {
            if !is_https_url(uri) {
                return Err(format!(
                    "invalid jwks_uri {uri:?}: an absolute https URL without a fragment"
                ));
            }
        }
        if let Some(jwks) = &self.jwks {
            check_jwks(jwks)?;
        }
        self.validate_pins()?;
        match self.auth_method {
            AuthMethod::PrivateKeyJwt if self.subject.is_some() => {
                Err("private_key_jwt authenticates with keys, not a certificate subject".into())
            }
            AuthMethod::PrivateKeyJwt if self.jwks_uri.is_none() && signing_keys(self.jwks.as_ref()) == 0 => {
                Err("private_key_jwt needs a JWKS with at least one signing key, or a jwks_uri".into())
            }
            AuthMethod::TlsClientAuth if self.subject.is_none() => {
                Err("tls_client_auth needs exactly one subject (DN or SAN)".into())
            }
            AuthMethod::SelfSignedTlsClientAuth if self.subject.is_some() => {
                Err("self_signed_tls_client_auth takes certificates, not a subject".into())
            }
            AuthMethod::SelfSignedTlsClientAuth if self.jwks_thumbprints().is_empty() && self.cert_pins.is_empty() => {
                Err("self_signed_tls_client_auth needs at least one certificate".into())
            }
            _ => Ok(()),
        }
    }
}

/// An absolute `https` URL with a host and no fragment or user information, such as a
/// `jwks_uri`.
pub fn is_https_url(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("https://") else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    uri.len() <= 2048
        && !authority.is_empty()
        && !authority.contains('@')
        && !uri.contains('#')
        && !uri.chars().any(|c| c.is_whitespace() || c.is_control())
        && uri.parse::<http::Uri>().is_ok()
}

/// A JWKS is `{"keys": [...]}` whose keys are public: a signing key (EC P-256, RSA, Ed25519)
/// must be one certbound can verify with, and no key may carry private members.
fn check_jwks(jwks: &Value) -> Result<(), String> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("a JWKS is an object with a \"keys\" array")?;
    for key in keys {
        if key.get("x5c").is_some() && key.get("kty").is_none() {
            continue;
        }
        VerificationKey::from_jwk(key)
            .map_err(|e| format!("JWKS key {}: {e}", key.get("kid").unwrap_or(&Value::Null)))?;
    }
    Ok(())
}

/// How many keys of a JWKS can verify signatures.
pub fn signing_keys(jwks: Option<&Value>) -> usize {
    let keys = jwks.and_then(|j| j.get("keys")).and_then(Value::as_array);
    keys.into_iter()
        .flatten()
        .filter(|k| VerificationKey::from_jwk(k).is_ok())
        .count()
}

/// RFC 6749 §3.1.2 redirection endpoint, as FAPI 2.0 requires it: an absolute `https` URI with a
/// host, no user information and no fragment. Registered URIs are compared exactly, so nothing
/// else is normalised.
pub fn is_redirect_uri(uri: &str) -> bool {
    is_https_url(uri)
}

/// The leaf certificates (`x5c[0]`) of a JWKS.
pub fn jwks_certificates(jwks: Option<&Value>) -> Vec<Vec<u8>> {
    use base64::Engine;
    let Some(keys) = jwks.and_then(|j| j.get("keys")).and_then(Value::as_array) else {
        return Vec::new();
    };
    keys.iter()
        .filter_map(|k| k.get("x5c")?.as_array()?.first()?.as_str())
        .filter_map(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .collect()
}

/// Builds a JWKS with one `x5c` entry per PEM certificate, for registering self-signed clients.
pub fn jwks_from_pem_certificates(pems: &[Vec<u8>]) -> Result<Value, String> {
    use base64::Engine;
    let mut keys = Vec::new();
    for pem in pems {
        for der in certs_from_pem(pem).map_err(|e| e.to_string())? {
            crate::pki::ClientCertificate::from_chain(vec![der.clone()]).map_err(|e| e.to_string())?;
            keys.push(serde_json::json!({
                "x5c": [base64::engine::general_purpose::STANDARD.encode(der.as_ref())],
                "x5t#S256": Thumbprint::of_der(der.as_ref()).to_base64url(),
            }));
        }
    }
    Ok(serde_json::json!({ "keys": keys }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_kinds_parse_and_reject_garbage() {
        assert!(matches!(
            SubjectMatcher::from_parts("tls_client_auth_san_ip", "::1"),
            Ok(SubjectMatcher::SanIp(_))
        ));
        assert!(SubjectMatcher::from_parts("tls_client_auth_san_ip", "nope").is_err());
        assert!(SubjectMatcher::from_parts("tls_client_auth_san_email", "nope").is_err());
        assert!(SubjectMatcher::from_parts("tls_client_auth_subject_dn", "CN").is_err());
        assert!(SubjectMatcher::from_parts("tls_client_auth_san_dns", "  ").is_err());
    }

    #[test]
    fn redirect_uris_are_absolute_https_without_fragments() {
        assert!(is_redirect_uri("https://tpp.example/cb"));
        assert!(is_redirect_uri("https://tpp.example:8443/cb?tenant=1"));
        for bad in [
            "http://tpp.example/cb",
            "https:///cb",
            "https://tpp.example/cb#frag",
            "https://user@tpp.example/cb",
            "https://tpp.example/c b",
            "/cb",
            "com.tpp.app:/cb",
        ] {
            assert!(!is_redirect_uri(bad), "{bad}");
        }
    }

    #[test]
    fn issuer_serial_parses() {
        let pin = IssuerSerial::parse("0A1b:CN=ca,O=x").unwrap();
        let (dn, serial) = pin.decode().unwrap();
        assert_eq!(serial, vec![0x0a, 0x1b]);
        assert_eq!(pin.serial, "0a1b");
        assert!(dn.matches(&DistinguishedName::parse("cn=CA, o=X").unwrap()));
        assert!(IssuerSerial::parse("zz:CN=x").is_err());
        assert!(IssuerSerial::parse("CN=x").is_err());
    }
}
