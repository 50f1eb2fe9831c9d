//! Records each request to the endpoints that authenticate clients. The middleware puts an
//! [`AuditSlot`] in the request, where client authentication notes the `client_id` it was sent
//! and the check that refused it, and the token endpoint the grant type; after the response it
//! adds what the connection knows (certificate, its source, peer, listener) and the outcome. A
//! token request is always recorded; elsewhere, only when a client authenticated or tried to.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::AuditLog;
use crate::domain::audit::{truncated, MAX_CLIENT_ID_LEN};
use crate::domain::{AuditEvent, AuditKind, AuditOutcome, CertificateSource};
use crate::tls::{ClientAddr, ForwardedCertificate, ListenerAddr, PeerCertificate};

/// What the handlers note for the request's audit event.
#[derive(Debug, Clone, Default)]
pub struct AuditSlot(Arc<Mutex<Note>>);

#[derive(Debug, Default)]
struct Note {
    attempted: bool,
    client_id: Option<String>,
    failed_check: Option<&'static str>,
    reason: Option<String>,
    grant_type: Option<String>,
}

impl AuditSlot {
    fn note(&self, change: impl FnOnce(&mut Note)) {
        change(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Client authentication began, for the `client_id` sent (or the assertion's issuer).
    pub fn client(&self, client_id: Option<&str>) {
        self.note(|n| {
            n.attempted = true;
            n.client_id = client_id.map(|id| truncated(id, MAX_CLIENT_ID_LEN));
        });
    }

    /// Client authentication failed at `check`; `reason` is certbound's own wording.
    pub fn failed(&self, check: &'static str, reason: String) {
        self.note(|n| {
            n.attempted = true;
            n.failed_check = Some(check);
            n.reason = Some(reason);
        });
    }

    pub fn grant_type(&self, grant_type: &str) {
        self.note(|n| n.grant_type = Some(truncated(grant_type, 64)));
    }
}

/// Response extension: the OAuth error code a request was answered with.
#[derive(Debug, Clone, Copy)]
pub struct Refused(pub &'static str);

/// The middleware (`axum::middleware::from_fn_with_state` with the [`AuditLog`]).
///
/// Its state is shared behind one `Arc`: cloning an [`AuditLog`] for every request touched its
/// every counter and the queue's sender count, cache lines both cores contend for.
pub async fn record_requests(State(log): State<Arc<AuditLog>>, mut request: Request, next: Next) -> Response {
    let slot = AuditSlot::default();
    request.extensions_mut().insert(slot.clone());
    let at = now_ms();
    let endpoint = request.uri().path().to_string();
    let extensions = request.extensions();
    let presented = extensions.get::<PeerCertificate>().cloned().unwrap_or_default();
    let forwarded = extensions.get::<ForwardedCertificate>().is_some();
    let peer = extensions.get::<ClientAddr>().map(|a| a.0);
    let listener = extensions.get::<ListenerAddr>().map(|a| a.0);
    let response = next.run(request).await;

    let note = std::mem::take(&mut *slot.0.lock().unwrap_or_else(|e| e.into_inner()));
    let kind = match endpoint.ends_with("/token") {
        true => AuditKind::Token,
        false if note.attempted => AuditKind::ClientAuthentication,
        false => return response,
    };
    let success = response.status().is_success();
    let failed_check = match (success, note.failed_check) {
        (true, _) => None,
        (false, Some(check)) => Some(check.to_string()),
        (false, None) => Some(
            response
                .extensions()
                .get::<Refused>()
                .map_or_else(|| response.status().as_u16().to_string(), |r| r.0.to_string()),
        ),
    };
    let outcome = if success {
        AuditOutcome::Success
    } else {
        AuditOutcome::Failure
    };
    let issued = (success && kind == AuditKind::Token)
        .then_some(note.grant_type.as_deref())
        .flatten();
    log.metrics.count(&endpoint, outcome, failed_check.as_deref(), issued);
    if !log.is_enabled() {
        return response;
    }
    let certificate = presented.get().map(|cert| log.certificate(cert));
    let certificate_source = certificate.as_ref().map(|_| match forwarded {
        true => CertificateSource::Proxy,
        false => CertificateSource::Handshake,
    });
    log.record(AuditEvent {
        id: 0,
        at,
        kind,
        outcome,
        failed_check,
        endpoint,
        client_id: note.client_id,
        certificate,
        certificate_source,
        peer: peer.map(|p| p.to_string()),
        listener: listener.map(|l| l.to_string()),
        actor: None,
        grant_type: note.grant_type,
        status: Some(response.status().as_u16()),
        detail: note.reason.map(|reason| serde_json::json!({ "reason": reason })),
    });
    response
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
