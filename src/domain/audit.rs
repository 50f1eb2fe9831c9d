//! The audit trail's record: who tried to authenticate where, with which certificate, and how
//! it ended; which token was issued or refused; which administrator changed what. Rows are
//! append-only (the `audit_events` table); retention alone removes them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::pki::ClientCertificate;

/// Longest `client_id` kept as sent: it is the requester's choice, and an audit row must not
/// become a way to store megabytes.
pub const MAX_CLIENT_ID_LEN: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A request to the token endpoint: the client's authentication and the token's fate.
    Token,
    /// Client authentication at another endpoint (PAR, introspection, revocation, the
    /// revocation list).
    ClientAuthentication,
    /// A change made by an administrator.
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Success,
    Failure,
}

/// Where the request's client certificate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateSource {
    /// The TLS handshake with certbound itself.
    Handshake,
    /// A header set by a trusted proxy.
    Proxy,
}

/// Stored and filtered as their `snake_case` names.
macro_rules! names {
    ($ty:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name),+
                }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($name => Ok(Self::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($ty))),
                }
            }
        }
    };
}

names!(AuditKind { Token => "token", ClientAuthentication => "client_authentication", Admin => "admin" });
names!(AuditOutcome { Success => "success", Failure => "failure" });
names!(CertificateSource { Handshake => "handshake", Proxy => "proxy" });

/// A client certificate as the audit trail keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditedCertificate {
    pub subject: String,
    pub issuer: String,
    /// Lowercase hex of the serial number's DER content octets.
    pub serial: String,
    /// `x5t#S256`.
    pub thumbprint: String,
    /// When it expires (seconds); unknown for rows written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<i64>,
}

impl AuditedCertificate {
    pub fn of(cert: &ClientCertificate) -> Self {
        Self {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            serial: crate::encoding::hex(cert.serial()),
            thumbprint: cert.thumbprint().to_base64url(),
            not_after: Some(cert.not_after()),
        }
    }
}

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// The row's sequence number, in the order rows were written; the database assigns it, so
    /// an event not yet written has 0.
    pub id: i64,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    pub kind: AuditKind,
    pub outcome: AuditOutcome,
    /// The check that refused the request (`certificate_chain_trusted`, `client_known`, …) or
    /// the OAuth error it got; `None` on success.
    pub failed_check: Option<String>,
    /// The path requested, or the administrative action.
    pub endpoint: String,
    /// As sent (truncated to [`MAX_CLIENT_ID_LEN`]); for an administrative change, the client
    /// changed.
    pub client_id: Option<String>,
    /// Shared: every request on a connection presents the same certificate, summarised once.
    pub certificate: Option<Arc<AuditedCertificate>>,
    pub certificate_source: Option<CertificateSource>,
    /// The address the request came from (the proxy's, behind one).
    pub peer: Option<String>,
    /// The listener's local address.
    pub listener: Option<String>,
    /// The administrator who made a change.
    pub actor: Option<String>,
    /// The grant type a token request asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<String>,
    /// The HTTP status a request was answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What else matters for this kind: why a request failed, an administrative change's
    /// before and after. Rows written before `grant_type` and `status` were columns (migration
    /// 0010) keep them here.
    pub detail: Option<serde_json::Value>,
}

impl AuditEvent {
    /// `detail` with the grant type and status in it, as one object to show.
    pub fn detail_shown(&self) -> Option<serde_json::Value> {
        if self.grant_type.is_none() && self.status.is_none() {
            return self.detail.clone();
        }
        let mut fields = match &self.detail {
            Some(serde_json::Value::Object(fields)) => fields.clone(),
            Some(other) => [("detail".to_string(), other.clone())].into_iter().collect(),
            None => serde_json::Map::new(),
        };
        if let Some(grant_type) = &self.grant_type {
            fields.insert("grant_type".into(), grant_type.as_str().into());
        }
        if let Some(status) = self.status {
            fields.insert("status".into(), status.into());
        }
        Some(fields.into())
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub fn truncated(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncated("abc", 2), "ab");
        assert_eq!(truncated("a€", 2), "a");
        assert_eq!(truncated("a€", 4), "a€");
    }

    #[test]
    fn the_detail_shown_holds_the_grant_type_and_status() {
        let event = AuditEvent {
            id: 1,
            at: 0,
            kind: AuditKind::Token,
            outcome: AuditOutcome::Failure,
            failed_check: Some("client_known".into()),
            endpoint: "/token".into(),
            client_id: None,
            certificate: None,
            certificate_source: None,
            peer: None,
            listener: None,
            actor: None,
            grant_type: Some("client_credentials".into()),
            status: Some(401),
            detail: Some(serde_json::json!({ "reason": "unknown" })),
        };
        let shown = serde_json::json!({ "grant_type": "client_credentials", "reason": "unknown", "status": 401 });
        assert_eq!(event.detail_shown(), Some(shown));
        let admin = AuditEvent {
            grant_type: None,
            status: None,
            detail: Some(serde_json::json!("text")),
            ..event.clone()
        };
        assert_eq!(admin.detail_shown(), admin.detail);
        let bare = AuditEvent { detail: None, ..event };
        assert_eq!(
            bare.detail_shown(),
            Some(serde_json::json!({ "grant_type": "client_credentials", "status": 401 }))
        );
    }
}
