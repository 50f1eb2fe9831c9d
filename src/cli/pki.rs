//! `certbound pki`: the development PKI.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use super::{read_pem_certs, CliResult};
use crate::pki::dev::PkiLayout;
use crate::pki::SpkiPin;

#[derive(Subcommand, Debug)]
pub(super) enum PkiCommand {
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

pub(super) fn run(cmd: PkiCommand) -> CliResult {
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
