//! A client's registration as a JSON document: what `certbound client show --json` prints and
//! what the audit trail keeps before and after an administrative change.

use serde_json::{json, Value};

use super::Client;

impl Client {
    /// The registration as RFC 7591 client metadata, with certbound's own fields (status, pins).
    pub fn registration_document(&self) -> Value {
        let c = self;
        let mut doc = json!({
            "client_id": c.client_id,
            "client_name": c.name,
            "status": c.status.as_str(),
            "token_endpoint_auth_method": c.auth_method.as_str(),
            "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
            "redirect_uris": c.redirect_uris,
            "scope": c.scopes.join(" "),
            "tls_client_certificate_bound_access_tokens": c.bound_access_tokens,
            "dpop_bound_access_tokens": c.dpop_bound_access_tokens,
            "require_signed_request_object": c.require_signed_request_object,
            "ca_pins": c.ca_pins.iter().map(|p| p.to_base64url()).collect::<Vec<_>>(),
            "cert_pins": c.cert_pins.iter().map(|p| p.to_base64url()).collect::<Vec<_>>(),
            "issuer_serial_pins": c.issuer_serial_pins,
            "can_introspect": c.can_introspect,
            "authorization_details_types": c.authorization_details_types,
            "created_at": c.created_at,
            "updated_at": c.updated_at,
        });
        if let Some(subject) = &c.subject {
            let (k, v) = subject.parts();
            doc[k] = v.into();
        }
        if let Some(jwks) = &c.jwks {
            doc["jwks"] = jwks.clone();
        }
        if let Some(uri) = &c.jwks_uri {
            doc["jwks_uri"] = uri.clone().into();
        }
        doc
    }
}
