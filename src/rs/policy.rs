//! What a protected route requires.

use crate::domain::scope::is_scope_token;
pub use crate::domain::SenderBinding;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Every one of these scopes must have been granted.
    pub scopes: Vec<String>,
    /// An API key of the token's client in `x-api-key`.
    pub api_key: bool,
    /// Which sender constraints are accepted.
    pub binding: SenderBinding,
    /// Accept `Bearer` tokens without `cnf` (not sender-constrained). Off by default.
    pub allow_unbound: bool,
}

/// A scope that is not an RFC 6749 §3.3 scope-token (empty, or with a space, a quote, a
/// backslash or a control character): it could never be granted, and would break the challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid scope {0:?}")]
pub struct InvalidScope(pub String);

impl Policy {
    /// Requires every one of `scopes`, each checked to be a scope-token.
    pub fn scopes(scopes: &[&str]) -> Result<Self, InvalidScope> {
        let policy = Self {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ..Self::default()
        };
        policy.validate().map(|()| policy)
    }

    pub fn with_api_key(mut self) -> Self {
        self.api_key = true;
        self
    }

    /// Only tokens bound to this binding are admitted.
    pub fn binding(mut self, binding: SenderBinding) -> Self {
        self.binding = binding;
        self
    }

    pub fn validate(&self) -> Result<(), InvalidScope> {
        match self.scopes.iter().find(|s| !is_scope_token(s)) {
            Some(bad) => Err(InvalidScope(bad.clone())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_checked_at_construction() {
        assert!(Policy::scopes(&["accounts", "payments:read"]).is_ok());
        for bad in ["", "a b", "a\nb", "a\"b", "a\\b", "é"] {
            assert_eq!(
                Policy::scopes(&["accounts", bad]),
                Err(InvalidScope(bad.to_string())),
                "{bad:?}"
            );
        }
    }
}
