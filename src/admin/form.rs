//! The console's forms: the same strict parsing as the OAuth endpoints (UTF-8, no duplicate
//! fields but the repeatable ones, a size limit), refused as an operator-facing page.

use axum::extract::{FromRequest, Request};

use super::AdminError;
use crate::oauth::OAuthForm;

/// Fields a console form may repeat: checkboxes.
const REPEATABLE: &[&str] = &["grant_type"];

pub struct AdminForm(pub OAuthForm);

impl<S: Send + Sync> FromRequest<S> for AdminForm {
    type Rejection = AdminError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        OAuthForm::read(req, REPEATABLE)
            .await
            .map(AdminForm)
            .map_err(|_| AdminError::BadRequest("malformed form"))
    }
}
