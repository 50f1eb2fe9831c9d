//! The domain model that the authorization server (`oauth`) and the resource server (`rs`) share
//! without knowing each other: registered clients, grant types, scopes, and what an access token
//! says and whom it is bound to. It depends on nothing above `pki` and `jose`: no endpoint, no
//! storage, no HTTP.

pub mod administrator;
pub mod audit;
pub mod client;
mod client_document;
pub mod confirmation;
pub mod consent;
pub mod customer;
pub mod dpop;
pub mod grant;
pub mod grant_type;
pub mod scope;
pub mod status;
pub mod token;

pub use administrator::{AdminRole, Administrator};
pub use audit::{AuditEvent, AuditKind, AuditOutcome, AuditedCertificate, CertificateSource};
pub use client::{AuthMethod, Client, ClientStatus, IssuerSerial, SubjectMatcher};
pub use confirmation::{Binding, Confirmation, Jkt, Proofs, SenderBinding};
pub use consent::{Consent, ConsentStatus, GrantedConsent, Permission};
pub use customer::{Customer, CustomerStatus, PasswordHash};
pub use grant::Grant;
pub use grant_type::GrantType;
pub use token::{AccessTokenClaims, Audience, Authorization, Subject};
