//! Keeping this node's in-memory copies in step with the database, which every node shares.

use std::time::Duration;

use crate::admin;
use crate::config::Settings;
use crate::jose::KeyEncryptionKey;
use crate::oauth::interaction::SIGN_IN_WINDOW;
use crate::oauth::revocation_list::RevocationList;
use crate::oauth::signing_keys;
use crate::oauth::AppState;
use crate::rs::LocalAuthority;
use crate::store::StoreError;

/// Gives this process's resource servers the revocations in force.
pub(super) async fn load_revocations(state: &AppState, local: &LocalAuthority) -> Result<(), StoreError> {
    let list = RevocationList::load(&state.store, crate::now(), state.lifetimes.access_token).await?;
    local.revocations.replace(
        list.tokens.into_iter().map(|(jti, _)| jti),
        list.grants.into_iter().map(|(id, _)| id),
        list.disabled_clients,
        list.clients,
    );
    Ok(())
}

/// Polls the store's change counters and brings each in-memory copy up to date: the client
/// cache is cleared, and keys, API keys and revocations reloaded, when theirs changes. A reload
/// that fails is retried on the next tick. Keys and revocations are also reloaded every minute,
/// so retired keys and expired revocations age out; API key use is flushed every ten ticks.
pub(super) async fn keep_in_step(
    state: AppState,
    local: LocalAuthority,
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
    let mut jtis_purged = started;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = &mut stop => {
                let _ = local.api_keys.flush_last_used().await;
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
            match signing_keys::load_ring(&state.store, &kek, settings.signing_alg, ttl).await {
                Ok(ring) => {
                    if now.keys != seen.keys {
                        tracing::info!(kid = ring.signing_key().kid(), "signing keys reloaded");
                    }
                    local.keys.replace(ring);
                    seen.keys = now.keys;
                    keys_loaded = tokio::time::Instant::now();
                }
                Err(e) => tracing::error!(error = %e, "reloading signing keys failed"),
            }
        }
        if now.api_keys != seen.api_keys {
            match local.api_keys.reload().await {
                Ok(()) => seen.api_keys = now.api_keys,
                Err(e) => tracing::warn!(error = %e, "reloading API keys failed"),
            }
        }
        if now.revocations != seen.revocations || now.customers != seen.customers {
            // A revoked grant or a disabled customer ends refresh tokens.
            state.refresh_tokens.clear();
            seen.customers = now.customers;
        }
        if now.revocations != seen.revocations || revocations_loaded.elapsed() > PERIODIC {
            match load_revocations(&state, &local).await {
                Ok(()) => {
                    seen.revocations = now.revocations;
                    revocations_loaded = tokio::time::Instant::now();
                }
                Err(e) => tracing::warn!(error = %e, "reloading revocations failed"),
            }
        }
        if flushed.elapsed() > settings.reload_interval * 10 {
            if let Err(e) = local.api_keys.flush_last_used().await {
                tracing::warn!(error = %e, "recording API key use failed");
            }
            flushed = tokio::time::Instant::now();
        }
        if purged.elapsed() > Duration::from_secs(600) {
            let now = crate::now();
            if let Err(e) = state.store.purge_expired_revocations(now).await {
                tracing::warn!(error = %e, "purging expired revocations failed");
            }
            if let Err(e) = state.store.purge_flow_state(now, now - SIGN_IN_WINDOW).await {
                tracing::warn!(error = %e, "purging expired code-flow state failed");
            }
            let (created_before, idle_before) = (now - admin::session::ABSOLUTE, now - admin::session::IDLE);
            if let Err(e) = state.store.purge_admin_sessions(created_before, idle_before).await {
                tracing::warn!(error = %e, "purging ended admin sessions failed");
            }
            purged = tokio::time::Instant::now();
        }
        // Assertion and DPoP jtis live minutes at most; purging often keeps each DELETE small.
        if jtis_purged.elapsed() > PERIODIC {
            if let Err(e) = state.store.purge_seen_jtis(crate::now()).await {
                tracing::warn!(error = %e, "purging expired jtis failed");
            }
            jtis_purged = tokio::time::Instant::now();
        }
    }
}
