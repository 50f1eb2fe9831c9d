//! One audit event out of its row: the certificate is joined from `audit_certificates`, and
//! `detail` is JSON.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::domain::{AuditEvent, AuditedCertificate, CertificateSource};
use crate::store::{opt_text, text, StoreError};

pub(super) fn event(row: &AnyRow) -> Result<AuditEvent, StoreError> {
    let corrupt = |what: String| StoreError::Corrupt(format!("audit event: {what}"));
    let certificate = match opt_text(row, "cert_thumbprint")? {
        Some(thumbprint) => Some(std::sync::Arc::new(AuditedCertificate {
            subject: opt_text(row, "subject")?.unwrap_or_default(),
            issuer: opt_text(row, "issuer")?.unwrap_or_default(),
            serial: opt_text(row, "serial")?.unwrap_or_default(),
            not_after: row.try_get::<Option<i64>, _>("not_after")?,
            thumbprint,
        })),
        None => None,
    };
    Ok(AuditEvent {
        id: row.try_get::<i64, _>("seq")?,
        at: row.try_get::<i64, _>("at")?,
        kind: text(row, "kind")?.parse().map_err(corrupt)?,
        outcome: text(row, "outcome")?.parse().map_err(corrupt)?,
        failed_check: opt_text(row, "failed_check")?,
        endpoint: text(row, "endpoint")?,
        client_id: opt_text(row, "client_id")?,
        certificate,
        certificate_source: opt_text(row, "cert_source")?
            .map(|s| s.parse::<CertificateSource>())
            .transpose()
            .map_err(corrupt)?,
        peer: opt_text(row, "peer")?,
        listener: opt_text(row, "listener")?,
        actor: opt_text(row, "actor")?,
        grant_type: opt_text(row, "grant_type")?,
        status: row
            .try_get::<Option<i64>, _>("status")?
            .map(|s| u16::try_from(s).map_err(|_| corrupt(format!("status {s}"))))
            .transpose()?,
        detail: opt_text(row, "detail")?
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(|e| corrupt(format!("detail: {e}")))?,
    })
}
