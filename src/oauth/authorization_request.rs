//! An authorization request as PAR validated it (RFC 9126): stored under its `request_uri`, then
//! carried by the customer's interaction to the code it ends in. Nothing in it is taken from
//! the browser.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `request_uri` scheme RFC 9126 §2.2 defines.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    /// Exactly one of the client's registered redirect URIs.
    pub redirect_uri: String,
    pub scope: Vec<String>,
    /// RFC 8707 resources.
    pub audience: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// RFC 7636 S256 challenge.
    pub code_challenge: String,
    /// RFC 9449 §10: the DPoP key (thumbprint) the code is bound to.
    #[serde(default)]
    pub dpop_jkt: Option<String>,
    /// RFC 9396, as checked at PAR.
    #[serde(default)]
    pub authorization_details: Vec<Value>,
}

impl AuthorizationRequest {
    /// The redirect back to the client carrying `params` plus `state` and `iss` (RFC 9207),
    /// keeping any query the registered redirect URI has (RFC 6749 §3.1.2).
    pub fn redirect(&self, issuer: &str, params: &[(&str, &str)]) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in params {
            query.append_pair(name, value);
        }
        if let Some(state) = &self.state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
        let separator = if self.redirect_uri.contains('?') { '&' } else { '?' };
        format!("{}{separator}{}", self.redirect_uri, query.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(redirect_uri: &str, state: Option<&str>) -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: "tpp".into(),
            redirect_uri: redirect_uri.into(),
            scope: vec![],
            audience: vec![],
            state: state.map(String::from),
            nonce: None,
            code_challenge: "x".into(),
            dpop_jkt: None,
            authorization_details: vec![],
        }
    }

    #[test]
    fn redirects_keep_the_registered_query_and_encode_values() {
        let r = request("https://tpp.example/cb", Some("a b&c"));
        assert_eq!(
            r.redirect("https://as.example", &[("code", "xyz")]),
            "https://tpp.example/cb?code=xyz&state=a+b%26c&iss=https%3A%2F%2Fas.example"
        );
        let r = request("https://tpp.example/cb?tenant=1", None);
        assert_eq!(
            r.redirect("https://as.example", &[("error", "access_denied")]),
            "https://tpp.example/cb?tenant=1&error=access_denied&iss=https%3A%2F%2Fas.example"
        );
    }
}
