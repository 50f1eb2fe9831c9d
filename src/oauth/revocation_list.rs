//! `POST /revocations`: what resource servers in other processes poll to refuse revoked tokens
//! without a call per request: the ids of revoked, unexpired access tokens, the grants revoked
//! recently enough that tokens issued under them may still be live, the disabled clients, and the
//! clients whose every token was revoked (with when). Only clients
//! registered as resource servers (`can_introspect`) may read it; they authenticate like at every
//! other endpoint.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::client_auth::{self, Presented};
use super::error::no_store;
use super::{AppState, OAuthError, OAuthForm};
use crate::store::{Store, StoreError};

/// Seconds of clock skew between this server and resource servers that a revoked grant stays
/// listed beyond the access-token lifetime.
const MARGIN: i64 = 60;

/// Revocations a resource server must know about at `now`.
pub struct RevocationList {
    /// `(jti, exp)` of revoked access tokens not yet expired.
    pub tokens: Vec<(String, i64)>,
    /// `(grant id, revoked_at)` of grants revoked within the last access-token lifetime.
    pub grants: Vec<(String, i64)>,
    /// Clients an operator disabled: their tokens are refused while they stay so.
    pub disabled_clients: Vec<String>,
    /// `(client_id, revoked_at)` of clients whose every token issued up to `revoked_at` was
    /// revoked within the last access-token lifetime.
    pub clients: Vec<(String, i64)>,
}

impl RevocationList {
    pub async fn load(store: &Store, now: i64, access_token_ttl: i64) -> Result<Self, StoreError> {
        Ok(Self {
            tokens: store.live_revocations(now).await?,
            grants: store.recent_grant_revocations(now - access_token_ttl - MARGIN).await?,
            disabled_clients: store.disabled_client_ids().await?,
            clients: store
                .recent_client_token_revocations(now - access_token_ttl - MARGIN)
                .await?,
        })
    }
}

pub async fn handle(
    State(state): State<AppState>,
    presented: Presented,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    let client = client_auth::authenticate(&state, &presented, &form).await?;
    if !client.client().can_introspect {
        return Err(OAuthError::UnauthorizedClient(
            "the client is not registered as a resource server",
        ));
    }
    let now = crate::now();
    let list = RevocationList::load(&state.store, now, state.lifetimes.access_token)
        .await
        .map_err(OAuthError::internal)?;
    let tokens: Vec<_> = list
        .tokens
        .iter()
        .map(|(jti, exp)| json!({"jti": jti, "exp": exp}))
        .collect();
    let grants: Vec<_> = list
        .grants
        .iter()
        .map(|(id, at)| json!({"grant_id": id, "revoked_at": at}))
        .collect();
    let clients: Vec<_> = list
        .clients
        .iter()
        .map(|(id, at)| json!({"client_id": id, "revoked_at": at}))
        .collect();
    let body = json!({
        "revoked": tokens,
        "revoked_grants": grants,
        "disabled_clients": list.disabled_clients,
        "revoked_clients": clients,
        "as_of": now,
    });
    let mut response = axum::Json(body).into_response();
    no_store(&mut response);
    Ok(response)
}
