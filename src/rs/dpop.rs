//! DPoP at a resource (RFC 9449 §7): a DPoP-bound token comes with a proof for this request —
//! its method and URL, fresh, naming this token in `ath` — signed by the token's key, and used
//! once. The proof's checks are `domain::dpop`'s; here the request's URL is worked out and the
//! `jti` is recorded in the guard's replay store.

use axum::http::header::HeaderName;

use super::decisions::{Denied, Reason};
use super::replay::{ReplayError, ReplayStore};
use super::{Incoming, RsError};
use crate::domain::dpop::{self, Expected};
use crate::domain::Jkt;

const DPOP: HeaderName = HeaderName::from_static("dpop");

/// Verifies the request's proof for `token` and records it; returns the proof's key.
pub(super) async fn check_dpop_proof(
    replay: &ReplayStore,
    origins: &[String],
    request: &Incoming<'_>,
    token: &str,
    now: i64,
) -> Result<Jkt, Denied> {
    let proof = single_proof(request)?;
    let uris = request_urls(origins, request)?;
    let expected = Expected {
        method: request.method,
        uris: &uris,
        access_token: Some(token),
        now,
    };
    let proof = dpop::verify(proof, &expected).map_err(|e| {
        tracing::info!(reason = e.description(), "DPoP proof refused at the resource");
        invalid(e.description())
    })?;
    let unavailable = |detail| Denied(Reason::DpopReplayUnavailable, RsError::Unavailable(detail));
    match replay.first_use(&proof.replay_key(), proof.remember_until(), now).await {
        Ok(true) => Ok(proof.jkt),
        Ok(false) => Err(Denied(
            Reason::DpopProofReplayed,
            RsError::InvalidDpopProof("the proof was used before"),
        )),
        Err(ReplayError::Full) => Err(unavailable("the DPoP replay cache is full".into())),
        Err(e) => Err(unavailable(e.to_string())),
    }
}

fn invalid(description: &'static str) -> Denied {
    Denied(Reason::DpopProofInvalid, RsError::InvalidDpopProof(description))
}

/// Exactly one `DPoP` header (RFC 9449 §4.3 items 1 and 2).
fn single_proof<'a>(request: &Incoming<'a>) -> Result<&'a str, Denied> {
    let mut values = request.headers.get_all(DPOP).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().map_err(|_| invalid("malformed DPoP header")),
        (None, _) => Err(Denied(
            Reason::DpopProofMissing,
            RsError::InvalidDpopProof("a DPoP proof is required"),
        )),
        (Some(_), Some(_)) => Err(invalid("more than one DPoP header")),
    }
}

/// The URLs this request may have been addressed to: the configured public origins with its
/// path, or, when none are configured, `https://` and the `Host` it was sent with. Without
/// either, no proof can be checked: counted as an invalid proof.
fn request_urls(origins: &[String], request: &Incoming<'_>) -> Result<Vec<String>, Denied> {
    if !origins.is_empty() {
        return Ok(origins.iter().map(|o| format!("{o}{}", request.path)).collect());
    }
    match request.host {
        Some(host) => Ok(vec![format!("https://{host}{}", request.path)]),
        None => Err(Denied(
            Reason::DpopProofInvalid,
            RsError::InvalidRequest("the request names no host"),
        )),
    }
}
