//! Wiring: settings in, running listeners out. Starts the dev PKI if needed, opens the store,
//! loads keys and trust anchors, serves the AS routes on the listener(s), and keeps caches in
//! step with the database.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub mod demo_customers;
mod metrics;
mod routes;
mod sync;
mod userinfo;

use std::time::Duration;

use crate::audit::AuditLog;
use crate::config::{ClientJwksConfig, Settings};
use crate::jose::{KeyEncryptionKey, LiveKeyRing};
use crate::oauth::authorization_details::DetailTypes;
use crate::oauth::client_keys::{FetchPolicy, RemoteJwks};
use crate::oauth::dpop::DpopNonces;
use crate::oauth::signing_keys as keys;
use crate::oauth::{AppState, Endpoints, Lifetimes, Setup, Shared};
use crate::pki::dev::PkiLayout;
use crate::pki::TrustStore;
use crate::rs::replay::RedisReplay;
use crate::rs::{ApiKeys, Decisions, LocalAuthority, ReplayStore, Revocations};
use crate::store::Store;
use crate::tls::client::HttpsClient;
use crate::tls::CertificateRequest;

/// How long shutdown waits for the audit writer to empty its queue.
const AUDIT_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("dev PKI: {0}")]
    DevPki(#[from] crate::pki::dev::DevPkiError),
    #[error("binding {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("creating the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsSetupError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("key-encryption key: {0}")]
    Kek(#[from] crate::jose::kek::KekError),
    #[error("signing keys: {0}")]
    Keys(#[from] keys::KeysError),
    #[error("trust anchors: {0}")]
    Trust(#[from] crate::pki::chain::TrustStoreError),
    #[error("client_jwks: {0}")]
    ClientJwks(String),
    #[error("dpop_replay_redis: {0}")]
    DpopReplay(#[from] crate::rs::replay::ReplayError),
    #[error("authorization_details_types: {0}")]
    DetailTypes(String),
}

/// A server that is accepting connections.
pub struct RunningServer {
    pub local_addr: SocketAddr,
    pub mtls_addr: Option<SocketAddr>,
    /// The `/metrics` listener's address, when one is configured.
    pub metrics_addr: Option<SocketAddr>,
    pub state: AppState,
    /// This server as resource servers in its process see it.
    pub local: LocalAuthority,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl RunningServer {
    pub fn issuer(&self) -> &str {
        self.state.issuer()
    }

    /// Stops accepting, drains open connections, and returns when all listeners are done.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
        if !self.state.audit.settled(AUDIT_FLUSH_TIMEOUT).await {
            tracing::warn!(stats = ?self.state.audit.stats(), "audit events still queued at shutdown");
        }
        self.state.store.close().await;
    }

    /// Runs until SIGTERM or Ctrl-C, then shuts down gracefully.
    pub async fn run_until_signalled(self) {
        wait_for_signal().await;
        tracing::info!("shutting down: draining open connections");
        self.shutdown().await;
    }
}

/// Starts the authorization server described by `settings`.
pub async fn start(settings: Settings) -> Result<RunningServer, StartError> {
    crate::install_crypto_provider();
    crate::return_large_blocks_to_the_system();
    create_private_dir(&settings.data_dir)
        .map_err(|e| StartError::DataDir(settings.data_dir.display().to_string(), e))?;
    if let Some(dir) = &settings.dev_pki_dir {
        let layout = PkiLayout::new(dir);
        if !layout.exists() {
            layout.init()?;
            tracing::info!(dir = %dir.display(), "generated a development PKI");
        }
    }
    let listener = TcpListener::bind(settings.listen)
        .await
        .map_err(|e| StartError::Bind(settings.listen, e))?;
    let local_addr = listener
        .local_addr()
        .map_err(|e| StartError::Bind(settings.listen, e))?;
    let mtls_listener = match &settings.mtls {
        Some(m) => Some(
            TcpListener::bind(m.listen)
                .await
                .map_err(|e| StartError::Bind(m.listen, e))?,
        ),
        None => None,
    };
    let mtls_addr = mtls_listener.as_ref().and_then(|l| l.local_addr().ok());

    let issuer = settings
        .issuer
        .clone()
        .unwrap_or_else(|| format!("https://localhost:{}", local_addr.port()));
    let mtls_base = match (&settings.mtls, mtls_addr) {
        (Some(m), Some(addr)) => Some(
            m.base_url
                .clone()
                .unwrap_or_else(|| format!("https://localhost:{}", addr.port())),
        ),
        _ => None,
    };

    let store = Store::connect(&settings.database_url).await?;
    if settings.dev_pki_dir.is_some() && demo_customers::seed(&store).await? {
        tracing::info!("added the demo customers alice and bob (development setup)");
    }
    if crate::config::kek_beside_database(&settings.kek, &settings.database_url) {
        tracing::warn!(
            "the key-encryption key file is in the database's directory: fine for development; in production set \
             CERTBOUND_KEK (or key_encryption_key) or keep the file on another volume, so one copy of the data \
             directory does not hold both the sealed signing keys and the key that opens them"
        );
    }
    let kek = KeyEncryptionKey::load(&settings.kek)?;
    let ttl = settings.access_token_ttl as i64;
    let ring = keys::load_ring(&store, &kek, settings.signing_alg, ttl).await?;
    let mut trust = TrustStore::default();
    for path in &settings.trust_anchor_files {
        trust.add_pem_file(path)?;
    }

    let keys = Arc::new(LiveKeyRing::new(ring));
    let local = LocalAuthority {
        issuer: issuer.clone(),
        keys: keys.clone(),
        revocations: Arc::new(Revocations::default()),
        api_keys: Arc::new(ApiKeys::new(store.clone())),
        origins: std::iter::once(&issuer).chain(mtls_base.as_ref()).cloned().collect(),
        dpop_replay: Arc::new(dpop_replay(settings.dpop_replay_redis.as_deref()).await?),
    };
    local.api_keys.reload().await?;
    let endpoints = Endpoints { issuer, mtls_base };
    let (audit, audit_writer) = AuditLog::start(store.clone(), settings.audit);
    let lifetimes = Lifetimes {
        access_token: ttl,
        grant: settings.grant_ttl as i64,
    };
    let state: AppState = Arc::new(Shared::new(Setup {
        endpoints,
        store,
        trust,
        keys,
        lifetimes,
        brand: settings.display_name.clone(),
        client_jwks: client_jwks(&settings.client_jwks)?,
        dpop_nonces: DpopNonces::new(kek.derive("dpop-nonce"), settings.dpop_nonce_required),
        detail_types: detail_types(&settings.authorization_details_types)?,
        audit: audit.clone(),
    }));
    sync::load_revocations(&state, &local).await?;
    let administrator_ca = match &settings.admin.client_ca {
        Some(path) => {
            let mut ca = TrustStore::default();
            ca.add_pem_file(path)?;
            Some(Arc::new(ca))
        }
        None => None,
    };
    let console = crate::admin::Console {
        kek: KeyEncryptionKey::load(&settings.kek)?,
        signing_alg: settings.signing_alg,
        access_token_ttl: ttl,
        expiring_within_days: i64::from(settings.admin.expiring_within_days),
        administrator_ca: administrator_ca.clone(),
    };
    let decisions = Arc::new(Decisions::default());
    let (front, mtls) = routes::routers(state.clone(), &local, &decisions, &settings, console);

    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    // With a dedicated mTLS listener the public one does not ask TPPs for certificates, so
    // browsers reading discovery are never prompted (RFC 8705 §5); it asks only for
    // administrators' certificates when the console wants them, listing their CAs.
    let front_request = match (&mtls_listener, &administrator_ca) {
        (None, _) => CertificateRequest::Any,
        (Some(_), Some(ca)) => CertificateRequest::From(ca.subjects().map(<[u8]>::to_vec).collect()),
        (Some(_), None) => CertificateRequest::No,
    };
    let main_tls = crate::tls::server_config_with(
        settings.tls_profile,
        &settings.server_cert,
        &settings.server_key,
        front_request,
    )?;
    tasks.spawn(crate::tls::serve_with(
        settings.limits,
        listener,
        main_tls,
        settings.forwarding.clone(),
        front,
        signalled(shutdown_rx.clone()),
    ));
    if let Some(l) = mtls_listener {
        let tls = crate::tls::server_config_with(
            settings.tls_profile,
            &settings.server_cert,
            &settings.server_key,
            CertificateRequest::Any,
        )?;
        tasks.spawn(crate::tls::serve_with(
            settings.limits,
            l,
            tls,
            settings.mtls_forwarding.clone(),
            mtls,
            signalled(shutdown_rx.clone()),
        ));
    }
    tokio::spawn(audit_writer);
    let metrics_addr = match settings.metrics_listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr).await.map_err(|e| StartError::Bind(addr, e))?;
            let bound = listener.local_addr().map_err(|e| StartError::Bind(addr, e))?;
            let sources = metrics::Sources {
                state: state.clone(),
                decisions,
                expiring_within_days: i64::from(settings.admin.expiring_within_days),
            };
            tasks.spawn(metrics::serve(listener, sources, signalled(shutdown_rx.clone())));
            Some(bound)
        }
        None => None,
    };
    if audit.is_enabled() {
        tasks.spawn(crate::audit::keep_retention(
            state.store.clone(),
            settings.audit,
            signalled(shutdown_rx.clone()),
        ));
    }
    tasks.spawn(sync::keep_in_step(
        state.clone(),
        local.clone(),
        kek,
        settings,
        signalled(shutdown_rx),
    ));

    tracing::info!(%local_addr, issuer = state.issuer(), "certbound is listening");
    Ok(RunningServer {
        local_addr,
        mtls_addr,
        metrics_addr,
        state,
        local,
        shutdown,
        tasks,
    })
}

/// The fetcher of clients' `jwks_uri`, trusting the configured CAs or the system's.
fn client_jwks(config: &ClientJwksConfig) -> Result<RemoteJwks, StartError> {
    let http = match &config.ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| StartError::ClientJwks(format!("{}: {e}", path.display())))?;
            HttpsClient::new(&pem, None)
        }
        None => HttpsClient::with_system_roots(),
    }
    .map_err(StartError::ClientJwks)?;
    let policy = FetchPolicy {
        allow_private: config.allow_private_addresses,
        min_refresh: Duration::from_secs(config.min_refresh_seconds.unwrap_or(60)),
    };
    Ok(RemoteJwks::new(http, policy))
}

/// The RFC 9396 types: the built-in ones and the operator's, each schema read from its file.
fn detail_types(configured: &BTreeMap<String, PathBuf>) -> Result<DetailTypes, StartError> {
    let mut schemas = BTreeMap::new();
    for (name, path) in configured {
        let text = std::fs::read_to_string(path)
            .map_err(|e| StartError::DetailTypes(format!("{name}: {}: {e}", path.display())))?;
        let schema = serde_json::from_str(&text)
            .map_err(|e| StartError::DetailTypes(format!("{name}: {}: {e}", path.display())))?;
        schemas.insert(name.clone(), schema);
    }
    DetailTypes::new(&schemas).map_err(StartError::DetailTypes)
}

/// Where this process's resource servers remember DPoP proofs: a shared Redis if configured,
/// else memory.
async fn dpop_replay(redis_url: Option<&str>) -> Result<ReplayStore, StartError> {
    match redis_url {
        Some(url) => Ok(ReplayStore::Redis(RedisReplay::connect(url).await?)),
        None => Ok(ReplayStore::default()),
    }
}

/// The data directory holds the database and key material: owner-only when we create it.
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.exists() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

async fn signalled(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
