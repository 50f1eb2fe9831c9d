//! The `certbound` command line: a thin layer over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::client::{jwks_from_pem_certificates, AuthMethod, Client, ClientStatus, IssuerSerial, SubjectMatcher};
use crate::config::{LogFormat, Settings};
use crate::jose::{keys, KeyEncryptionKey, SigningAlg};
use crate::pki::dev::PkiLayout;
use crate::pki::{certs_from_pem, SpkiPin, Thumbprint};
use crate::store::Store;

#[derive(Parser, Debug)]
#[command(
    name = "certbound",
    version,
    about = "Mutual-TLS OAuth 2.0 authorization server issuing certificate-bound access tokens"
)]
pub struct Cli {
    /// TOML configuration file (see docs/configuration.md).
    #[arg(long, global = true, env = "CERTBOUND_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL (sqlite://… or postgres://…); overrides the config file.
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the authorization server.
    Serve {
        /// Also serve the demo bank API under /bank/v1/ (certificate + bound token + API key).
        #[arg(long)]
        demo_bank: bool,
    },
    /// Development PKI: a CA, a localhost server certificate, client certificates.
    #[command(subcommand)]
    Pki(PkiCommand),
    /// Register and manage clients.
    #[command(subcommand)]
    Client(Box<ClientCommand>),
    /// Token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// API keys for clients, used with mTLS and tokens at the API edge.
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// Check a running deployment: forged certificate headers from this host must be refused.
    Doctor {
        /// Base URL of the server.
        #[arg(long, default_value = "https://localhost:8443")]
        url: String,
        /// CA bundle to verify the server's certificate (default: the dev CA in the data dir).
        #[arg(long)]
        cacert: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum ApikeyCommand {
    /// Issue a key for a client; the key is printed once and only its hash is stored.
    Create {
        #[arg(long)]
        client: String,
        /// Accept the key only over this certificate (x5t#S256 thumbprint or PEM file; repeatable).
        #[arg(long = "bind-cert")]
        bind_certs: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Issue a new key; the client's other keys keep working for --overlap seconds.
    Rotate {
        #[arg(long)]
        client: String,
        #[arg(long, default_value_t = 86_400)]
        overlap: i64,
        #[arg(long = "bind-cert")]
        bind_certs: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// List keys (ids, state, last use; never the keys themselves).
    List {
        #[arg(long)]
        client: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id.
    Revoke { id: String },
}

#[derive(Subcommand, Debug)]
enum PkiCommand {
    /// Write ca.pem, ca.key, server.pem and server.key into DIR.
    Init {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Issue DIR/clients/NAME.pem and NAME.key, subject CN=NAME, from DIR's CA.
    Issue {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
    /// Print a certificate's x5t#S256 thumbprint, SPKI pin, subject, issuer and serial.
    Inspect {
        #[arg(long)]
        cert: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum ClientCommand {
    /// Register a client; prints its client_id.
    Add(Box<AddClient>),
    /// List clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one client's registration.
    Show {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Stop a client from authenticating (takes effect on running servers within a second).
    Disable { client_id: String },
    /// Allow a disabled client again.
    Enable { client_id: String },
}

#[derive(Args, Debug)]
struct AddClient {
    #[arg(long)]
    name: String,
    /// tls_client_auth or self_signed_tls_client_auth.
    #[arg(long)]
    auth: String,
    /// Choose the client_id (default: random).
    #[arg(long)]
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
    /// self_signed_tls_client_auth: a JWKS file whose keys carry x5c certificates.
    #[arg(long)]
    jwks: Option<PathBuf>,
    /// Space-separated scopes the client may request.
    #[arg(long, default_value = "")]
    scope: String,
    /// Grant types (repeatable; default client_credentials).
    #[arg(long = "grant")]
    grants: Vec<String>,
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
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Generate a new signing key; the old public key stays in the JWKS until its tokens expire.
    Rotate {
        /// ES256, PS256 or EdDSA (default: the configured signing_alg).
        #[arg(long)]
        alg: Option<String>,
    },
    /// List signing keys.
    List {
        #[arg(long)]
        json: bool,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(mut s) => {
            if let Some(url) = cli.database_url.clone() {
                s.database_url = url;
            }
            s
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(settings.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("CERTBOUND_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

async fn run(command: Command, settings: Settings) -> CliResult {
    crate::install_crypto_provider();
    match command {
        Command::Serve { demo_bank } => {
            let mut settings = settings;
            settings.demo_bank |= demo_bank;
            serve(settings).await
        }
        Command::Pki(cmd) => pki(cmd),
        Command::Client(cmd) => client(*cmd, &Store::connect(&settings.database_url).await?).await,
        Command::Keys(cmd) => keys_command(cmd, &settings).await,
        Command::Apikey(cmd) => apikey(cmd, &Store::connect(&settings.database_url).await?).await,
        Command::Doctor { url, cacert } => {
            let cacert = cacert.unwrap_or_else(|| PkiLayout::new(settings.data_dir.join("pki")).ca_cert());
            doctor(&url, &cacert).await
        }
    }
}

async fn serve(settings: Settings) -> CliResult {
    let pki_dir = settings.dev_pki_dir.clone();
    let demo_bank = settings.demo_bank;
    let server = crate::server::start(settings).await?;
    let base = format!("https://localhost:{}", server.local_addr.port());
    println!("certbound is serving {} (issuer {})", base, server.issuer());
    if let Some(dir) = pki_dir {
        let d = dir.display();
        println!(
            "\nGet a certificate-bound token (in another terminal, same directory):\n\
             \x20 certbound pki issue --dir {d} --name tpp1\n\
             \x20 certbound client add --name tpp1 --auth tls_client_auth --subject-dn CN=tpp1 --scope accounts --client-id tpp1\n\
             \x20 curl --cacert {d}/ca.pem --cert {d}/clients/tpp1.pem --key {d}/clients/tpp1.key \\\n\
             \x20      -d grant_type=client_credentials -d client_id=tpp1 -d scope=accounts {base}/token\n"
        );
    }
    if demo_bank {
        println!(
            "Demo bank API at {base}{path}/accounts: needs the TPP certificate, a token bound to it with scope\n\
             accounts, and the client's API key in x-api-key (certbound apikey create --client tpp1).\n",
            path = crate::demo_bank::PATH
        );
    }
    server.run_until_signalled().await;
    Ok(())
}

async fn apikey(cmd: ApikeyCommand, store: &Store) -> CliResult {
    match cmd {
        ApikeyCommand::Create {
            client,
            bind_certs,
            json,
        } => issue_api_key(store, &client, &bind_certs, None, json).await,
        ApikeyCommand::Rotate {
            client,
            overlap,
            bind_certs,
            json,
        } => {
            if overlap < 0 {
                return Err("--overlap must not be negative".into());
            }
            issue_api_key(store, &client, &bind_certs, Some(crate::now() + overlap), json).await
        }
        ApikeyCommand::List { client, json } => {
            let rows = store.list_api_keys(client.as_deref()).await?;
            let now = crate::now();
            let state = |r: &crate::store::api_keys::ApiKeyRow| match (r.revoked_at, r.expires_at) {
                (Some(_), _) => "revoked",
                (None, Some(at)) if at <= now => "expired",
                (None, Some(_)) => "expiring",
                (None, None) => "active",
            };
            if json {
                let list: Vec<_> = rows
                    .iter()
                    .map(|r| {
                        json!({"id": r.id, "client_id": r.client_id, "state": state(r), "cert_thumbprints": r.cert_thumbprints,
                               "created_at": r.created_at, "expires_at": r.expires_at, "revoked_at": r.revoked_at,
                               "last_used_at": r.last_used_at})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for r in &rows {
                    let used = r
                        .last_used_at
                        .map_or("never used".to_string(), |t| format!("last used {t}"));
                    println!("{}\t{}\t{}\t{used}", r.id, r.client_id, state(r));
                }
            }
            Ok(())
        }
        ApikeyCommand::Revoke { id } => {
            store.revoke_api_key(&id).await?;
            println!("revoked {id}");
            Ok(())
        }
    }
}

async fn issue_api_key(
    store: &Store,
    client: &str,
    bind_certs: &[String],
    expire_others_at: Option<i64>,
    json: bool,
) -> CliResult {
    if store.get_client(client).await?.is_none() {
        return Err(format!("no client {client}").into());
    }
    let thumbprints = bind_certs
        .iter()
        .map(|p| pin_from_arg(p, Thumbprint::from_base64url, |der| Some(Thumbprint::of_der(der))))
        .collect::<Result<Vec<_>, _>>()?;
    let issued = crate::rs::api_keys::issue(client, &thumbprints);
    store.insert_api_key(&issued.row, expire_others_at).await?;
    if json {
        println!(
            "{}",
            json!({"api_key": issued.key, "id": issued.row.id, "client_id": client})
        );
    } else {
        println!("{}", issued.key);
        eprintln!("(shown once: certbound stores only its hash; id {})", issued.row.id);
    }
    Ok(())
}

/// Sends certificate headers of every supported proxy format, carrying a certificate this
/// command just made up, without a TLS client certificate. Each must be refused.
async fn doctor(url: &str, cacert: &Path) -> CliResult {
    use crate::tls::forwarded::{encode, ForwardFormat};
    let ca = std::fs::read(cacert).map_err(|e| format!("{}: {e}", cacert.display()))?;
    let http = crate::tls::client::HttpsClient::new(&ca, None)?;
    let base = url.trim_end_matches('/');
    let metadata = http
        .fetch(&format!("{base}/.well-known/oauth-authorization-server"), None)
        .await?;
    let issuer = serde_json::from_slice::<serde_json::Value>(&metadata)?["issuer"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    println!("ok    discovery answers (issuer {issuer})");
    let forged = crate::pki::dev::self_signed(&crate::pki::dev::CertSpec::client("certbound-doctor-probe", 1))?;
    let mut failures = 0;
    for format in [
        ForwardFormat::Rfc9440,
        ForwardFormat::Nginx,
        ForwardFormat::Envoy,
        ForwardFormat::AwsAlb,
        ForwardFormat::Haproxy,
    ] {
        let headers = encode(format, &[forged.der()]);
        let form = "grant_type=client_credentials&client_id=certbound-doctor-probe".to_string();
        let (status, _) = http.send(&format!("{base}/token"), &headers, Some(form)).await?;
        match status.as_u16() {
            400 => println!("ok    forged {format:?} certificate header refused (400)"),
            401 => {
                failures += 1;
                println!("FAIL  forged {format:?} header reached client authentication: this host is a trusted proxy, or the listener honours forwarded certificates from it");
            }
            other => {
                failures += 1;
                println!("FAIL  forged {format:?} header answered {other}");
            }
        }
    }
    if failures > 0 {
        return Err(format!("{failures} check(s) failed").into());
    }
    println!("all checks passed");
    Ok(())
}

fn pki(cmd: PkiCommand) -> CliResult {
    match cmd {
        PkiCommand::Init { dir } => {
            let layout = PkiLayout::new(&dir);
            layout.init()?;
            println!(
                "wrote {0}/ca.pem {0}/ca.key {0}/server.pem {0}/server.key",
                dir.display()
            );
        }
        PkiCommand::Issue { dir, name, days } => {
            let (cert, key) = PkiLayout::new(&dir).issue_client(&name, days)?;
            println!("wrote {} and {} (subject CN={name})", cert.display(), key.display());
        }
        PkiCommand::Inspect { cert } => {
            let der = read_pem_certs(&cert)?.remove(0);
            let parsed = crate::pki::ClientCertificate::from_chain(vec![der.clone()])?;
            let info = json!({
                "x5t#S256": parsed.thumbprint().to_base64url(),
                "spki_pin": SpkiPin::of_certificate(der.as_ref())?.to_base64url(),
                "subject": parsed.subject().to_string(),
                "issuer": parsed.issuer().to_string(),
                "serial": parsed.serial().iter().map(|b| format!("{b:02x}")).collect::<String>(),
                "not_after": parsed.not_after(),
            });
            println!("{}", serde_json::to_string_pretty(&info)?);
        }
    }
    Ok(())
}

async fn client(cmd: ClientCommand, store: &Store) -> CliResult {
    match cmd {
        ClientCommand::Add(add) => {
            let json = add.json;
            let client = build_client(*add)?;
            store.insert_client(&client).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&client_json(&client))?);
            } else {
                println!("{}", client.client_id);
            }
        }
        ClientCommand::List { json } => {
            let clients = store.list_clients().await?;
            if json {
                let list: Vec<_> = clients.iter().map(client_json).collect();
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
            let doc = client_json(&c);
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
            vec!["client_credentials".into()]
        } else {
            add.grants
        },
        scopes: add.scope.split_whitespace().map(String::from).collect(),
        redirect_uris: Vec::new(),
        bound_access_tokens: !add.unbound_tokens,
        subject,
        jwks,
        ca_pins,
        cert_pins,
        issuer_serial_pins,
        can_introspect: add.introspect,
        created_at: now,
        updated_at: now,
    };
    client.validate()?;
    Ok(client)
}

/// A pin given as its base64url value, or as a PEM file to compute it from.
fn pin_from_arg<T>(arg: &str, parse: fn(&str) -> Option<T>, of_der: fn(&[u8]) -> Option<T>) -> Result<T, String> {
    if let Some(pin) = parse(arg) {
        return Ok(pin);
    }
    let neither = || format!("{arg:?} is neither a base64url SHA-256 pin nor a PEM certificate file");
    let cert = read_pem_certs(Path::new(arg)).map_err(|_| neither())?.remove(0);
    crate::pki::ClientCertificate::from_chain(vec![cert.clone()]).map_err(|_| neither())?;
    of_der(cert.as_ref()).ok_or_else(neither)
}

fn read_pem_certs(path: &Path) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    certs_from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))
}

/// RFC 7591-style registration document.
fn client_json(c: &Client) -> serde_json::Value {
    let mut doc = json!({
        "client_id": c.client_id,
        "client_name": c.name,
        "status": c.status.as_str(),
        "token_endpoint_auth_method": c.auth_method.as_str(),
        "grant_types": c.grant_types,
        "scope": c.scopes.join(" "),
        "tls_client_certificate_bound_access_tokens": c.bound_access_tokens,
        "ca_pins": c.ca_pins.iter().map(|p| p.to_base64url()).collect::<Vec<_>>(),
        "cert_pins": c.cert_pins.iter().map(|p| p.to_base64url()).collect::<Vec<_>>(),
        "issuer_serial_pins": c.issuer_serial_pins,
        "can_introspect": c.can_introspect,
        "created_at": c.created_at,
    });
    if let Some(subject) = &c.subject {
        let (k, v) = subject.parts();
        doc[k] = v.into();
    }
    if let Some(jwks) = &c.jwks {
        doc["jwks"] = jwks.clone();
    }
    doc
}

async fn keys_command(cmd: KeysCommand, settings: &Settings) -> CliResult {
    let store = Store::connect(&settings.database_url).await?;
    match cmd {
        KeysCommand::Rotate { alg } => {
            let alg: SigningAlg = match alg {
                Some(a) => a
                    .parse()
                    .map_err(|_| format!("unsupported algorithm {a:?} (ES256, PS256, EdDSA)"))?,
                None => settings.signing_alg,
            };
            let kek = KeyEncryptionKey::load(&settings.kek)?;
            let kid = keys::rotate(&store, &kek, alg).await?;
            let purged = keys::purge(&store, settings.access_token_ttl as i64).await?;
            println!(
                "new {} signing key {kid}; {purged} expired key(s) removed",
                alg.as_str()
            );
        }
        KeysCommand::List { json } => {
            let rows = store.list_signing_keys().await?;
            if json {
                let list: Vec<_> = rows
                    .iter()
                    .map(
                        |r| json!({"kid": r.kid, "alg": r.alg, "created_at": r.created_at, "retired_at": r.retired_at}),
                    )
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for r in rows {
                    let state = r.retired_at.map_or("active".to_string(), |t| format!("retired at {t}"));
                    println!("{}\t{}\t{}", r.kid, r.alg, state);
                }
            }
        }
    }
    Ok(())
}
