//! What the console changes goes to the audit trail: who, what, and the registration before and
//! after. Sign-ins are there too, failed ones with their reason.

use std::net::IpAddr;

use serde_json::{json, Value};

use crate::audit::AuditLog;
use crate::domain::audit::{truncated, MAX_CLIENT_ID_LEN};
use crate::domain::{AuditEvent, AuditKind, AuditOutcome};
use crate::oauth::Shared;

/// One administrative action, as the audit trail records it.
pub struct Change {
    /// `admin.sign_in`, `admin.client.register`, `admin.client.disable`, …
    pub action: &'static str,
    pub actor: String,
    pub client_id: Option<String>,
    pub outcome: AuditOutcome,
    pub failed_check: Option<&'static str>,
    pub peer: Option<IpAddr>,
    pub detail: Option<Value>,
}

impl Change {
    pub fn sign_in(username: &str, peer: IpAddr, outcome: AuditOutcome, failed: Option<&'static str>) -> Self {
        Self {
            action: "admin.sign_in",
            actor: truncated(username, MAX_CLIENT_ID_LEN),
            client_id: None,
            outcome,
            failed_check: failed,
            peer: Some(peer),
            detail: None,
        }
    }

    /// A change to one client's registration, with what it was and what it became.
    pub fn client(
        actor: &str,
        action: &'static str,
        client_id: &str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Self {
        Self {
            action,
            actor: actor.to_string(),
            client_id: Some(client_id.to_string()),
            outcome: AuditOutcome::Success,
            failed_check: None,
            peer: None,
            detail: Some(json!({ "before": before, "after": after })),
        }
    }

    /// A change to the signing keys.
    pub fn keys(actor: &str, action: &'static str, before: Option<Value>, after: Option<Value>) -> Self {
        Self {
            action,
            actor: actor.to_string(),
            client_id: None,
            outcome: AuditOutcome::Success,
            failed_check: None,
            peer: None,
            detail: Some(json!({ "before": before, "after": after })),
        }
    }

    pub fn from(mut self, peer: IpAddr) -> Self {
        self.peer = Some(peer);
        self
    }

    pub fn into_event(self) -> AuditEvent {
        AuditEvent {
            id: 0,
            at: crate::now_millis(),
            kind: AuditKind::Admin,
            outcome: self.outcome,
            failed_check: self.failed_check.map(String::from),
            endpoint: self.action.to_string(),
            client_id: self.client_id,
            certificate: None,
            certificate_source: None,
            peer: self.peer.map(|p| p.to_string()),
            listener: None,
            actor: Some(self.actor),
            grant_type: None,
            status: None,
            detail: self.detail,
        }
    }
}

/// Queues the change for the audit trail (never waits) and logs it.
pub fn record(state: &Shared, change: Change) {
    record_in(&state.audit, change);
}

pub fn record_in(audit: &AuditLog, change: Change) {
    tracing::info!(
        action = change.action,
        actor = %change.actor,
        client_id = change.client_id.as_deref().unwrap_or("-"),
        outcome = change.outcome.as_str(),
        "administrative action"
    );
    audit.record(change.into_event());
}
