//! One audit event as columns and back: `grant_type` and `status` are columns of their own, the
//! certificate is joined from `audit_certificates`, and `detail` keeps the rest as JSON.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::domain::{AuditEvent, AuditedCertificate, CertificateSource};
use crate::store::{opt_text, text, StoreError};

/// `detail` as stored: its `grant_type` (a string) and `status` (an integer) as columns, and
/// what else it holds as JSON, none if nothing. A detail without either is stored as it is.
pub(super) fn split_detail(detail: Option<&serde_json::Value>) -> (Option<&str>, Option<i64>, Option<String>) {
    let Some(serde_json::Value::Object(fields)) = detail else {
        return (None, None, detail.map(|d| d.to_string()));
    };
    let grant_type = fields.get("grant_type").and_then(|v| v.as_str());
    let status = fields.get("status").and_then(|v| v.as_i64());
    let column = |key: &str| match key {
        "grant_type" => grant_type.is_some(),
        "status" => status.is_some(),
        _ => false,
    };
    let rest = match (grant_type.is_some() || status.is_some(), fields.len()) {
        (false, _) => detail.map(|d| d.to_string()),
        (true, n) if n == usize::from(grant_type.is_some()) + usize::from(status.is_some()) => None,
        (true, _) => {
            let rest: serde_json::Map<_, _> = fields
                .iter()
                .filter(|(k, _)| !column(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Some(serde_json::Value::Object(rest).to_string())
        }
    };
    (grant_type, status, rest)
}

/// The stored `detail` with the `grant_type` and `status` columns put back.
fn joined_detail(row: &AnyRow) -> Result<Option<serde_json::Value>, StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("audit event detail: {e}"));
    let detail: Option<serde_json::Value> = opt_text(row, "detail")?
        .map(|d| serde_json::from_str(&d))
        .transpose()
        .map_err(corrupt)?;
    let grant_type = opt_text(row, "grant_type")?;
    let status = row.try_get::<Option<i64>, _>("status")?;
    if grant_type.is_none() && status.is_none() {
        return Ok(detail);
    }
    let mut fields = match detail {
        Some(serde_json::Value::Object(fields)) => fields,
        None => serde_json::Map::new(),
        Some(other) => return Err(StoreError::Corrupt(format!("audit event detail: {other}"))),
    };
    if let Some(grant_type) = grant_type {
        fields.insert("grant_type".into(), grant_type.into());
    }
    if let Some(status) = status {
        fields.insert("status".into(), status.into());
    }
    Ok(Some(fields.into()))
}

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
        detail: joined_detail(row)?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::split_detail;

    #[test]
    fn grant_type_and_status_become_columns_and_the_rest_stays_json() {
        let token = json!({ "grant_type": "client_credentials", "status": 200 });
        assert_eq!(
            split_detail(Some(&token)),
            (Some("client_credentials"), Some(200), None)
        );
        let refused = json!({ "grant_type": "client_credentials", "reason": "no", "status": 401 });
        let rest = Some(json!({ "reason": "no" }).to_string());
        assert_eq!(
            split_detail(Some(&refused)),
            (Some("client_credentials"), Some(401), rest)
        );
        let admin = json!({ "before": null, "after": { "status": "disabled" }, "status": "x" });
        assert_eq!(split_detail(Some(&admin)), (None, None, Some(admin.to_string())));
        assert_eq!(split_detail(Some(&json!({}))), (None, None, Some("{}".into())));
        assert_eq!(
            split_detail(Some(&json!("text"))),
            (None, None, Some("\"text\"".into()))
        );
        assert_eq!(split_detail(None), (None, None, None));
    }
}
