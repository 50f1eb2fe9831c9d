//! `[admin]`: the admin console's settings.

use std::path::PathBuf;

use serde::Deserialize;

/// `[admin]` in the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Certificates expiring within this many days are listed as expiring soon.
    pub expiring_within_days: u32,
    /// The administrators' CAs (PEM): when set, every console request also needs a client
    /// certificate that chains to one of them, besides the password.
    pub client_ca: Option<PathBuf>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            expiring_within_days: 30,
            client_ca: None,
        }
    }
}
