//! The `certbound` command line: a thin layer over the library, one file per command group.

mod admins;
mod apikeys;
mod audit;
mod changes;
mod client_args;
mod client_update;
mod clients;
mod doctor;
mod grants;
mod keys;
mod logging;
mod pki;
mod users;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::pki::certs_from_pem;
use crate::pki::dev::PkiLayout;
use crate::store::Store;

use admins::AdminCommand;
use apikeys::ApikeyCommand;
use audit::AuditCommand;
use changes::Changes;
use clients::ClientCommand;
use grants::GrantCommand;
use keys::KeysCommand;
use pki::PkiCommand;
use users::UserCommand;

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
    database_url: Option<crate::config::DatabaseUrl>,
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
    /// Bank customers, who sign in and consent in their browser.
    #[command(subcommand)]
    User(UserCommand),
    /// What customers granted clients.
    #[command(subcommand)]
    Grant(GrantCommand),
    /// The audit trail: client authentication attempts, tokens, administrative changes.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Administrators of the admin console.
    #[command(subcommand)]
    Admin(AdminCommand),
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
    logging::init(settings.log_format);
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

type CliResult = Result<(), Box<dyn std::error::Error>>;

async fn run(command: Command, settings: Settings) -> CliResult {
    crate::install_crypto_provider();
    match command {
        Command::Serve { demo_bank } => {
            let mut settings = settings;
            settings.demo_bank |= demo_bank;
            serve(settings).await
        }
        Command::Pki(cmd) => pki::run(cmd),
        Command::Audit(cmd) => audit::run(cmd, &Store::connect(&settings.database_url).await?).await,
        // Commands that change something record it in the audit trail.
        Command::Client(cmd) => {
            let (store, changes) = open(&settings).await?;
            clients::run(*cmd, &store, &changes).await?;
            changes.finish().await
        }
        Command::Keys(cmd) => {
            let (store, changes) = open(&settings).await?;
            keys::run(cmd, &settings, &store, &changes).await?;
            changes.finish().await
        }
        Command::Apikey(cmd) => {
            let (store, changes) = open(&settings).await?;
            apikeys::run(cmd, &store, &changes).await?;
            changes.finish().await
        }
        Command::User(cmd) => {
            let (store, changes) = open(&settings).await?;
            users::run(cmd, &store, &changes).await?;
            changes.finish().await
        }
        Command::Grant(cmd) => {
            let (store, changes) = open(&settings).await?;
            grants::run(cmd, &store, &changes).await?;
            changes.finish().await
        }
        Command::Admin(cmd) => {
            let (store, changes) = open(&settings).await?;
            admins::run(cmd, &store, &changes).await?;
            changes.finish().await
        }
        Command::Doctor { url, cacert } => {
            let cacert = cacert.unwrap_or_else(|| PkiLayout::new(settings.data_dir.join("pki")).ca_cert());
            doctor::run(&url, &cacert).await
        }
    }
}

/// The database, and where the command's changes go on their way to the audit trail.
async fn open(settings: &Settings) -> Result<(Store, Changes), Box<dyn std::error::Error>> {
    let store = Store::connect(&settings.database_url).await?;
    let changes = Changes::start(&store, settings);
    Ok((store, changes))
}

async fn serve(settings: Settings) -> CliResult {
    let pki_dir = settings.dev_pki_dir.clone();
    let demo_bank = settings.demo_bank;
    let server = crate::server::start(settings).await?;
    let front = format!("https://localhost:{}", server.local_addr.port());
    let base = server
        .mtls_addr
        .map_or(front.clone(), |a| format!("https://localhost:{}", a.port()));
    println!("certbound is serving {front} (issuer {})", server.issuer());
    if base != front {
        println!("clients authenticate with mutual TLS at {base}");
    }
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
