//! `certbound client`: registering and managing clients.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{pin_from_arg, CliResult};
use crate::domain::client::jwks_from_pem_certificates;
use crate::domain::{AuthMethod, Client, ClientStatus, GrantType, IssuerSerial, SubjectMatcher};
use crate::pki::{SpkiPin, Thumbprint};
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
    /// tls_client_auth: the certificate's subject DN (RFC 4514 form, e.g. "CN=tpp,O=Bank,C=GB").
    #[arg(long)]
    subject_dn: Option<String>,
    #[arg(long)]
    san_dns: Option<String>,
    #[arg(long)]
    san_uri: Option<String>,
    #[arg(long)]
    san_ip: Option<String>,
    #[arg(long)]
    san_email: Option<String>,
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
    /// Require the chain to pass through this CA: base64url SHA-256 of its SubjectPublicKeyInfo,
    /// or a PEM file of the CA certificate (repeatable).
    #[arg(long = "ca-pin")]
    ca_pins: Vec<String>,
    /// Accept only this exact certificate: its x5t#S256 thumbprint, or a PEM file (repeatable).
    #[arg(long = "cert-pin")]
    cert_pins: Vec<String>,
    /// Accept only this exact certificate by SERIAL_HEX:ISSUER_DN (repeatable).
    #[arg(long = "cert-issuer-serial")]
    issuer_serials: Vec<String>,
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

pub(super) async fn run(cmd: ClientCommand, store: &Store) -> CliResult {
    match cmd {
        ClientCommand::Add(add) => {
            let json = add.json;
            let client = build_client(*add)?;
            store.insert_client(&client).await?;
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
            store.set_client_status(&client_id, ClientStatus::Disabled).await?;
            println!("disabled {client_id}");
        }
        ClientCommand::Enable { client_id } => {
            store.set_client_status(&client_id, ClientStatus::Active).await?;
            println!("enabled {client_id}");
        }
    }
    Ok(())
}

fn build_client(add: AddClient) -> Result<Client, Box<dyn std::error::Error>> {
    let auth_method: AuthMethod = add.auth.parse()?;
    let subjects = [
        ("tls_client_auth_subject_dn", &add.subject_dn),
        ("tls_client_auth_san_dns", &add.san_dns),
        ("tls_client_auth_san_uri", &add.san_uri),
        ("tls_client_auth_san_ip", &add.san_ip),
        ("tls_client_auth_san_email", &add.san_email),
    ];
    let given: Vec<_> = subjects
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (*k, v)))
        .collect();
    if given.len() > 1 {
        return Err("give exactly one of --subject-dn, --san-dns, --san-uri, --san-ip, --san-email".into());
    }
    let subject = given
        .first()
        .map(|(k, v)| SubjectMatcher::from_parts(k, v))
        .transpose()?;

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
    let ca_pins = add
        .ca_pins
        .iter()
        .map(|p| pin_from_arg(p, SpkiPin::from_base64url, |der| SpkiPin::of_certificate(der).ok()))
        .collect::<Result<Vec<_>, _>>()?;
    let cert_pins = add
        .cert_pins
        .iter()
        .map(|p| pin_from_arg(p, Thumbprint::from_base64url, |der| Some(Thumbprint::of_der(der))))
        .collect::<Result<Vec<_>, _>>()?;
    let issuer_serial_pins = add
        .issuer_serials
        .iter()
        .map(|s| IssuerSerial::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
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
        ca_pins,
        cert_pins,
        issuer_serial_pins,
        can_introspect: add.introspect,
        authorization_details_types: add.authorization_details_types,
        created_at: now,
        updated_at: now,
    };
    client.validate()?;
    Ok(client)
}
