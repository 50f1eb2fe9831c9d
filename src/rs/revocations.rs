//! Revoked token ids, kept current by whoever runs the resource server: the authorization
//! server's change poller in its own process, the revocation-list poller in remote mode.

use std::collections::HashSet;
use std::sync::RwLock;

#[derive(Debug, Default)]
pub struct Revocations {
    jtis: RwLock<HashSet<String>>,
}

impl Revocations {
    pub fn replace(&self, jtis: impl IntoIterator<Item = String>) {
        *self.jtis.write().unwrap_or_else(|e| e.into_inner()) = jtis.into_iter().collect();
    }

    pub fn contains(&self, jti: &str) -> bool {
        self.jtis.read().unwrap_or_else(|e| e.into_inner()).contains(jti)
    }
}
