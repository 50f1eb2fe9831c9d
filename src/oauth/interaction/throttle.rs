//! Sign-in throttling: at most a few failures per username and per address in a sliding window,
//! with one message for both. Nothing locks an account for good: the window slides on by itself,
//! and a browser the customer has signed in from before is exempt from the per-username limit,
//! so an attacker failing on purpose cannot keep the customer out.

use std::net::IpAddr;

use crate::store::{Store, StoreError};

/// The sliding window, in seconds.
pub const WINDOW: i64 = 15 * 60;
const MAX_PER_USERNAME: i64 = 5;
const MAX_PER_ADDRESS: i64 = 20;

fn username_subject(username: &str) -> String {
    format!("username:{username}")
}

fn address_subject(address: IpAddr) -> String {
    format!("address:{address}")
}

/// Whether a sign-in attempt must be refused without looking at the password.
pub(super) async fn is_throttled(
    store: &Store,
    username: &str,
    address: IpAddr,
    known_device: bool,
    now: i64,
) -> Result<bool, StoreError> {
    let since = now - WINDOW;
    if store.login_failures_since(&address_subject(address), since).await? >= MAX_PER_ADDRESS {
        return Ok(true);
    }
    Ok(!known_device && store.login_failures_since(&username_subject(username), since).await? >= MAX_PER_USERNAME)
}

pub(super) async fn record_failure(store: &Store, username: &str, address: IpAddr, now: i64) -> Result<(), StoreError> {
    store
        .record_login_failure(&[username_subject(username), address_subject(address)], now)
        .await
}
