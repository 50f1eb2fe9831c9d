//! The development setup's bank customers, so the code flow can be tried at once (README, "Sign
//! in as a customer"). Seeded only while the dev PKI is in use and no customer exists yet; their
//! accounts are the demo bank's.

use crate::domain::Customer;
use crate::store::{Store, StoreError};

/// Username, password, accounts.
pub const DEMO_CUSTOMERS: &[(&str, &str, &[&str])] = &[
    ("alice", "wonderland", &["22289", "31820"]),
    ("bob", "the-builder", &["40417"]),
];

/// Adds the demo customers to an empty customer table; returns whether it did.
pub(super) async fn seed(store: &Store) -> Result<bool, StoreError> {
    if !store.list_customers().await?.is_empty() {
        return Ok(false);
    }
    for (username, password, accounts) in DEMO_CUSTOMERS {
        let accounts = accounts.iter().map(|a| a.to_string()).collect();
        let customer = Customer::register(username, password, accounts).map_err(StoreError::Corrupt)?;
        match store.insert_customer(&customer).await {
            // Another node seeded them at the same moment.
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}
