//! Revoked token ids, revoked grants and disabled clients, kept current by whoever runs the
//! resource server: the authorization server's change poller in its own process, the
//! revocation-list poller in remote mode. A disabled client's tokens are refused for as long as
//! it stays disabled.
//!
//! In remote mode the list can go stale (the AS unreachable, its answers garbage): past a bound
//! the guard either refuses tokens until the list is fresh again (the default, fail closed) or,
//! if the operator chose so, keeps serving on the old list. Either way it is visible: the age is
//! exposed for `/readyz` and metrics, and the transition is logged.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct Revocations {
    lists: RwLock<Lists>,
    freshness: Option<Freshness>,
}

#[derive(Debug, Default)]
struct Lists {
    jtis: HashSet<String>,
    grants: HashSet<String>,
    disabled_clients: HashSet<String>,
    /// Clients whose tokens issued at or before the time given were all revoked.
    revoked_clients: HashMap<String, i64>,
}

/// What a guard does once its revocation list is older than the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenStale {
    /// Refuse every token (503) until a poll succeeds: no revoked token gets through.
    #[default]
    Refuse,
    /// Keep serving on the last list; only `/readyz` and the metrics show it.
    KeepServing,
}

/// How old the list may get, measured from a monotonic start.
#[derive(Debug)]
struct Freshness {
    start: Instant,
    max_age: Duration,
    when_stale: WhenStale,
    /// Milliseconds after `start` of the last successful update, plus one (0: never).
    updated: AtomicU64,
    failures: AtomicU64,
    reported_stale: AtomicBool,
}

impl Revocations {
    /// A list that must be refreshed at least every `max_age` (remote mode).
    pub fn bounded(max_age: Duration, when_stale: WhenStale) -> Self {
        Self {
            lists: RwLock::default(),
            freshness: Some(Freshness {
                start: Instant::now(),
                max_age,
                when_stale,
                updated: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                reported_stale: AtomicBool::new(false),
            }),
        }
    }

    /// Replaces the lists: revoked access tokens by `jti`, revoked grants by id, disabled
    /// clients by `client_id`, and `(client_id, revoked_at)` of clients whose tokens were all
    /// revoked.
    pub fn replace(
        &self,
        jtis: impl IntoIterator<Item = String>,
        grants: impl IntoIterator<Item = String>,
        disabled_clients: impl IntoIterator<Item = String>,
        revoked_clients: impl IntoIterator<Item = (String, i64)>,
    ) {
        let lists = Lists {
            jtis: jtis.into_iter().collect(),
            grants: grants.into_iter().collect(),
            disabled_clients: disabled_clients.into_iter().collect(),
            revoked_clients: revoked_clients.into_iter().collect(),
        };
        *self.lists.write().unwrap_or_else(|e| e.into_inner()) = lists;
        if let Some(f) = &self.freshness {
            f.updated
                .store(f.start.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
            if f.reported_stale.swap(false, Ordering::Relaxed) {
                tracing::info!("revocation list is fresh again");
            }
        }
    }

    /// Records a failed refresh; logs once when the list turns stale.
    pub fn refresh_failed(&self) {
        if let Some(f) = &self.freshness {
            f.failures.fetch_add(1, Ordering::Relaxed);
            if self.is_stale() && !f.reported_stale.swap(true, Ordering::Relaxed) {
                tracing::error!(
                    max_age_ms = f.max_age.as_millis() as u64,
                    when_stale = ?f.when_stale,
                    "revocation list is stale"
                );
            }
        }
    }

    /// Time since the last successful update; `None` if never updated or not tracked.
    pub fn age(&self) -> Option<Duration> {
        let f = self.freshness.as_ref()?;
        match f.updated.load(Ordering::Relaxed) {
            0 => None,
            updated => Some(f.start.elapsed().saturating_sub(Duration::from_millis(updated - 1))),
        }
    }

    /// Failed refreshes since start.
    pub fn failures(&self) -> u64 {
        self.freshness
            .as_ref()
            .map_or(0, |f| f.failures.load(Ordering::Relaxed))
    }

    /// Older than its bound, or never fetched. A list kept by the AS itself is never stale.
    pub fn is_stale(&self) -> bool {
        self.freshness
            .as_ref()
            .is_some_and(|f| self.age().is_none_or(|age| age > f.max_age))
    }

    /// Whether tokens must be refused because the list is stale.
    pub fn refuses_tokens(&self) -> bool {
        self.freshness
            .as_ref()
            .is_some_and(|f| f.when_stale == WhenStale::Refuse && self.is_stale())
    }

    /// Whether the token, issued to `client_id` at `iat`, fell under an operator's "revoke every
    /// token of this client". A token that does not say when it was issued cannot be shown to be
    /// newer, so it is revoked too.
    pub fn revoked_with_client(&self, client_id: &str, iat: Option<i64>) -> bool {
        let lists = self.lists.read().unwrap_or_else(|e| e.into_inner());
        match lists.revoked_clients.get(client_id) {
            Some(at) => iat.is_none_or(|iat| iat <= *at),
            None => false,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> std::iter::Empty<String> {
        std::iter::empty()
    }

    #[test]
    fn a_local_list_is_never_stale() {
        let local = Revocations::default();
        assert!(!local.is_stale() && !local.refuses_tokens());
        local.refresh_failed();
        assert!(!local.is_stale());
    }

    #[test]
    fn a_bounded_list_is_stale_until_fetched_and_after_its_bound() {
        let list = Revocations::bounded(Duration::from_millis(50), WhenStale::Refuse);
        assert!(list.is_stale() && list.refuses_tokens(), "never fetched");
        list.replace(none(), none(), none(), std::iter::empty());
        assert!(!list.is_stale() && !list.refuses_tokens());
        std::thread::sleep(Duration::from_millis(80));
        list.refresh_failed();
        assert!(list.is_stale() && list.refuses_tokens());
        assert_eq!(list.failures(), 1);
        list.replace(none(), none(), none(), std::iter::empty());
        assert!(!list.refuses_tokens());
    }

    #[test]
    fn a_client_revocation_covers_tokens_issued_up_to_it() {
        let list = Revocations::default();
        list.replace(none(), none(), none(), [("tpp".to_string(), 100)]);
        assert!(list.revoked_with_client("tpp", Some(99)));
        assert!(list.revoked_with_client("tpp", Some(100)), "the same second is covered");
        assert!(!list.revoked_with_client("tpp", Some(101)));
        assert!(list.revoked_with_client("tpp", None), "no iat: cannot be newer");
        assert!(!list.revoked_with_client("other", Some(1)));
    }

    #[test]
    fn keep_serving_is_stale_but_does_not_refuse() {
        let list = Revocations::bounded(Duration::from_millis(1), WhenStale::KeepServing);
        assert!(list.is_stale() && !list.refuses_tokens());
    }
}
