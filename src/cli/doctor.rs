//! `certbound doctor`: checks a running deployment refuses forged certificate headers.

use std::path::Path;

use super::CliResult;

/// Sends certificate headers of every supported proxy format, carrying a certificate this
/// command just made up, without a TLS client certificate. Each must be refused.
pub(super) async fn run(url: &str, cacert: &Path) -> CliResult {
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
