//! Revoked token ids and revoked grants, kept current by whoever runs the resource server: the
//! authorization server's change poller in its own process, the revocation-list poller in
//! remote mode.

use std::collections::HashSet;
use std::sync::RwLock;

#[derive(Debug, Default)]
pub struct Revocations {
    lists: RwLock<Lists>,
}

#[derive(Debug, Default)]
struct Lists {
    jtis: HashSet<String>,
    grants: HashSet<String>,
}

impl Revocations {
    /// Replaces both lists: revoked access tokens by `jti`, and revoked grants by id.
    pub fn replace(&self, jtis: impl IntoIterator<Item = String>, grants: impl IntoIterator<Item = String>) {
        let lists = Lists {
            jtis: jtis.into_iter().collect(),
            grants: grants.into_iter().collect(),
        };
        *self.lists.write().unwrap_or_else(|e| e.into_inner()) = lists;
    }

    /// Whether the token `jti`, issued under `grant_id` if any, was revoked.
    pub fn contains(&self, jti: &str, grant_id: Option<&str>) -> bool {
        let lists = self.lists.read().unwrap_or_else(|e| e.into_inner());
        lists.jtis.contains(jti) || grant_id.is_some_and(|g| lists.grants.contains(g))
    }
}
