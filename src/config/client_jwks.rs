//! `[client_jwks]`: fetching clients' `jwks_uri` documents.

use std::path::PathBuf;

use serde::Deserialize;

/// How clients' `jwks_uri` documents are fetched.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientJwksConfig {
    /// PEM bundle of CAs to verify `jwks_uri` servers with (default: the system's store).
    pub ca_file: Option<PathBuf>,
    /// Allow loopback and private addresses (tests and closed networks only).
    #[serde(default)]
    pub allow_private_addresses: bool,
    /// Least seconds between two fetches of one `jwks_uri` for an unknown `kid` (default 60).
    pub min_refresh_seconds: Option<u64>,
}
