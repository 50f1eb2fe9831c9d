//! Several certbound processes on one PostgreSQL: every single-use artefact is consumed
//! atomically in the database, so one code redeemed concurrently through three processes gives
//! exactly one token, and a process killed with SIGKILL in the middle of a flow loses nothing
//! another process cannot finish.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use certbound::domain::{GrantType, SubjectMatcher};
use certbound::pki::dev::{CertSpec, PkiLayout};
use certbound::pki::DistinguishedName;
use certbound::store::Store;
use common::flow::{self, Browser, ALICE, REDIRECT_URI};
use common::KillOnDrop;
use serde_json::Value;

/// One `certbound serve` process: its front and mTLS listeners.
struct Node {
    process: KillOnDrop,
    front: String,
    mtls: String,
}

fn spawn_node(dir: &Path, database_url: &str, issuer: &str, kek: &str, front: u16) -> Node {
    let mtls = common::free_port();
    let process = Command::new(env!("CARGO_BIN_EXE_certbound"))
        .arg("serve")
        .current_dir(dir)
        .env("CERTBOUND_LOG", "warn")
        .env("CERTBOUND_LISTEN", format!("127.0.0.1:{front}"))
        .env("CERTBOUND_MTLS_LISTEN", format!("127.0.0.1:{mtls}"))
        .env("CERTBOUND_ISSUER", issuer)
        .env("CERTBOUND_DATABASE_URL", database_url)
        .env("CERTBOUND_KEK", kek)
        .env("CERTBOUND_RELOAD_INTERVAL_MS", "100")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let node = Node {
        process: KillOnDrop(process),
        front: format!("https://localhost:{front}"),
        mtls: format!("https://localhost:{mtls}"),
    };
    let ca = dir.join("certbound-data/pki/ca.pem");
    let started = Instant::now();
    loop {
        let ready = Command::new("curl")
            .args(["-sf", "--cacert"])
            .arg(&ca)
            .arg(format!("{}/readyz", node.front))
            .output()
            .is_ok_and(|o| o.status.success());
        if ready {
            return node;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "node did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Node {
    /// SIGKILL: no shutdown, no flush, nothing.
    fn kill(mut self) {
        let _ = self.process.0.kill();
        let _ = self.process.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_one_postgresql() {
    certbound::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let pki = PkiLayout::new(dir.path().join("certbound-data/pki"));
    pki.init().unwrap();
    let (database_url, database) = common::create_pg_database().await;
    let kek = certbound::jose::KeyEncryptionKey::generate_base64();
    let first_front = common::free_port();
    let issuer = format!("https://localhost:{first_front}");
    // One after the other: the first creates the schema, the signing key and the demo customers.
    let a = spawn_node(dir.path(), &database_url, &issuer, &kek, first_front);
    let b = spawn_node(dir.path(), &database_url, &issuer, &kek, common::free_port());
    let c = spawn_node(dir.path(), &database_url, &issuer, &kek, common::free_port());

    let store = Store::connect(&database_url).await.unwrap();
    let mut client = common::pki_client(
        "tpp1",
        SubjectMatcher::Dn(DistinguishedName::parse("CN=tpp1").unwrap()),
        "openid accounts",
    );
    client.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
    client.redirect_uris = vec![REDIRECT_URI.into()];
    store.insert_client(&client).await.unwrap();
    let cert = pki.authority().unwrap().issue(&CertSpec::client("tpp1", 30)).unwrap();
    let tpp = common::http_client(
        &pki,
        ([127, 0, 0, 1], 0).into(),
        Some((common::chain_of(&cert), common::key_of(&cert))),
    );
    let par = |node: &Node| {
        let (tpp, url) = (tpp.clone(), format!("{}/par", node.mtls));
        async move {
            let (verifier, challenge) = flow::pkce();
            let (status, body) = common::post_form(
                &tpp,
                &url,
                &[
                    ("client_id", "tpp1"),
                    ("response_type", "code"),
                    ("redirect_uri", REDIRECT_URI),
                    ("scope", "openid accounts"),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                ],
            )
            .await;
            assert_eq!(status, 201, "{body}");
            (body["request_uri"].as_str().unwrap().to_string(), verifier)
        }
    };
    let redeem = |node: &Node, code: String, verifier: String| {
        let (tpp, url) = (tpp.clone(), format!("{}/token", node.mtls));
        async move {
            common::post_form(
                &tpp,
                &url,
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", "tpp1"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT_URI),
                    ("code_verifier", &verifier),
                ],
            )
            .await
        }
    };

    // One code, redeemed at the same moment through the three processes: exactly one token.
    let (request_uri, verifier) = par(&a).await;
    let mut browser = Browser::at(&pki, &b.front);
    let login = browser.authorize("tpp1", &request_uri).await;
    let signed_in = browser.sign_in(&login, ALICE.0, ALICE.1).await;
    let consent = browser.get(signed_in.location.as_deref().unwrap()).await;
    let back = browser.decide(&consent, "approve", &["22289"]).await;
    let code = back.redirect_param("code").expect("a code");
    let (ra, rb, rc) = tokio::join!(
        redeem(&a, code.clone(), verifier.clone()),
        redeem(&b, code.clone(), verifier.clone()),
        redeem(&c, code.clone(), verifier.clone()),
    );
    let results = [ra, rb, rc];
    let winners: Vec<&(u16, Value)> = results.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results.iter().all(|(s, b)| *s == 200 || b["error"] == "invalid_grant"),
        "{results:?}"
    );

    // A flow whose processes die under it: PAR at A, which is killed; the browser arrives and
    // signs in at B, which is killed; consent and the token at C.
    let (request_uri, verifier) = par(&a).await;
    a.kill();
    let mut browser = Browser::at(&pki, &b.front);
    let login = browser.authorize("tpp1", &request_uri).await;
    let signed_in = browser.sign_in(&login, ALICE.0, ALICE.1).await;
    assert_eq!(signed_in.status, 303, "{signed_in:?}");
    let consent_path = signed_in.location.clone().unwrap();
    b.kill();
    browser.move_to(&c.front);
    let consent = browser.get(&consent_path).await;
    assert_eq!(consent.status, 200, "{consent:?}");
    let back = browser.decide(&consent, "approve", &["22289"]).await;
    let code = back.redirect_param("code").expect("a code from the third process");
    let (status, tokens) = redeem(&c, code, verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        common::jwt_payload(tokens["access_token"].as_str().unwrap())["iss"],
        issuer
    );

    c.kill();
    store.close().await;
    common::drop_pg_database(&database).await;
}
