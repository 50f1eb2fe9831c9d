//! `certbound client update`: changes a registration in place. Each option given replaces that
//! field (a repeatable one replaces the whole list); the result is checked as a new
//! registration is, and nothing is written if it fails.

use std::path::PathBuf;

use clap::Args;

use super::changes::Changes;
use super::client_args::{PinArgs, SubjectArgs};
use super::CliResult;
use crate::domain::{AuthMethod, Client, ClientStatus, GrantType};
use crate::store::Store;

#[derive(Args, Debug)]
pub(super) struct UpdateClient {
    #[arg(allow_hyphen_values = true)]
    client_id: String,
    #[arg(long)]
    name: Option<String>,
    /// tls_client_auth, self_signed_tls_client_auth or private_key_jwt.
    #[arg(long)]
    auth: Option<String>,
    #[command(flatten)]
    subject: SubjectArgs,
    /// Space-separated scopes (replaces them all; "" for none).
    #[arg(long)]
    scope: Option<String>,
    /// Grant types (repeatable; replaces them all).
    #[arg(long = "grant")]
    grants: Vec<String>,
    /// Redirect URIs (repeatable; replaces them all).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Pins (each kind given replaces that kind).
    #[command(flatten)]
    pins: PinArgs,
    /// Remove every pin (before applying any given).
    #[arg(long)]
    clear_pins: bool,
    /// A JWKS file replacing the registered keys.
    #[arg(long)]
    jwks: Option<PathBuf>,
    /// An https jwks_uri; "" removes it.
    #[arg(long)]
    jwks_uri: Option<String>,
    /// Bind tokens to the client certificate (RFC 8705 §3.4).
    #[arg(long)]
    bound_tokens: Option<bool>,
    /// Require a DPoP proof at every token request (RFC 9449).
    #[arg(long)]
    dpop_bound: Option<bool>,
    /// Accept only signed request objects at PAR (RFC 9101).
    #[arg(long)]
    require_signed_request_object: Option<bool>,
    /// May introspect tokens of other clients.
    #[arg(long)]
    introspect: Option<bool>,
    #[arg(long)]
    json: bool,
}

pub(super) async fn run(update: UpdateClient, store: &Store, changes: &Changes) -> CliResult {
    let before = match store.get_client(&update.client_id).await? {
        Some(c) if c.status != ClientStatus::Deleted => c,
        _ => return Err(format!("no client {}", update.client_id).into()),
    };
    let document = before.registration_document();
    let after = apply(&update, before)?;
    store.update_client(&after).await?;
    changes.client(
        "admin.client.update",
        &after.client_id,
        Some(document),
        Some(after.registration_document()),
    );
    if update.json {
        println!("{}", serde_json::to_string_pretty(&after.registration_document())?);
    } else {
        println!("updated {}", after.client_id);
    }
    Ok(())
}

fn apply(u: &UpdateClient, mut c: Client) -> Result<Client, Box<dyn std::error::Error>> {
    if let Some(name) = &u.name {
        c.name = name.clone();
    }
    if let Some(auth) = &u.auth {
        c.auth_method = auth.parse::<AuthMethod>()?;
    }
    if let Some(subject) = u.subject.matcher()? {
        c.subject = Some(subject);
    }
    if let Some(scope) = &u.scope {
        c.scopes = scope.split_whitespace().map(String::from).collect();
    }
    if !u.grants.is_empty() {
        c.grant_types = u
            .grants
            .iter()
            .map(|g| g.parse::<GrantType>())
            .collect::<Result<_, _>>()?;
    }
    if !u.redirect_uris.is_empty() {
        c.redirect_uris = u.redirect_uris.clone();
    }
    if u.clear_pins {
        (c.ca_pins, c.cert_pins, c.issuer_serial_pins) = (Vec::new(), Vec::new(), Vec::new());
    }
    if !u.pins.is_empty() {
        let pins = u.pins.parse()?;
        if !pins.ca.is_empty() {
            c.ca_pins = pins.ca;
        }
        if !pins.cert.is_empty() {
            c.cert_pins = pins.cert;
        }
        if !pins.issuer_serial.is_empty() {
            c.issuer_serial_pins = pins.issuer_serial;
        }
    }
    if let Some(path) = &u.jwks {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        c.jwks = Some(serde_json::from_str(&text)?);
    }
    if let Some(uri) = &u.jwks_uri {
        c.jwks_uri = Some(uri.clone()).filter(|u| !u.is_empty());
    }
    let flags = [
        (u.bound_tokens, &mut c.bound_access_tokens),
        (u.dpop_bound, &mut c.dpop_bound_access_tokens),
        (u.require_signed_request_object, &mut c.require_signed_request_object),
        (u.introspect, &mut c.can_introspect),
    ];
    for (given, field) in flags {
        if let Some(value) = given {
            *field = value;
        }
    }
    c.updated_at = crate::now();
    c.validate()?;
    c.validate_pins()?;
    Ok(c)
}
