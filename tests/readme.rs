//! The README, executed: the `certbound` binary serves on the embedded default, and the README's
//! shell block (pki issue, client add, curl) and Python `requests` block get certificate-bound
//! tokens from it. Then the CLI manages the same database the running server uses.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Db;
use serde_json::Value;

on_both_databases!(readme_examples_work_against_certbound_serve);

/// A fenced code block of README.md with this info string, containing `needle`.
fn readme_block(lang: &str, needle: &str) -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let fence = format!("```{lang}\n");
    readme
        .split(&fence)
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap().to_string())
        .find(|block| block.contains(needle))
        .unwrap_or_else(|| panic!("README has a {lang} block with {needle:?}"))
}

fn certbound(dir: &Path, env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certbound"));
    cmd.current_dir(dir).env("CERTBOUND_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn run(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn last_json_line(output: &str) -> Value {
    let line = output
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON in {output}"));
    serde_json::from_str(line).unwrap()
}

fn mode(path: PathBuf) -> u32 {
    std::fs::metadata(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

async fn readme_examples_work_against_certbound_serve(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let mtls_port = common::free_port();
    let pg = match db {
        Db::Postgres => Some(common::create_pg_database().await),
        Db::Sqlite => None,
    };
    let mut env = vec![
        ("CERTBOUND_LISTEN", format!("127.0.0.1:{port}")),
        ("CERTBOUND_MTLS_LISTEN", format!("127.0.0.1:{mtls_port}")),
    ];
    if let Some((url, _)) = &pg {
        env.push(("CERTBOUND_DATABASE_URL", url.clone()));
    }

    // Debug-level JSON logs, kept to check that no secret ever reaches them.
    let log_path = dir.path().join("server.log");
    let mut serve = certbound(dir.path(), &env);
    serve
        .args(["serve", "--demo-bank"])
        .env("CERTBOUND_LOG", "debug")
        .env("CERTBOUND_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap());
    let mut server = common::KillOnDrop(serve.spawn().unwrap());
    let ca = dir.path().join("certbound-data/pki/ca.pem");
    let started = Instant::now();
    loop {
        let up = ca.exists()
            && Command::new("curl")
                .args([
                    "-sf",
                    "--cacert",
                    ca.to_str().unwrap(),
                    &format!("https://localhost:{port}/readyz"),
                ])
                .status()
                .unwrap()
                .success();
        if up {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not become ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The README's shell block, verbatim but for the port, with `certbound` on PATH.
    let shell = readme_block("sh", "curl")
        .replace("8443", &port.to_string())
        .replace("8444", &mtls_port.to_string());
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_certbound"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let mut sh = Command::new("bash");
    sh.args(["-euo", "pipefail", "-c", &shell])
        .current_dir(dir.path())
        .env("PATH", &path)
        .env("CERTBOUND_LOG", "warn");
    for (k, v) in &env {
        sh.env(k, v);
    }
    let from_curl = last_json_line(&run(sh));
    let tpp1 =
        certbound::pki::certs_from_pem(&std::fs::read(dir.path().join("certbound-data/pki/clients/tpp1.pem")).unwrap())
            .unwrap();
    let thumbprint = certbound::pki::Thumbprint::of_der(tpp1[0].as_ref()).to_base64url();
    let claims = common::jwt_payload(from_curl["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["x5t#S256"], thumbprint);
    assert_eq!(claims["scope"], "accounts");

    // The README's Python block.
    let python = readme_block("python", "response.json()")
        .replace("8443", &port.to_string())
        .replace("8444", &mtls_port.to_string());
    let mut py = Command::new("python3");
    py.args(["-c", &python]).current_dir(dir.path());
    let token = run(py);
    assert_eq!(common::jwt_payload(token.trim())["cnf"]["x5t#S256"], thumbprint);

    // The demo bank blocks: the three factors open it; the same token over tpp2's certificate is 401.
    let demo = readme_block("sh", "bank/v1/accounts")
        .replace("8443", &port.to_string())
        .replace("8444", &mtls_port.to_string());
    let mut sh = Command::new("bash");
    sh.args(["-euo", "pipefail", "-c", &demo])
        .current_dir(dir.path())
        .env("PATH", &path)
        .env("CERTBOUND_LOG", "warn");
    for (k, v) in &env {
        sh.env(k, v);
    }
    let output = run(sh);
    let accounts = last_json_line(&output);
    let refused = output.trim_end().lines().last().unwrap();
    assert_eq!(accounts["Data"]["Account"][0]["AccountId"], "22289", "{output}");
    assert_eq!(refused.trim(), "401", "{output}");
    let api_key: Value = serde_json::from_str(&run({
        let mut c = certbound(dir.path(), &env);
        c.args(["apikey", "create", "--client", "tpp1", "--json"]);
        c
    }))
    .unwrap();
    let python = readme_block("python", "bank/v1/accounts")
        .replace("8443", &port.to_string())
        .replace("8444", &mtls_port.to_string());
    let mut py = Command::new("python3");
    py.args(["-c", &python])
        .current_dir(dir.path())
        .env("API_KEY", api_key["api_key"].as_str().unwrap());
    assert!(run(py).contains("22289"));

    // The code flow blocks: PAR by the TPP, the browser part played by the test's browser
    // (alice signs in and approves), the code redeemed by the second block.
    let par = readme_block("sh", "/par")
        .replace("8443", &port.to_string())
        .replace("8444", &mtls_port.to_string());
    let mut sh = Command::new("bash");
    sh.args(["-euo", "pipefail", "-c", &format!("{par}echo \"VERIFIER=$VERIFIER\"\n")])
        .current_dir(dir.path())
        .env("PATH", &path)
        .env("CERTBOUND_LOG", "warn");
    for (k, v) in &env {
        sh.env(k, v);
    }
    let output = run(sh);
    let authorize_url = output
        .lines()
        .find(|l| l.contains("/authorize?"))
        .unwrap_or_else(|| panic!("no authorize link in {output}"))
        .trim()
        .to_string();
    let verifier = output
        .lines()
        .find_map(|l| l.strip_prefix("VERIFIER="))
        .unwrap()
        .to_string();
    let pki = certbound::pki::dev::PkiLayout::new(dir.path().join("certbound-data/pki"));
    let mut browser = common::flow::Browser::at(&pki, &format!("https://localhost:{port}"));
    let started = browser.get(&authorize_url).await;
    assert_eq!(started.status, 303, "{started:?}");
    let login = browser.get(started.location.as_deref().unwrap()).await;
    let signed_in = browser.sign_in(&login, "alice", "wonderland").await;
    let consent = browser.get(signed_in.location.as_deref().unwrap()).await;
    let back = browser.decide(&consent, "approve", &["22289"]).await;
    assert!(back
        .location
        .as_deref()
        .unwrap()
        .starts_with("https://tpp.example/callback?"));
    assert_eq!(back.redirect_param("state").as_deref(), Some("demo"));
    let code = back.redirect_param("code").unwrap();
    let redeem = readme_block("sh", "paste-the-code-here")
        .replace("paste-the-code-here", &code)
        .replace("8444", &mtls_port.to_string());
    let mut sh = Command::new("bash");
    sh.args(["-euo", "pipefail", "-c", &redeem])
        .current_dir(dir.path())
        .env("PKI", "certbound-data/pki")
        .env("VERIFIER", &verifier);
    let tokens = last_json_line(&run(sh));
    let claims = common::jwt_payload(tokens["access_token"].as_str().expect("tokens for alice"));
    assert!(claims["sub"].as_str().unwrap().starts_with("cust_"), "{claims}");
    assert_eq!(claims["authorization_details"][0]["accounts"][0], "22289");
    assert!(
        tokens["refresh_token"].is_string() && tokens["id_token"].is_string(),
        "{tokens}"
    );

    // The CLI acts on the same database as the running server.
    let shown: Value = serde_json::from_str(&run({
        let mut c = certbound(dir.path(), &env);
        c.args(["client", "show", "tpp1", "--json"]);
        c
    }))
    .unwrap();
    assert_eq!(shown["tls_client_auth_subject_dn"], "CN=tpp1");
    assert_eq!(shown["token_endpoint_auth_method"], "tls_client_auth");
    let inspected: Value = serde_json::from_str(&run({
        let mut c = certbound(dir.path(), &env);
        c.args(["pki", "inspect", "--cert", "certbound-data/pki/clients/tpp1.pem"]);
        c
    }))
    .unwrap();
    assert_eq!(inspected["x5t#S256"], thumbprint);

    let curl_token = || {
        let out = Command::new("curl")
            .current_dir(dir.path())
            .args([
                "-s",
                "--cacert",
                "certbound-data/pki/ca.pem",
                "--cert",
                "certbound-data/pki/clients/tpp1.pem",
            ])
            .args([
                "--key",
                "certbound-data/pki/clients/tpp1.key",
                "-d",
                "grant_type=client_credentials",
                "-d",
                "client_id=tpp1",
            ])
            .arg(format!("https://localhost:{mtls_port}/token"))
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let rotated = run({
        let mut c = certbound(dir.path(), &env);
        c.args(["keys", "rotate"]);
        c
    });
    let new_kid = rotated
        .split_whitespace()
        .nth(4)
        .unwrap()
        .trim_end_matches(';')
        .to_string();
    let started = Instant::now();
    loop {
        let header = jsonwebtoken::decode_header(curl_token()["access_token"].as_str().unwrap()).unwrap();
        if header.kid.as_deref() == Some(new_kid.as_str()) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "server did not pick up the rotated key {new_kid}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    run({
        let mut c = certbound(dir.path(), &env);
        c.args(["client", "disable", "tpp1"]);
        c
    });
    let started = Instant::now();
    while curl_token()["error"] != "invalid_client" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "disabled client still gets tokens"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Private key material is readable by its owner only.
    let data = dir.path().join("certbound-data");
    for key in ["kek", "pki/ca.key", "pki/server.key", "pki/clients/tpp1.key"] {
        assert_eq!(mode(data.join(key)), 0o600, "{key}");
    }

    // SIGTERM: graceful shutdown, exit status 0.
    let pid = server.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(25), "server ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let mut stdout = String::new();
    std::io::Read::read_to_string(server.0.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    assert!(
        stdout.contains("curl --cacert"),
        "serve prints how to get a token: {stdout}"
    );

    // Logs are JSON lines, and hold no token, API key or private key.
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.lines().count() > 3, "{log}");
    for line in log.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    let tpp1_key = std::fs::read_to_string(dir.path().join("certbound-data/pki/clients/tpp1.key")).unwrap();
    let key_body = tpp1_key.lines().nth(1).unwrap();
    let kek = std::fs::read_to_string(dir.path().join("certbound-data/kek")).unwrap();
    let api_key_secret = &api_key["api_key"].as_str().unwrap()[21..];
    let access_token = from_curl["access_token"].as_str().unwrap();
    let signature = access_token.rsplit('.').next().unwrap();
    for (what, secret) in [
        ("access token", signature),
        ("API key", api_key_secret),
        ("client private key", key_body),
        ("key-encryption key", kek.trim()),
    ] {
        assert!(!log.contains(secret), "the {what} appears in the logs");
    }
    if let Some((_, name)) = &pg {
        common::drop_pg_database(name).await;
    }
}
