//! Scopes (RFC 6749 §3.3): space-separated tokens of printable ASCII.

/// Why a requested scope was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("malformed scope")]
    Malformed,
    #[error("a requested scope is not allowed for this client")]
    NotAllowed,
}

/// RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`.
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// The scopes granted for a request: every requested scope must be one of `allowed`; repeated
/// ones count once. With nothing requested, everything allowed is granted (RFC 6749 §3.3 lets
/// the server pick a default; the client's registered scopes are the natural one).
pub fn granted(allowed: &[String], requested: Option<&str>) -> Result<Vec<String>, ScopeError> {
    let Some(requested) = requested else {
        return Ok(allowed.to_vec());
    };
    let mut granted: Vec<String> = Vec::new();
    for scope in requested.split(' ').filter(|s| !s.is_empty()) {
        if !is_scope_token(scope) {
            return Err(ScopeError::Malformed);
        }
        if !allowed.iter().any(|a| a == scope) {
            return Err(ScopeError::NotAllowed);
        }
        if !granted.iter().any(|g| g == scope) {
            granted.push(scope.to_string());
        }
    }
    Ok(granted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_tokens() {
        assert!(is_scope_token("accounts:read"));
        assert!(!is_scope_token("a b"));
        assert!(!is_scope_token("a\"b"));
        assert!(!is_scope_token(""));
    }

    #[test]
    fn granted_is_a_subset_without_repeats() {
        let allowed = vec!["accounts".to_string(), "payments".to_string()];
        assert_eq!(granted(&allowed, None).unwrap(), allowed);
        assert_eq!(granted(&allowed, Some("accounts  accounts")).unwrap(), vec!["accounts"]);
        assert_eq!(granted(&allowed, Some("admin")), Err(ScopeError::NotAllowed));
        assert_eq!(granted(&allowed, Some("acc\\ounts")), Err(ScopeError::Malformed));
    }
}
