//! Revoked token ids, revoked grants and disabled clients, kept current by whoever runs the
//! resource server: the authorization server's change poller in its own process, the
//! revocation-list poller in remote mode. A disabled client's tokens are refused for as long as
//! it stays disabled.

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
    disabled_clients: HashSet<String>,
}

impl Revocations {
    /// Replaces the lists: revoked access tokens by `jti`, revoked grants by id, and disabled
    /// clients by `client_id`.
    pub fn replace(
        &self,
        jtis: impl IntoIterator<Item = String>,
        grants: impl IntoIterator<Item = String>,
        disabled_clients: impl IntoIterator<Item = String>,
    ) {
        let lists = Lists {
            jtis: jtis.into_iter().collect(),
            grants: grants.into_iter().collect(),
            disabled_clients: disabled_clients.into_iter().collect(),
        };
        *self.lists.write().unwrap_or_else(|e| e.into_inner()) = lists;
    }

    /// Whether the client was disabled by an operator.
    pub fn client_disabled(&self, client_id: &str) -> bool {
        let lists = self.lists.read().unwrap_or_else(|e| e.into_inner());
        !lists.disabled_clients.is_empty() && lists.disabled_clients.contains(client_id)
    }

    /// Whether the token `jti`, issued under `grant_id` if any, was revoked.
    pub fn contains(&self, jti: &str, grant_id: Option<&str>) -> bool {
        let lists = self.lists.read().unwrap_or_else(|e| e.into_inner());
        lists.jtis.contains(jti) || grant_id.is_some_and(|g| lists.grants.contains(g))
    }
}
