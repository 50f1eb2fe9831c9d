//! `[admin]`: the admin console's settings.

use serde::Deserialize;

/// `[admin]` in the configuration file.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Certificates expiring within this many days are listed as expiring soon.
    pub expiring_within_days: u32,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            expiring_within_days: 30,
        }
    }
}
