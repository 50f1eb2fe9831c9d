//! Wiring: settings in, running listeners out. Starts the dev PKI if needed, opens the store,
//! loads keys and trust anchors, serves the AS routes on the listener(s), and keeps caches in
//! step with the database.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Settings;
use crate::jose::KeyEncryptionKey;
use crate::oauth::signing_keys as keys;
use crate::oauth::{self, AppState, Endpoints, Shared};
use crate::pki::dev::PkiLayout;
use crate::pki::TrustStore;
use crate::rs::Guard;
use crate::store::Store;

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
}

/// A server that is accepting connections.
pub struct RunningServer {
    pub local_addr: SocketAddr,
    pub mtls_addr: Option<SocketAddr>,
    pub state: AppState,
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
    let kek = KeyEncryptionKey::load(&settings.kek)?;
    let ttl = settings.access_token_ttl as i64;
    let ring = keys::load_ring(&store, &kek, settings.signing_alg, ttl).await?;
    let mut trust = TrustStore::default();
    for path in &settings.trust_anchor_files {
        trust.add_pem_file(path)?;
    }

    let endpoints = Endpoints { issuer, mtls_base };
    let state: AppState = Arc::new(Shared::new(endpoints, store.clone(), trust, ring, ttl));
    state.api_keys.reload().await?;
    state.revocations.replace(
        store
            .live_revocations(crate::now())
            .await?
            .into_iter()
            .map(|(jti, _)| jti),
    );
    let app = router(state.clone(), &settings);

    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    // With a dedicated mTLS listener the public one does not ask for certificates, so browsers
    // reading discovery are never prompted (RFC 8705 §5).
    let main_tls = crate::tls::server_config(&settings.server_cert, &settings.server_key, mtls_listener.is_none())?;
    tasks.spawn(crate::tls::serve(
        listener,
        main_tls,
        settings.forwarding.clone(),
        app.clone(),
        signalled(shutdown_rx.clone()),
    ));
    if let Some(l) = mtls_listener {
        let tls = crate::tls::server_config(&settings.server_cert, &settings.server_key, true)?;
        tasks.spawn(crate::tls::serve(
            l,
            tls,
            settings.mtls_forwarding.clone(),
            app,
            signalled(shutdown_rx.clone()),
        ));
    }
    tasks.spawn(keep_in_step(state.clone(), kek, settings, signalled(shutdown_rx)));

    tracing::info!(%local_addr, issuer = state.issuer(), "certbound is listening");
    Ok(RunningServer {
        local_addr,
        mtls_addr,
        state,
        shutdown,
        tasks,
    })
}

/// The AS routes, health, and the optional in-process resource servers.
fn router(state: AppState, settings: &Settings) -> Router {
    let mut app = oauth::router(state.clone()).merge(
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(ready))
            .with_state(state.clone()),
    );
    let issuer = state.issuer().to_string();
    if settings.demo_bank {
        let audiences = vec![issuer.clone(), format!("{issuer}{}", crate::demo_bank::PATH)];
        app = app.merge(crate::demo_bank::router(&Guard::local(state.clone(), audiences)));
    }
    if let Some(gateway) = &settings.gateway {
        let audiences = if gateway.audiences.is_empty() {
            vec![issuer]
        } else {
            gateway.audiences.clone()
        };
        app = app.merge(crate::rs::gateway::router(
            Guard::local(state, audiences),
            gateway.policies.clone(),
        ));
    }
    app
}

/// Ready when the database answers and a signing key is loaded.
async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.store.ping().await {
        Ok(()) if state.keys().kids().next().is_some() => (StatusCode::OK, "ready"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "not ready"),
    }
}

/// Polls the store's change counters and brings each in-memory copy up to date: the client
/// cache is cleared, and keys, API keys and revocations reloaded, when theirs changes. A reload
/// that fails is retried on the next tick. Keys and revocations are also reloaded every minute,
/// so retired keys and expired revocations age out; API key use is flushed every ten ticks.
async fn keep_in_step(
    state: AppState,
    kek: KeyEncryptionKey,
    settings: Settings,
    stop: impl std::future::Future<Output = ()>,
) {
    const PERIODIC: Duration = Duration::from_secs(60);
    tokio::pin!(stop);
    let ttl = settings.access_token_ttl as i64;
    let mut seen = state.store.revisions().await.unwrap_or_default();
    let mut tick = tokio::time::interval(settings.reload_interval);
    let started = tokio::time::Instant::now();
    let (mut keys_loaded, mut revocations_loaded, mut flushed, mut purged) = (started, started, started, started);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = &mut stop => {
                let _ = state.api_keys.flush_last_used().await;
                return;
            }
        }
        let now = match state.store.revisions().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "polling for changes failed");
                continue;
            }
        };
        if now.clients != seen.clients {
            state.clients.clear();
            seen.clients = now.clients;
            tracing::info!("clients changed; cache cleared");
        }
        if now.keys != seen.keys || keys_loaded.elapsed() > PERIODIC {
            match keys::load_ring(&state.store, &kek, settings.signing_alg, ttl).await {
                Ok(ring) => {
                    if now.keys != seen.keys {
                        tracing::info!(kid = ring.signing_key().kid(), "signing keys reloaded");
                    }
                    state.replace_keys(ring);
                    seen.keys = now.keys;
                    keys_loaded = tokio::time::Instant::now();
                }
                Err(e) => tracing::error!(error = %e, "reloading signing keys failed"),
            }
        }
        if now.api_keys != seen.api_keys {
            match state.api_keys.reload().await {
                Ok(()) => seen.api_keys = now.api_keys,
                Err(e) => tracing::warn!(error = %e, "reloading API keys failed"),
            }
        }
        if now.revocations != seen.revocations || revocations_loaded.elapsed() > PERIODIC {
            match state.store.live_revocations(crate::now()).await {
                Ok(list) => {
                    state.revocations.replace(list.into_iter().map(|(jti, _)| jti));
                    seen.revocations = now.revocations;
                    revocations_loaded = tokio::time::Instant::now();
                }
                Err(e) => tracing::warn!(error = %e, "reloading revocations failed"),
            }
        }
        if flushed.elapsed() > settings.reload_interval * 10 {
            if let Err(e) = state.api_keys.flush_last_used().await {
                tracing::warn!(error = %e, "recording API key use failed");
            }
            flushed = tokio::time::Instant::now();
        }
        if purged.elapsed() > Duration::from_secs(3600) {
            let _ = state.store.purge_expired_revocations(crate::now()).await;
            purged = tokio::time::Instant::now();
        }
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
