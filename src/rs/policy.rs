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

impl Policy {
    pub fn scopes(scopes: &[&str]) -> Self {
        Self {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ..Self::default()
        }
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

    pub fn validate(&self) -> Result<(), String> {
        match self.scopes.iter().find(|s| !is_scope_token(s)) {
            Some(bad) => Err(format!("invalid scope {bad:?}")),
            None => Ok(()),
        }
    }
}
