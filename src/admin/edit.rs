//! Editing a registration: every field of it, in one form, checked as a new registration is
//! checked; the audit trail gets the registration before and after.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::changes::{record, Change};
use super::clients::existing;
use super::form::AdminForm;
use super::session::AdminSession;
use super::view::{segment, Nav};
use super::AdminError;
use crate::domain::{AuthMethod, Client, GrantType, IssuerSerial, SubjectMatcher};
use crate::oauth::{AppState, OAuthForm, Shared};
use crate::pki::{SpkiPin, Thumbprint};
use crate::store::StoreError;
use crate::tls::ClientAddr;
use crate::web::{render, see_other};

/// The ways a `tls_client_auth` registration names its certificate (RFC 8705 §2.1.2).
const SUBJECT_KINDS: [&str; 5] = [
    "tls_client_auth_subject_dn",
    "tls_client_auth_san_dns",
    "tls_client_auth_san_uri",
    "tls_client_auth_san_ip",
    "tls_client_auth_san_email",
];

/// The form's fields as text, from a registration or as posted.
pub struct Fields {
    name: String,
    auth_method: String,
    subject_kind: String,
    subject_value: String,
    grant_types: Vec<String>,
    scope: String,
    redirect_uris: String,
    cert_pins: String,
    issuer_serial_pins: String,
    ca_pins: String,
    jwks: String,
    jwks_uri: String,
    authorization_details_types: String,
    bound_access_tokens: bool,
    dpop_bound_access_tokens: bool,
    require_signed_request_object: bool,
    can_introspect: bool,
}

impl Fields {
    fn of(c: &Client) -> Self {
        let (subject_kind, subject_value) = c.subject.as_ref().map(|s| s.parts()).unwrap_or_default();
        let lines = |items: Vec<String>| items.join("\n");
        Self {
            name: c.name.clone(),
            auth_method: c.auth_method.as_str().into(),
            subject_kind: subject_kind.into(),
            subject_value,
            grant_types: c.grant_types.iter().map(|g| g.as_str().to_string()).collect(),
            scope: c.scopes.join(" "),
            redirect_uris: lines(c.redirect_uris.clone()),
            cert_pins: lines(c.cert_pins.iter().map(|p| p.to_base64url()).collect()),
            issuer_serial_pins: lines(
                c.issuer_serial_pins
                    .iter()
                    .map(|p| format!("{}:{}", p.serial, p.issuer))
                    .collect(),
            ),
            ca_pins: lines(c.ca_pins.iter().map(|p| p.to_base64url()).collect()),
            jwks: c
                .jwks
                .as_ref()
                .and_then(|j| serde_json::to_string_pretty(j).ok())
                .unwrap_or_default(),
            jwks_uri: c.jwks_uri.clone().unwrap_or_default(),
            authorization_details_types: c.authorization_details_types.join(" "),
            bound_access_tokens: c.bound_access_tokens,
            dpop_bound_access_tokens: c.dpop_bound_access_tokens,
            require_signed_request_object: c.require_signed_request_object,
            can_introspect: c.can_introspect,
        }
    }

    fn posted(form: &OAuthForm) -> Self {
        let text = |name: &str| form.get(name).unwrap_or_default().trim().to_string();
        let checked = |name: &str| form.get(name) == Some("on");
        Self {
            name: text("name"),
            auth_method: text("auth_method"),
            subject_kind: text("subject_kind"),
            subject_value: text("subject_value"),
            grant_types: form.all("grant_type").map(String::from).collect(),
            scope: text("scope"),
            redirect_uris: text("redirect_uris"),
            cert_pins: text("cert_pins"),
            issuer_serial_pins: text("issuer_serial_pins"),
            ca_pins: text("ca_pins"),
            jwks: text("jwks"),
            jwks_uri: text("jwks_uri"),
            authorization_details_types: text("authorization_details_types"),
            bound_access_tokens: checked("bound_access_tokens"),
            dpop_bound_access_tokens: checked("dpop_bound_access_tokens"),
            require_signed_request_object: checked("require_signed_request_object"),
            can_introspect: checked("can_introspect"),
        }
    }

    fn has_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    /// `before` with these fields applied, checked as a registration.
    fn apply(&self, before: &Client) -> Result<Client, String> {
        let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let subject = match self.subject_kind.as_str() {
            "" => None,
            kind => Some(SubjectMatcher::from_parts(kind, &self.subject_value)?),
        };
        let jwks = match self.jwks.as_str() {
            "" => None,
            text => Some(serde_json::from_str::<Value>(text).map_err(|e| format!("the JWKS is not JSON: {e}"))?),
        };
        let client = Client {
            client_id: before.client_id.clone(),
            name: self.name.clone(),
            status: before.status,
            auth_method: self.auth_method.parse::<AuthMethod>()?,
            grant_types: self
                .grant_types
                .iter()
                .map(|g| g.parse::<GrantType>())
                .collect::<Result<_, _>>()?,
            scopes: words(&self.scope),
            redirect_uris: words(&self.redirect_uris),
            bound_access_tokens: self.bound_access_tokens,
            dpop_bound_access_tokens: self.dpop_bound_access_tokens,
            require_signed_request_object: self.require_signed_request_object,
            subject,
            jwks,
            jwks_uri: Some(self.jwks_uri.clone()).filter(|u| !u.is_empty()),
            ca_pins: pins(
                &self.ca_pins,
                "CA pin (base64url SHA-256 of a public key)",
                SpkiPin::from_base64url,
            )?,
            cert_pins: pins(
                &self.cert_pins,
                "certificate thumbprint (base64url SHA-256)",
                Thumbprint::from_base64url,
            )?,
            issuer_serial_pins: self
                .issuer_serial_pins
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(IssuerSerial::parse)
                .collect::<Result<_, _>>()?,
            can_introspect: self.can_introspect,
            authorization_details_types: words(&self.authorization_details_types),
            created_at: before.created_at,
            updated_at: crate::now(),
        };
        if client.name.is_empty() {
            return Err("Give the client a name.".into());
        }
        client.validate()?;
        client.validate_pins()?;
        Ok(client)
    }
}

/// Whitespace-separated pins, each of which must decode.
fn pins<T>(text: &str, what: &str, parse: fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    text.split_whitespace()
        .map(|w| parse(w).ok_or_else(|| format!("{w:?} is not a {what}")))
        .collect()
}

#[derive(Template)]
#[template(path = "admin/edit.html")]
struct EditPage<'a> {
    nav: Nav,
    path: String,
    client_id: &'a str,
    fields: Fields,
    methods: [&'static str; 3],
    subject_kinds: [&'static str; 5],
    error: Option<&'a str>,
}

fn edit_page(state: &Shared, session: &AdminSession, client_id: &str, fields: Fields, error: Option<&str>) -> Response {
    let page = EditPage {
        nav: Nav::new(state, session, "clients"),
        path: format!("/admin/clients/{}", segment(client_id)),
        client_id,
        fields,
        methods: AuthMethod::ALL.map(AuthMethod::as_str),
        subject_kinds: SUBJECT_KINDS,
        error,
    };
    let status = match error {
        Some(_) => StatusCode::UNPROCESSABLE_ENTITY,
        None => StatusCode::OK,
    };
    render(&page, status, None)
}

/// `GET /admin/clients/{id}/edit`.
pub async fn page(
    State(state): State<AppState>,
    session: AdminSession,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    session.check_may_change()?;
    let client = existing(&state, &id).await?;
    Ok(edit_page(&state, &session, &id, Fields::of(&client), None))
}

/// `POST /admin/clients/{id}/edit`.
pub async fn submit(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    session: AdminSession,
    Path(id): Path<String>,
    AdminForm(form): AdminForm,
) -> Result<Response, AdminError> {
    session.check_change(&form)?;
    let before = existing(&state, &id).await?;
    let fields = Fields::posted(&form);
    let after = match fields.apply(&before) {
        Ok(client) => client,
        Err(message) => return Ok(edit_page(&state, &session, &id, fields, Some(&message))),
    };
    match state.store.update_client(&after).await {
        Ok(()) => {}
        Err(StoreError::Invalid(message)) => return Ok(edit_page(&state, &session, &id, fields, Some(&message))),
        Err(e) => return Err(e.into()),
    }
    let change = Change::client(
        session.username(),
        "admin.client.update",
        &id,
        Some(before.registration_document()),
        Some(after.registration_document()),
    );
    record(&state, change.from(peer));
    Ok(see_other(&format!("/admin/clients/{}", segment(&id))))
}
