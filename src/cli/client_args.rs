//! Options `client add` and `client update` share: the certificate name to match and the pins.

use clap::Args;

use super::pin_from_arg;
use crate::domain::{IssuerSerial, SubjectMatcher};
use crate::pki::{SpkiPin, Thumbprint};

/// At most one: the name a `tls_client_auth` certificate must carry (RFC 8705 §2.1.2).
#[derive(Args, Debug, Default)]
pub(super) struct SubjectArgs {
    /// The certificate's subject DN (RFC 4514 form, e.g. "CN=tpp,O=Bank,C=GB").
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
}

impl SubjectArgs {
    /// The matcher given, if any.
    pub(super) fn matcher(&self) -> Result<Option<SubjectMatcher>, String> {
        let subjects = [
            ("tls_client_auth_subject_dn", &self.subject_dn),
            ("tls_client_auth_san_dns", &self.san_dns),
            ("tls_client_auth_san_uri", &self.san_uri),
            ("tls_client_auth_san_ip", &self.san_ip),
            ("tls_client_auth_san_email", &self.san_email),
        ];
        let given: Vec<_> = subjects
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (*k, v)))
            .collect();
        if given.len() > 1 {
            return Err("give exactly one of --subject-dn, --san-dns, --san-uri, --san-ip, --san-email".into());
        }
        given.first().map(|(k, v)| SubjectMatcher::from_parts(k, v)).transpose()
    }
}

/// Pins that narrow which certificates a client may use.
#[derive(Args, Debug, Default)]
pub(super) struct PinArgs {
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
}

/// Pins as parsed.
pub(super) struct Pins {
    pub ca: Vec<SpkiPin>,
    pub cert: Vec<Thumbprint>,
    pub issuer_serial: Vec<IssuerSerial>,
}

impl PinArgs {
    pub(super) fn is_empty(&self) -> bool {
        self.ca_pins.is_empty() && self.cert_pins.is_empty() && self.issuer_serials.is_empty()
    }

    pub(super) fn parse(&self) -> Result<Pins, String> {
        Ok(Pins {
            ca: self
                .ca_pins
                .iter()
                .map(|p| pin_from_arg(p, SpkiPin::from_base64url, |der| SpkiPin::of_certificate(der).ok()))
                .collect::<Result<_, _>>()?,
            cert: self
                .cert_pins
                .iter()
                .map(|p| pin_from_arg(p, Thumbprint::from_base64url, |der| Some(Thumbprint::of_der(der))))
                .collect::<Result<_, _>>()?,
            issuer_serial: self
                .issuer_serials
                .iter()
                .map(|s| IssuerSerial::parse(s))
                .collect::<Result<_, _>>()?,
        })
    }
}
