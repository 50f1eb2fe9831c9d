//! Attacker-controlled values cannot forge log lines: the binary, logging in the human
//! format, is sent a certificate whose subject and a `client_id` that each hold a newline and a
//! fake log line, and the log keeps one line per event with the newline escaped.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use certbound::pki::dev::{self_signed, CertSpec, NameAttribute, PkiLayout};

const FORGED: &str = "2026-12-01T00:00:00.000000Z  INFO certbound: admin signed in";

#[tokio::test]
async fn newlines_in_logged_values_do_not_start_lines() {
    certbound::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (port, mtls_port) = (common::free_port(), common::free_port());
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\nmtls_listen = \"127.0.0.1:{mtls_port}\"\ndata_dir = \"state\"\nlog_format = \"human\"\n"
    );
    std::fs::write(d.join("certbound.toml"), config).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_certbound"))
        .current_dir(d)
        .env("CERTBOUND_LOG", "info")
        .env("NO_COLOR", "1")
        .args(["--config", "certbound.toml", "serve"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(d.join("log")).unwrap())
        .spawn()
        .unwrap();
    let _server = common::KillOnDrop(child);
    let pki = PkiLayout::new(d.join("state/pki"));
    let started = Instant::now();
    while !pki.exists() || std::net::TcpStream::connect(("127.0.0.1", mtls_port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }

    let mut spec = CertSpec::client("x", 1);
    spec.subject = vec![(NameAttribute::CommonName, format!("evil\n{FORGED}"))];
    let evil = self_signed(&spec).unwrap();
    let addr = format!("127.0.0.1:{mtls_port}").parse().unwrap();
    let http = common::http_client(&pki, addr, Some((common::chain_of(&evil), common::key_of(&evil))));
    let url = format!("https://localhost:{mtls_port}/token");
    for client_id in [format!("nobody\n{FORGED}"), "nobody".to_string()] {
        let (status, _) = common::post_form(
            &http,
            &url,
            &[("grant_type", "client_credentials"), ("client_id", client_id.as_str())],
        )
        .await;
        assert_eq!(status, 401);
    }

    let started = Instant::now();
    let log = loop {
        let log = std::fs::read_to_string(d.join("log")).unwrap();
        if log.matches("client authentication failed").count() >= 2 || started.elapsed() > Duration::from_secs(5) {
            break log;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(log.matches("client authentication failed").count() >= 2, "{log}");
    assert!(
        !log.lines()
            .any(|line| line.starts_with(FORGED) || line.contains(&format!("\"{FORGED}"))),
        "a forged line:\n{log}"
    );
    // The subject is written as RFC 4514 writes a newline (`\0a`); the client_id, by the log.
    assert!(
        log.contains(&format!("CN=evil\\0a{FORGED}")),
        "the subject, escaped:\n{log}"
    );
    assert!(
        log.contains(&format!("nobody\\n{FORGED}")),
        "the client_id, escaped:\n{log}"
    );
}
