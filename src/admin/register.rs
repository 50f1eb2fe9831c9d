//! Registering a client from its certificate: upload or paste it, see what it says and whether
//! it chains to a configured trust anchor, pick the method and the subject form to match, and
//! register. The form carries the certificate on, and the server reads it again on submit.

use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::certificate::{self, Facts};
use super::changes::{record, Change};
use super::form::AdminForm;
use super::session::AdminSession;
use super::view::{segment, Nav};
use super::AdminError;
use crate::domain::client::jwks_from_pem_certificates;
use crate::domain::{AuthMethod, Client, ClientStatus, GrantType, SubjectMatcher};
use crate::oauth::{AppState, Shared};
use crate::pki::ClientCertificate;
use crate::store::StoreError;
use crate::tls::ClientAddr;
use crate::web::{render, see_other};

#[derive(Template)]
#[template(path = "admin/upload.html")]
struct UploadPage<'a> {
    nav: Nav,
    error: Option<&'a str>,
}

/// `GET /admin/clients/new`.
pub async fn upload(State(state): State<AppState>, session: AdminSession) -> Result<Response, AdminError> {
    session.check_may_change()?;
    Ok(upload_page(&state, &session, None, StatusCode::OK))
}

fn upload_page(state: &Shared, session: &AdminSession, error: Option<&str>, status: StatusCode) -> Response {
    let page = UploadPage {
        nav: Nav::new(state, session, "clients"),
        error,
    };
    render(&page, status, None)
}

/// What the operator chose, as the registration form shows it again.
struct Choices {
    client_id: String,
    name: String,
    auth_method: String,
    subject: String,
    scope: String,
    grant_types: Vec<String>,
    redirect_uris: String,
    pin: bool,
}

impl Choices {
    fn has_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }
}

#[derive(Template)]
#[template(path = "admin/register.html")]
struct RegisterPage<'a> {
    nav: Nav,
    facts: Facts,
    pem: String,
    choices: Choices,
    error: Option<&'a str>,
}

fn register_page(
    state: &Shared,
    session: &AdminSession,
    cert: &ClientCertificate,
    choices: Choices,
    error: Option<&str>,
) -> Response {
    let facts = Facts::of(cert, &state.trust, crate::now());
    let page = RegisterPage {
        nav: Nav::new(state, session, "clients"),
        pem: certificate::pem(cert),
        facts,
        choices,
        error,
    };
    let status = match error {
        Some(_) => StatusCode::UNPROCESSABLE_ENTITY,
        None => StatusCode::OK,
    };
    render(&page, status, None)
}

/// `POST /admin/clients/new` (multipart: `csrf`, `file` and/or `pem`): the registration form,
/// pre-filled from the certificate.
pub async fn prefill(
    State(state): State<AppState>,
    session: AdminSession,
    multipart: Multipart,
) -> Result<Response, AdminError> {
    let (csrf, upload) = certificate::upload(multipart).await?;
    session.check_csrf_token(csrf.as_deref())?;
    session.check_may_change()?;
    let cert = match certificate::read(&upload) {
        Ok(cert) => cert,
        Err(message) => {
            return Ok(upload_page(
                &state,
                &session,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
    };
    let facts = Facts::of(&cert, &state.trust, crate::now());
    let choices = Choices {
        client_id: crate::jose::random_id(),
        name: facts.suggested_name.clone(),
        auth_method: match facts.untrusted {
            None => AuthMethod::TlsClientAuth.as_str().into(),
            Some(_) => AuthMethod::SelfSignedTlsClientAuth.as_str().into(),
        },
        subject: facts.subjects[0].value.clone(),
        scope: String::new(),
        grant_types: vec![GrantType::ClientCredentials.as_str().into()],
        redirect_uris: String::new(),
        pin: false,
    };
    Ok(register_page(&state, &session, &cert, choices, None))
}

/// `POST /admin/clients`: registers the client.
pub async fn create(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    session: AdminSession,
    AdminForm(form): AdminForm,
) -> Result<Response, AdminError> {
    session.check_change(&form)?;
    let cert = certificate::read(form.get("certificate").unwrap_or_default().as_bytes())
        .map_err(|_| AdminError::BadRequest("the certificate did not come back"))?;
    let choices = Choices {
        client_id: form.get("client_id").unwrap_or_default().trim().to_string(),
        name: form.get("name").unwrap_or_default().trim().to_string(),
        auth_method: form.get("auth_method").unwrap_or_default().to_string(),
        subject: form.get("subject").unwrap_or_default().to_string(),
        scope: form.get("scope").unwrap_or_default().to_string(),
        grant_types: form.all("grant_type").map(String::from).collect(),
        redirect_uris: form.get("redirect_uris").unwrap_or_default().to_string(),
        pin: form.get("pin") == Some("on"),
    };
    let client = match build(&choices, &cert) {
        Ok(client) => client,
        Err(message) => return Ok(register_page(&state, &session, &cert, choices, Some(&message))),
    };
    match state.store.insert_client(&client).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            let message = format!("A client with the id {} already exists.", client.client_id);
            return Ok(register_page(&state, &session, &cert, choices, Some(&message)));
        }
        Err(StoreError::Invalid(reason)) => {
            return Ok(register_page(&state, &session, &cert, choices, Some(&reason)));
        }
        Err(e) => return Err(e.into()),
    }
    let change = Change::client(
        session.username(),
        "admin.client.register",
        &client.client_id,
        None,
        Some(client.registration_document()),
    );
    record(&state, change.from(peer));
    Ok(see_other(&format!("/admin/clients/{}", segment(&client.client_id))))
}

/// The registration the choices describe, checked as the CLI checks it.
fn build(choices: &Choices, cert: &ClientCertificate) -> Result<Client, String> {
    let auth_method: AuthMethod = choices.auth_method.parse()?;
    let (subject, jwks) = match auth_method {
        AuthMethod::TlsClientAuth => {
            let (kind, value) = choices
                .subject
                .split_once(' ')
                .ok_or("Choose which name of the certificate to match.")?;
            (Some(SubjectMatcher::from_parts(kind, value)?), None)
        }
        AuthMethod::SelfSignedTlsClientAuth => {
            let leaf = certificate::pem_of(&cert.chain()[..1]);
            (None, Some(jwks_from_pem_certificates(&[leaf.into_bytes()])?))
        }
        AuthMethod::PrivateKeyJwt => return Err("Register private_key_jwt clients with the CLI.".into()),
    };
    if choices.name.is_empty() {
        return Err("Give the client a name.".into());
    }
    let grant_types = choices
        .grant_types
        .iter()
        .map(|g| g.parse::<GrantType>())
        .collect::<Result<Vec<_>, _>>()?;
    let now = crate::now();
    let client = Client {
        client_id: choices.client_id.clone(),
        name: choices.name.clone(),
        status: ClientStatus::Active,
        auth_method,
        grant_types,
        scopes: choices.scope.split_whitespace().map(String::from).collect(),
        redirect_uris: choices.redirect_uris.split_whitespace().map(String::from).collect(),
        bound_access_tokens: true,
        dpop_bound_access_tokens: false,
        require_signed_request_object: false,
        subject,
        jwks,
        jwks_uri: None,
        ca_pins: Vec::new(),
        cert_pins: match choices.pin {
            true => vec![*cert.thumbprint()],
            false => Vec::new(),
        },
        issuer_serial_pins: Vec::new(),
        can_introspect: false,
        authorization_details_types: Vec::new(),
        created_at: now,
        updated_at: now,
    };
    client.validate()?;
    Ok(client)
}
