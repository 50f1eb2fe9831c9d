//! Configuration: a TOML file, overridden by `CERTBOUND_*` environment variables, over defaults
//! that run a complete development server from `./certbound-data/`. Every setting is listed in
//! docs/configuration.md.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::audit::AuditConfig;
use crate::domain::scope::is_scope_token;
use crate::domain::SenderBinding;
use crate::jose::{KekSource, SigningAlg};
use crate::tls::forwarded::{Forwarding, ForwardingConfig};
use crate::tls::{Limits, LimitsConfig, TlsProfile};

mod admin;
mod client_jwks;
mod secret;
pub use admin::AdminConfig;
pub use client_jwks::ClientJwksConfig;
pub use secret::{kek_beside_database, DatabaseUrl, Secret};

/// The file form: every field optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub issuer: Option<String>,
    pub mtls_listen: Option<String>,
    /// Plain-HTTP listener for Prometheus `/metrics`; none by default.
    pub metrics_listen: Option<String>,
    pub mtls_base_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<DatabaseUrl>,
    pub trust_anchors: Option<Vec<PathBuf>>,
    pub trust_dev_ca: Option<bool>,
    pub server_cert: Option<PathBuf>,
    pub server_key: Option<PathBuf>,
    pub access_token_ttl: Option<u64>,
    pub grant_ttl: Option<u64>,
    pub display_name: Option<String>,
    pub signing_alg: Option<String>,
    pub key_encryption_key: Option<Secret>,
    pub log_format: Option<String>,
    pub reload_interval_ms: Option<u64>,
    /// Certificates forwarded by a TLS-terminating proxy to the main listener.
    pub forwarding: Option<ForwardingConfig>,
    /// The same for the mTLS listener.
    pub mtls_forwarding: Option<ForwardingConfig>,
    /// Gateway mode (`/gateway/check/{policy}`).
    pub gateway: Option<GatewayConfig>,
    /// Serve the demo bank API under `/bank/v1/`.
    pub demo_bank: Option<bool>,
    /// Fetching clients' `jwks_uri`.
    pub client_jwks: Option<ClientJwksConfig>,
    /// Require DPoP proofs at PAR and the token endpoint to carry a server nonce.
    pub dpop_nonce_required: Option<bool>,
    /// A Redis (`redis://host:port`) in which the resource servers of this process remember DPoP
    /// proofs, shared by every node; without it, each process remembers its own.
    pub dpop_replay_redis: Option<String>,
    /// RFC 9396 types beyond the built-in ones: type name → JSON Schema file.
    pub authorization_details_types: Option<BTreeMap<String, PathBuf>>,
    /// `fapi2` (default: TLS 1.3, and TLS 1.2 with FAPI 2.0's four suites) or `modern` (TLS 1.3).
    pub tls_profile: Option<String>,
    /// Connections, body and idle timeouts, HTTP/2 streams, header size, per listener.
    pub limits: Option<LimitsConfig>,
    /// `[audit]`: the audit trail's queue and retention.
    pub audit: Option<AuditConfig>,
    /// `[admin]`: the admin console.
    pub admin: Option<AdminConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// The listener for mutual TLS, apart from the one browsers use (RFC 8705 §5): customers' browsers
/// are never asked for a certificate, and clients find it in `mtls_endpoint_aliases`.
#[derive(Debug, Clone)]
pub struct MtlsAlias {
    pub listen: SocketAddr,
    pub base_url: Option<String>,
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// `None`: `https://localhost:<bound port>`.
    pub issuer: Option<String>,
    /// `None` (`mtls_listen = "none"`): one listener that asks for an optional client
    /// certificate, for deployments whose proxy terminates TLS.
    pub mtls: Option<MtlsAlias>,
    /// Where `/metrics` is served (plain HTTP, for an internal network), if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    pub admin: AdminConfig,
    pub data_dir: PathBuf,
    pub database_url: DatabaseUrl,
    /// Generate the dev PKI here when it is missing.
    pub dev_pki_dir: Option<PathBuf>,
    pub trust_anchor_files: Vec<PathBuf>,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub access_token_ttl: u64,
    /// How long a customer's grant (and its refresh token) lasts.
    pub grant_ttl: u64,
    /// The bank's name on the customer's pages.
    pub display_name: String,
    pub signing_alg: SigningAlg,
    pub kek: KekSource,
    pub log_format: LogFormat,
    pub reload_interval: Duration,
    pub forwarding: Arc<Forwarding>,
    pub mtls_forwarding: Arc<Forwarding>,
    pub gateway: Option<GatewayConfig>,
    pub demo_bank: bool,
    pub client_jwks: ClientJwksConfig,
    pub dpop_nonce_required: bool,
    pub dpop_replay_redis: Option<String>,
    pub authorization_details_types: BTreeMap<String, PathBuf>,
    pub tls_profile: TlsProfile,
    pub limits: Limits,
    pub audit: AuditConfig,
}

/// Gateway mode: the audiences tokens must carry (default: the issuer) and named policies.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    #[serde(default)]
    pub audiences: Vec<String>,
    /// The public origins (`https://api.bank.example`) clients address the APIs behind the
    /// proxy at, which DPoP proofs name; without them, the forwarded host is taken.
    #[serde(default)]
    pub origins: Vec<String>,
    #[serde(default)]
    pub policies: BTreeMap<String, PolicyConfig>,
}

/// A gateway policy as written in the file: what `rs::Policy` is built from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Every one of these scopes must have been granted.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// An API key of the token's client in `x-api-key`.
    #[serde(default)]
    pub api_key: bool,
    /// Which sender constraints are accepted: `certificate`, `dpop` or `either` (default).
    #[serde(default)]
    pub binding: SenderBinding,
    /// Accept tokens that are not sender-constrained.
    #[serde(default)]
    pub allow_unbound: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {0}: {1}")]
    Read(String, std::io::Error),
    #[error("parsing {0}: {1}")]
    Parse(String, toml::de::Error),
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";
pub const DEFAULT_MTLS_LISTEN: &str = "127.0.0.1:8444";
pub const DEFAULT_DATA_DIR: &str = "certbound-data";
pub const DEFAULT_ACCESS_TOKEN_TTL: u64 = 300;
/// 90 days, the re-authentication period of UK Open Banking access consents.
pub const DEFAULT_GRANT_TTL: u64 = 90 * 86_400;

impl Settings {
    /// Reads the optional file, then applies the process environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let file = match path {
            Some(p) => {
                let shown = p.display().to_string();
                let text = std::fs::read_to_string(p).map_err(|e| ConfigError::Read(shown.clone(), e))?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse(shown, e))?
            }
            None => FileConfig::default(),
        };
        Self::resolve(file, |k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Applies environment overrides (`env` looks a variable up) and defaults.
    pub fn resolve(file: FileConfig, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let pick = |var: &str, from_file: Option<String>| env(var).or(from_file);
        let listen = parse_addr(
            "listen",
            &pick("CERTBOUND_LISTEN", file.listen).unwrap_or(DEFAULT_LISTEN.into()),
        )?;
        let mtls = match pick("CERTBOUND_MTLS_LISTEN", file.mtls_listen).as_deref() {
            Some("none") => None,
            addr => Some(MtlsAlias {
                listen: parse_addr("mtls_listen", addr.unwrap_or(DEFAULT_MTLS_LISTEN))?,
                base_url: pick("CERTBOUND_MTLS_BASE_URL", file.mtls_base_url),
            }),
        };
        let data_dir = env("CERTBOUND_DATA_DIR")
            .map(PathBuf::from)
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let database_url = pick("CERTBOUND_DATABASE_URL", file.database_url.map(|u| u.to_owned_string()))
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("certbound.db").display()))
            .into();

        let server_cert = env("CERTBOUND_SERVER_CERT").map(PathBuf::from).or(file.server_cert);
        let server_key = env("CERTBOUND_SERVER_KEY").map(PathBuf::from).or(file.server_key);
        let pki_dir = data_dir.join("pki");
        let layout = crate::pki::dev::PkiLayout::new(&pki_dir);
        let (server_cert, server_key, dev_pki_dir) = match (server_cert, server_key) {
            (Some(c), Some(k)) => (c, k, None),
            (None, None) => (layout.server_cert(), layout.server_key(), Some(pki_dir.clone())),
            _ => {
                return Err(ConfigError::Invalid(
                    "server_cert",
                    "server_cert and server_key go together".into(),
                ))
            }
        };
        let trust_dev_ca = match env("CERTBOUND_TRUST_DEV_CA") {
            Some(v) => parse_bool("trust_dev_ca", &v)?,
            None => file.trust_dev_ca.unwrap_or(dev_pki_dir.is_some()),
        };
        let mut trust_anchor_files = Vec::new();
        if trust_dev_ca {
            trust_anchor_files.push(layout.ca_cert());
        }
        match env("CERTBOUND_TRUST_ANCHORS") {
            Some(list) => trust_anchor_files.extend(list.split(',').map(|p| PathBuf::from(p.trim()))),
            None => trust_anchor_files.extend(file.trust_anchors.unwrap_or_default()),
        }

        let access_token_ttl = match env("CERTBOUND_ACCESS_TOKEN_TTL") {
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid("access_token_ttl", v))?,
            None => file.access_token_ttl.unwrap_or(DEFAULT_ACCESS_TOKEN_TTL),
        };
        if !(1..=86_400).contains(&access_token_ttl) {
            return Err(ConfigError::Invalid(
                "access_token_ttl",
                "must be 1..=86400 seconds".into(),
            ));
        }
        let grant_ttl = match env("CERTBOUND_GRANT_TTL") {
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid("grant_ttl", v))?,
            None => file.grant_ttl.unwrap_or(DEFAULT_GRANT_TTL),
        };
        if !(60..=10 * 365 * 86_400).contains(&grant_ttl) {
            return Err(ConfigError::Invalid(
                "grant_ttl",
                "must be 60 seconds to 10 years".into(),
            ));
        }
        let display_name = pick("CERTBOUND_DISPLAY_NAME", file.display_name).unwrap_or_else(|| "certbound".into());
        if display_name.trim().is_empty() || display_name.len() > 100 || display_name.chars().any(char::is_control) {
            return Err(ConfigError::Invalid(
                "display_name",
                "1-100 printable characters".into(),
            ));
        }
        let alg = pick("CERTBOUND_SIGNING_ALG", file.signing_alg).unwrap_or_else(|| "ES256".into());
        let signing_alg = alg.parse().map_err(|_| ConfigError::Invalid("signing_alg", alg))?;
        let tls_profile = match pick("CERTBOUND_TLS_PROFILE", file.tls_profile) {
            Some(p) => p.parse().map_err(|e| ConfigError::Invalid("tls_profile", e))?,
            None => TlsProfile::default(),
        };
        let kek = match pick("CERTBOUND_KEK", file.key_encryption_key.map(Secret::into_inner)) {
            Some(k) => KekSource::Inline(k),
            None => KekSource::File(data_dir.join("kek")),
        };
        let log_format = match pick("CERTBOUND_LOG_FORMAT", file.log_format).as_deref() {
            None | Some("human") => LogFormat::Human,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(ConfigError::Invalid("log_format", other.into())),
        };
        let reload_ms = match env("CERTBOUND_RELOAD_INTERVAL_MS") {
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid("reload_interval_ms", v))?,
            None => file.reload_interval_ms.unwrap_or(1000),
        };
        let mut forwarding = file.forwarding.unwrap_or_default();
        let list = |v: String| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        forwarding.format = env("CERTBOUND_FORWARDING_FORMAT").or(forwarding.format);
        forwarding.header = env("CERTBOUND_FORWARDING_HEADER").or(forwarding.header);
        if let Some(v) = env("CERTBOUND_TRUSTED_PROXIES") {
            forwarding.trusted_proxies = list(v);
        }
        if let Some(v) = env("CERTBOUND_TRUSTED_PROXY_CERTS") {
            forwarding.trusted_proxy_certs = list(v);
        }
        let forwarding = Forwarding::from_config(&forwarding).map_err(|e| ConfigError::Invalid("forwarding", e))?;
        let mtls_forwarding = Forwarding::from_config(&file.mtls_forwarding.unwrap_or_default())
            .map_err(|e| ConfigError::Invalid("mtls_forwarding", e))?;
        for (name, policy) in file.gateway.iter().flat_map(|g| &g.policies) {
            if let Some(bad) = policy.scopes.iter().find(|s| !is_scope_token(s)) {
                return Err(ConfigError::Invalid(
                    "gateway",
                    format!("{name}: invalid scope {bad:?}"),
                ));
            }
        }
        let mut client_jwks = file.client_jwks.unwrap_or_default();
        if let Some(path) = env("CERTBOUND_CLIENT_JWKS_CA_FILE") {
            client_jwks.ca_file = Some(PathBuf::from(path));
        }
        if let Some(v) = env("CERTBOUND_CLIENT_JWKS_ALLOW_PRIVATE") {
            client_jwks.allow_private_addresses = parse_bool("client_jwks.allow_private_addresses", &v)?;
        }
        let dpop_nonce_required = match env("CERTBOUND_DPOP_NONCE_REQUIRED") {
            Some(v) => parse_bool("dpop_nonce_required", &v)?,
            None => file.dpop_nonce_required.unwrap_or(true),
        };
        let dpop_replay_redis = pick("CERTBOUND_DPOP_REPLAY_REDIS", file.dpop_replay_redis);
        let demo_bank = match env("CERTBOUND_DEMO_BANK") {
            Some(v) => parse_bool("demo_bank", &v)?,
            None => file.demo_bank.unwrap_or(false),
        };
        Ok(Self {
            listen,
            issuer: pick("CERTBOUND_ISSUER", file.issuer),
            mtls,
            data_dir,
            database_url,
            dev_pki_dir,
            trust_anchor_files,
            server_cert,
            server_key,
            access_token_ttl,
            grant_ttl,
            display_name,
            signing_alg,
            kek,
            log_format,
            reload_interval: Duration::from_millis(reload_ms.max(50)),
            forwarding: Arc::new(forwarding),
            mtls_forwarding: Arc::new(mtls_forwarding),
            gateway: file.gateway,
            demo_bank,
            client_jwks,
            dpop_nonce_required,
            dpop_replay_redis,
            authorization_details_types: file.authorization_details_types.unwrap_or_default(),
            tls_profile,
            limits: Limits::from_config(&file.limits.unwrap_or_default())
                .map_err(|e| ConfigError::Invalid("limits", e))?,
            audit: match env("CERTBOUND_AUDIT") {
                Some(v) => AuditConfig {
                    enabled: parse_bool("audit", &v)?,
                    ..file.audit.unwrap_or_default()
                },
                None => file.audit.unwrap_or_default(),
            },
            admin: file.admin.unwrap_or_default(),
            metrics_listen: pick("CERTBOUND_METRICS_LISTEN", file.metrics_listen)
                .map(|a| parse_addr("metrics_listen", &a))
                .transpose()?,
        })
    }
}

fn parse_addr(name: &'static str, value: &str) -> Result<SocketAddr, ConfigError> {
    value
        .parse()
        .map_err(|_| ConfigError::Invalid(name, format!("{value:?} is not host:port")))
}

fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value {
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err(ConfigError::Invalid(name, value.into())),
    }
}

#[cfg(test)]
mod tests;
