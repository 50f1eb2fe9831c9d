//! Hostile client certificates chained to the trusted CA (RFC 5280 §4.1.2.2, §4.2.1.3,
//! §4.2.1.9, §4.2.1.10, §6.1): each is refused by chain validation with its own named check,
//! and refused at the token endpoint over real mTLS, whether presented in the handshake or
//! forwarded by a trusted proxy.

mod common;

use certbound::pki::dev::Authority;
use certbound::pki::{ClientCertificate, TrustStore};
use certbound::tls::forwarded::{encode, ForwardFormat};
use common::hostile::{self, Ca, Hostile};
use common::{Db, TestEnv};

fn trust_store(root: &Authority) -> TrustStore {
    let mut trust = TrustStore::default();
    let der = certbound::pki::certs_from_pem(root.cert_pem().as_bytes())
        .unwrap()
        .remove(0);
    trust.add_der(&der).unwrap();
    trust
}

/// What the trust store answers, by name; a chain that does not even parse as a client
/// certificate is "Unparsable".
fn verdict(trust: &TrustStore, hostile: &Hostile) -> Result<(), String> {
    let cert = ClientCertificate::from_chain(hostile.chain.clone()).map_err(|_| "Unparsable".to_string())?;
    trust
        .verify(&cert, certbound::now(), &[])
        .map_err(|e| format!("{e:?}").split('(').next().unwrap().to_string())
}

#[test]
fn chain_validation_names_each_defect() {
    certbound::install_crypto_provider();
    let authority = Authority::generate(vec![(
        certbound::pki::dev::NameAttribute::CommonName,
        "corpus root".into(),
    )])
    .unwrap();
    let root = Ca::root(authority.cert_pem(), &authority.key_pem());
    let trust = trust_store(&authority);
    assert_eq!(verdict(&trust, &hostile::control(&root)), Ok(()));
    let corpus = hostile::corpus(&root);
    assert!(corpus.len() >= 17);
    let mut wrong = Vec::new();
    for hostile in &corpus {
        let got = verdict(&trust, hostile);
        let expected = hostile.chain_error.map(String::from).ok_or(());
        if got.as_ref().err() != expected.as_ref().ok() {
            wrong.push(format!(
                "{}: expected {:?}, got {got:?}",
                hostile.name, hostile.chain_error
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// How the server answered one presentation.
#[derive(Debug, PartialEq)]
enum Outcome {
    Token,
    Refused(u16, String),
    HandshakeFailed,
}

async fn present(http: &reqwest::Client, env: &TestEnv, headers: &[(&str, String)]) -> Outcome {
    let mut request = http
        .post(env.url("/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", "hostile")]);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    match request.send().await {
        Err(_) => Outcome::HandshakeFailed,
        Ok(response) => {
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            match body["access_token"].as_str() {
                Some(_) => Outcome::Token,
                None => Outcome::Refused(status, body["error"].as_str().unwrap_or_default().into()),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_certificates_get_no_token() {
    let (env, proxy) = TestEnv::start_behind_rfc9440_proxy(Db::Sqlite).await;
    env.register_pki_client("hostile", hostile::SUBJECT, "accounts").await;
    let proxy = env.http(Some(&proxy));
    let root = Ca::root(env.ca.cert_pem(), &env.ca.key_pem());

    let control = hostile::control(&root);
    let direct = common::http_client(
        &env.pki,
        env.addr(),
        Some((control.chain.clone(), control.key.unwrap())),
    );
    assert_eq!(
        present(&direct, &env, &[]).await,
        Outcome::Token,
        "control, in the handshake"
    );
    let forwarded = encode(ForwardFormat::Rfc9440, &control.chain);
    assert_eq!(
        present(&proxy, &env, &forwarded).await,
        Outcome::Token,
        "control, forwarded"
    );

    let invalid_client = Outcome::Refused(401, "invalid_client".into());
    let mut wrong = Vec::new();
    for hostile in hostile::corpus(&root) {
        if let Some(key) = hostile.key {
            let direct = common::http_client_presenting(&env.pki, env.addr(), hostile.chain.clone(), key);
            let outcome = present(&direct, &env, &[]).await;
            if outcome != invalid_client && outcome != Outcome::HandshakeFailed {
                wrong.push(format!("{} in the handshake: {outcome:?}", hostile.name));
            }
        }
        let forwarded = encode(ForwardFormat::Rfc9440, &hostile.chain);
        let outcome = present(&proxy, &env, &forwarded).await;
        if outcome != invalid_client && outcome != Outcome::Refused(400, "invalid_request".into()) {
            wrong.push(format!("{} forwarded: {outcome:?}", hostile.name));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    env.finish().await;
}
