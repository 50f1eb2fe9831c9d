//! Interop: panva's openid-client (a certified FAPI 2.0 client library, on Node) is the TPP, over
//! real TLS, through the whole code flow — discovery, PAR, the customer's sign-in and consent,
//! the code exchange with ID token validation, userinfo and a refresh — in private_key_jwt with
//! DPoP binding, and in mTLS with mTLS binding (through the `mtls_endpoint_aliases`). The script
//! is tests/interop/openid-client/tpp.mjs; scripts/test.sh installs its packages.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use common::flow::{self, Browser};
use common::tpp::register_private_key_jwt;
use common::{jwt_payload, x5t_s256, Db, TestEnv};
use serde_json::Value;

on_both_databases!(private_key_jwt_with_dpop, mtls_with_mtls_binding);

/// The longest the script may take for one step before the test fails instead of hanging.
const STEP: Duration = Duration::from_secs(30);

/// The running script (killed when dropped) and its two pipes.
struct Node {
    _child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Node {
    fn start(env: &TestEnv, mode: &str, client_id: &str, identity: Option<(&Path, &Path)>) -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/openid-client");
        assert!(
            dir.join("node_modules/openid-client").exists(),
            "run scripts/test.sh, which installs the interop packages (npm ci)"
        );
        let mut command = Command::new("node");
        command
            .arg("tpp.mjs")
            .current_dir(&dir)
            .env("ISSUER", env.issuer())
            .env("CA_FILE", env.pki.ca_cert())
            .env("CLIENT_ID", client_id)
            .env("MODE", mode)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some((cert, key)) = identity {
            command.env("CERT_FILE", cert).env("KEY_FILE", key);
        }
        let mut child = command.spawn().expect("node runs");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            _child: child,
            stdin,
            stdout,
        }
    }

    /// The next line the script sends, parsed.
    async fn receive(&mut self) -> Value {
        let line = tokio::time::timeout(STEP, self.stdout.next_line())
            .await
            .expect("the script answers within the step's time")
            .unwrap()
            .unwrap_or_default();
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("the script said {line:?} (its errors are above)"))
    }

    async fn send(&mut self, line: &str) {
        self.stdin.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
    }
}

/// Registration (once the script has sent its keys), the browser in the middle, and the
/// script's result.
async fn run(env: &TestEnv, node: &mut Node, register: impl std::future::Future<Output = ()>) -> Value {
    register.await;
    node.send("registered").await;
    let pushed = node.receive().await;
    let url = pushed["authorization_url"].as_str().expect("an authorization URL");
    let mut browser = Browser::new(env);
    let started = browser.get(url).await;
    assert_eq!(started.status, 303, "{started:?}");
    let login = browser.get(started.location.as_deref().unwrap()).await;
    let signed_in = browser.sign_in(&login, flow::ALICE.0, flow::ALICE.1).await;
    let consent = browser.get(signed_in.location.as_deref().unwrap()).await;
    let back = browser.decide(&consent, "approve", &["22289"]).await;
    node.send(back.location.as_deref().expect("a redirect to the client"))
        .await;
    node.receive().await["result"].clone()
}

async fn private_key_jwt_with_dpop(db: Db) {
    let env = TestEnv::start(db).await;
    let mut node = Node::start(&env, "pkjwt-dpop", "oc-pk", None);
    let jwks = node.receive().await["jwks"].clone();
    let result = run(&env, &mut node, async {
        register_private_key_jwt(&env, "oc-pk", Some(jwks), None).await;
    })
    .await;
    let jkt = common::dpop::jkt_of(&result["dpop_jwk"]);
    for (kind, token_type, token) in [
        ("code", &result["token_type"], &result["access_token"]),
        (
            "refresh",
            &result["refreshed_token_type"],
            &result["refreshed_access_token"],
        ),
    ] {
        assert_eq!(
            token_type.as_str().map(str::to_ascii_lowercase).as_deref(),
            Some("dpop"),
            "{kind}: {result}"
        );
        let claims = jwt_payload(token.as_str().unwrap());
        assert_eq!(claims["cnf"]["jkt"], jkt, "{kind}");
        assert_eq!(claims["client_id"], "oc-pk");
    }
    assert_eq!(result["userinfo_sub"], result["id_token_sub"]);
    env.finish().await;
}

async fn mtls_with_mtls_binding(db: Db) {
    let env = TestEnv::start(db).await;
    let cert = env.issue("oc-mtls");
    let (cert_file, key_file) = (env.dir.path().join("oc.pem"), env.dir.path().join("oc.key"));
    std::fs::write(&cert_file, &cert.cert_pem).unwrap();
    std::fs::write(&key_file, &cert.key_pem).unwrap();
    let mut node = Node::start(&env, "mtls-mtls", "oc-mtls", Some((&cert_file, &key_file)));
    assert_eq!(node.receive().await["jwks"], Value::Null);
    let result = run(&env, &mut node, async {
        flow::register_tpp(&env, "oc-mtls", "openid accounts").await;
    })
    .await;
    for (kind, token_type, token) in [
        ("code", &result["token_type"], &result["access_token"]),
        (
            "refresh",
            &result["refreshed_token_type"],
            &result["refreshed_access_token"],
        ),
    ] {
        assert_eq!(
            token_type.as_str().map(str::to_ascii_lowercase).as_deref(),
            Some("bearer"),
            "{kind}: {result}"
        );
        let claims = jwt_payload(token.as_str().unwrap());
        assert_eq!(claims["cnf"]["x5t#S256"], x5t_s256(&cert), "{kind}");
    }
    assert_eq!(result["userinfo_sub"], result["id_token_sub"]);
    env.finish().await;
}
