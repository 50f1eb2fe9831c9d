//! The Open Banking error shape (OBErrorResponse1): `Code`, `Id`, `Message` and `Errors[]` with an
//! `ErrorCode` from the specification's list, a `Message` and, for a field, its `Path`. The
//! `Id` is fresh per error so a TPP can quote it; internal details are logged, never returned.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ObError {
    /// `UK.OBIE.Field.Missing`: a mandatory field is absent.
    #[error("{0} is missing")]
    FieldMissing(&'static str),
    /// `UK.OBIE.Field.Invalid`: a field breaks its rules.
    #[error("{0}: {1}")]
    FieldInvalid(&'static str, String),
    /// `UK.OBIE.Field.InvalidDate`: a date-time that does not parse or is out of range.
    #[error("{0}: {1}")]
    FieldInvalidDate(&'static str, &'static str),
    /// `UK.OBIE.Field.Unexpected`: a member the schema does not have.
    #[error("unexpected field {0}")]
    FieldUnexpected(String),
    /// `UK.OBIE.Resource.InvalidFormat`: the body is not the JSON object expected.
    #[error("malformed body")]
    InvalidFormat,
    /// `UK.OBIE.Header.Invalid`.
    #[error("header {0} is invalid")]
    HeaderInvalid(&'static str),
    /// 403 `UK.OBIE.Resource.ConsentMismatch`: the request does not match a consent of this
    /// client: not its consent (unknown ids answer the same), a customer's token where the TPP's
    /// own is needed, or data the consent's permissions do not cover.
    #[error("consent mismatch: {0}")]
    ConsentMismatch(&'static str),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ObError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    /// Status, error code, the field's path, and the message a TPP sees.
    fn parts(&self) -> (StatusCode, &'static str, Option<String>, String) {
        let bad = StatusCode::BAD_REQUEST;
        match self {
            Self::FieldMissing(path) => (bad, "UK.OBIE.Field.Missing", Some(path.to_string()), self.to_string()),
            Self::FieldInvalid(path, _) => (bad, "UK.OBIE.Field.Invalid", Some(path.to_string()), self.to_string()),
            Self::FieldInvalidDate(path, _) => (
                bad,
                "UK.OBIE.Field.InvalidDate",
                Some(path.to_string()),
                self.to_string(),
            ),
            Self::FieldUnexpected(path) => (bad, "UK.OBIE.Field.Unexpected", Some(path.clone()), self.to_string()),
            Self::InvalidFormat => (
                bad,
                "UK.OBIE.Resource.InvalidFormat",
                None,
                "the body must be a JSON object in the OBReadConsent1 shape".into(),
            ),
            Self::HeaderInvalid(name) => (bad, "UK.OBIE.Header.Invalid", Some(name.to_string()), self.to_string()),
            Self::ConsentMismatch(why) => (
                StatusCode::FORBIDDEN,
                "UK.OBIE.Resource.ConsentMismatch",
                None,
                why.to_string(),
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "UK.OBIE.UnexpectedError",
                None,
                "an unexpected error occurred".into(),
            ),
        }
    }
}

impl IntoResponse for ObError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(error = %detail, "internal error");
        }
        let (status, code, path, message) = self.parts();
        let mut error = json!({ "ErrorCode": code, "Message": message });
        if let Some(path) = path {
            error["Path"] = path.into();
        }
        let body = json!({
            "Code": status.to_string(),
            "Id": super::interaction_id::new_uuid(),
            "Message": status.canonical_reason().unwrap_or("Error"),
            "Errors": [error],
        });
        (status, axum::Json(body)).into_response()
    }
}
