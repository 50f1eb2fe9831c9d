//! Request parameters several endpoints read the same way: `scope` (RFC 6749 §3.3) and RFC 8707
//! `resource`, which becomes the access token's audience.

use super::{OAuthError, OAuthForm};
use crate::domain::scope::{self, ScopeError};

/// A requested scope must be a subset of `allowed` (the client's, or a grant's); with none
/// requested, all of `allowed` is granted.
pub fn granted_scope(allowed: &[String], requested: Option<&str>) -> Result<Vec<String>, OAuthError> {
    scope::granted(allowed, requested).map_err(|e| match e {
        ScopeError::Malformed => OAuthError::InvalidScope("malformed scope"),
        ScopeError::NotAllowed => OAuthError::InvalidScope("a requested scope is not allowed for this client"),
    })
}

/// RFC 8707 §2: each `resource` is an absolute URI without a fragment.
pub fn requested_audience(form: &OAuthForm) -> Result<Vec<String>, OAuthError> {
    let mut audience = Vec::new();
    for resource in form.all("resource") {
        if !is_absolute_uri_without_fragment(resource) {
            return Err(OAuthError::InvalidTarget(
                "resource must be an absolute URI without a fragment",
            ));
        }
        if !audience.iter().any(|a| a == resource) {
            audience.push(resource.to_string());
        }
    }
    Ok(audience)
}

/// RFC 3986 §4.3 absolute-URI: `scheme ":" hier-part [ "?" query ]`.
fn is_absolute_uri_without_fragment(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    scheme_ok && !rest.is_empty() && !s.contains('#') && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_uris() {
        assert!(is_absolute_uri_without_fragment("https://api.bank.example/accounts"));
        assert!(is_absolute_uri_without_fragment("urn:bank:accounts"));
        assert!(!is_absolute_uri_without_fragment("/accounts"));
        assert!(!is_absolute_uri_without_fragment("https://x.example/#frag"));
        assert!(!is_absolute_uri_without_fragment("1http://x"));
        assert!(!is_absolute_uri_without_fragment("https://x y"));
    }
}
