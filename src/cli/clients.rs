//! `certbound client`: registering and managing clients.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::changes::Changes;
use super::client_args::{PinArgs, SubjectArgs};
use super::client_update::{self, UpdateClient};
use super::CliResult;
use crate::domain::client::jwks_from_pem_certificates;
use crate::domain::{AuthMethod, Client, ClientStatus, GrantType};
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub(super) enum ClientCommand {
    /// Register a client; prints its client_id.
    Add(Box<AddClient>),
    /// List clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one client's registration.
    Show {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Stop a client from authenticating (takes effect on running servers within a second).
    Disable {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Allow a disabled client again.
    Enable {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Change a registration: what is given replaces what was registered; the rest stays.
    Update(Box<UpdateClient>),
    /// Revoke every token the client holds now: its access tokens are refused (resource servers
    /// learn it with the revocation list) and its grants, with their refresh tokens, revoked.
    RevokeTokens {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Delete a client: it stops authenticating, its API keys and grants are revoked, resource
    /// servers refuse its tokens, and its client_id stays reserved.
    Delete {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
}

#[derive(Args, Debug)]
pub(super) struct AddClient {
    #[arg(long)]
    name: String,
    /// tls_client_auth, self_signed_tls_client_auth or private_key_jwt.
    #[arg(long)]
    auth: String,
    /// Choose the client_id (default: random).
    #[arg(long, allow_hyphen_values = true)]
    client_id: Option<String>,
    #[command(flatten)]
    subject: SubjectArgs,
    /// self_signed_tls_client_auth: a PEM certificate to register (repeatable, e.g. for rotation).
    #[arg(long = "cert")]
    certs: Vec<PathBuf>,
    /// The client's public keys as a JWKS file (RFC 7591 `jwks`): signing keys for
    /// private_key_jwt and signed request objects, and for self_signed_tls_client_auth keys that
    /// carry x5c certificates; any method may have one.
    #[arg(long)]
    jwks: Option<PathBuf>,
    /// Where the client publishes its JWKS instead (https; fetched, cached, refreshed).
    #[arg(long)]
    jwks_uri: Option<String>,
    /// Accept only signed request objects (RFC 9101 `request`) at PAR.
    #[arg(long)]
    require_signed_request_object: bool,
    /// Require a DPoP proof at every token request, binding tokens to its key (RFC 9449).
    #[arg(long)]
    dpop_bound: bool,
    /// Space-separated scopes the client may request.
    #[arg(long, default_value = "")]
    scope: String,
    /// Grant types: client_credentials, authorization_code, refresh_token (repeatable; default
    /// client_credentials).
    #[arg(long = "grant")]
    grants: Vec<String>,
    /// A redirect URI for the authorization code flow, compared exactly (repeatable).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    #[command(flatten)]
    pins: PinArgs,
    /// Issue tokens without cnf binding (not recommended; RFC 8705 §3.4 metadata false).
    #[arg(long)]
    unbound_tokens: bool,
    /// Let this client introspect tokens of other clients (for resource servers).
    #[arg(long)]
    introspect: bool,
    /// An RFC 9396 authorization_details type the client may request at PAR, such as
    /// account_access_consent or payment_initiation (repeatable; default none).
    #[arg(long = "authorization-details-type")]
    authorization_details_types: Vec<String>,
    #[arg(long)]
    json: bool,
}

pub(super) async fn run(cmd: ClientCommand, store: &Store, changes: &Changes) -> CliResult {
    match cmd {
        ClientCommand::Add(add) => {
            let json = add.json;
            let client = build_client(*add)?;
            store.insert_client(&client).await?;
            changes.client(
                "admin.client.register",
                &client.client_id,
                None,
                Some(client.registration_document()),
            );
            if json {
                println!("{}", serde_json::to_string_pretty(&client.registration_document())?);
            } else {
                println!("{}", client.client_id);
            }
        }
        ClientCommand::List { json } => {
            let clients = store.list_clients().await?;
            if json {
                let list: Vec<_> = clients.iter().map(Client::registration_document).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for c in clients {
                    let subject = c
                        .subject
                        .as_ref()
                        .map(|s| s.parts().1)
                        .unwrap_or_else(|| "(registered certificates)".into());
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        c.client_id,
                        c.status.as_str(),
                        c.auth_method.as_str(),
                        c.name,
                        subject
                    );
                }
            }
        }
        ClientCommand::Show { client_id, json } => {
            let c = store
                .get_client(&client_id)
                .await?
                .ok_or_else(|| format!("no client {client_id}"))?;
            let doc = c.registration_document();
            if json {
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                for (k, v) in doc.as_object().into_iter().flatten() {
                    println!("{k}: {v}");
                }
            }
        }
        ClientCommand::Disable { client_id } => {
            set_status(store, changes, &client_id, ClientStatus::Disabled).await?;
            println!("disabled {client_id}");
        }
        ClientCommand::Enable { client_id } => {
            set_status(store, changes, &client_id, ClientStatus::Active).await?;
            println!("enabled {client_id}");
        }
        ClientCommand::Update(update) => client_update::run(*update, store, changes).await?,
        ClientCommand::RevokeTokens { client_id } => {
            let now = crate::now();
            store.revoke_client_tokens(&client_id, now).await?;
            let after = serde_json::json!({ "tokens_revoked_at": now });
            changes.client("admin.client.revoke_tokens", &client_id, None, Some(after));
            println!("revoked every token of {client_id}");
        }
        ClientCommand::Delete { client_id } => {
            let before = store.get_client(&client_id).await?.map(|c| c.registration_document());
            store.delete_client(&client_id).await?;
            changes.client("admin.client.delete", &client_id, before, None);
            println!("deleted {client_id}");
        }
    }
    Ok(())
}

/// Disables or enables a client, recording the registration before and after.
async fn set_status(store: &Store, changes: &Changes, client_id: &str, status: ClientStatus) -> CliResult {
    let before = store.get_client(client_id).await?.map(|c| c.registration_document());
    store.set_client_status(client_id, status).await?;
    let after = store.get_client(client_id).await?.map(|c| c.registration_document());
    let action = match status {
        ClientStatus::Active => "admin.client.enable",
        _ => "admin.client.disable",
    };
    changes.client(action, client_id, before, after);
    Ok(())
}

fn build_client(add: AddClient) -> Result<Client, Box<dyn std::error::Error>> {
    let auth_method: AuthMethod = add.auth.parse()?;
    let subject = add.subject.matcher()?;

    let mut pems = Vec::new();
    for path in &add.certs {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        jwks_from_pem_certificates(std::slice::from_ref(&pem)).map_err(|e| format!("{}: {e}", path.display()))?;
        pems.push(pem);
    }
    let jwks = match (&add.jwks, pems.is_empty()) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut jwks: serde_json::Value = serde_json::from_str(&text)?;
            if !pems.is_empty() {
                let extra = jwks_from_pem_certificates(&pems)?;
                if let (Some(keys), Some(more)) = (jwks["keys"].as_array_mut(), extra["keys"].as_array()) {
                    keys.extend(more.iter().cloned());
                }
            }
            Some(jwks)
        }
        (None, false) => Some(jwks_from_pem_certificates(&pems)?),
        (None, true) => None,
    };
    let pins = add.pins.parse()?;
    let now = crate::now();
    let client = Client {
        client_id: add.client_id.unwrap_or_else(crate::jose::random_id),
        name: add.name,
        status: ClientStatus::Active,
        auth_method,
        grant_types: if add.grants.is_empty() {
            vec![GrantType::ClientCredentials]
        } else {
            add.grants.iter().map(|g| g.parse()).collect::<Result<_, _>>()?
        },
        scopes: add.scope.split_whitespace().map(String::from).collect(),
        redirect_uris: add.redirect_uris,
        bound_access_tokens: !add.unbound_tokens,
        dpop_bound_access_tokens: add.dpop_bound,
        require_signed_request_object: add.require_signed_request_object,
        subject,
        jwks,
        jwks_uri: add.jwks_uri,
        ca_pins: pins.ca,
        cert_pins: pins.cert,
        issuer_serial_pins: pins.issuer_serial,
        can_introspect: add.introspect,
        authorization_details_types: add.authorization_details_types,
        created_at: now,
        updated_at: now,
    };
    client.validate()?;
    Ok(client)
}
