//! The Open Banking Read/Write API's own conventions (UK v3.1): the account-access-consent
//! resource a TPP creates before sending its customer to consent ([`consents`]), the error shape
//! ([`ObError`]) and `x-fapi-interaction-id` ([`interaction_id`]) that the demo bank's resources
//! share. Consents are kept in the store; the authorization server reads them at PAR and on the
//! consent page, and tokens carry what the customer authorised.

pub mod consents;
mod error;
pub mod interaction_id;

pub use error::ObError;
