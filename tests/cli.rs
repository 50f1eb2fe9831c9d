//! The CLI: bad registrations are refused with a clear message and write nothing; API keys;
//! the config file.

mod common;

use common::cli::{certbound, certbound_with_stdin};

use std::path::Path;
use std::process::Command;

/// Registers client `x` (subject CN=x).
const ADD_X: [&str; 10] = [
    "client",
    "add",
    "--name",
    "x",
    "--auth",
    "tls_client_auth",
    "--subject-dn",
    "CN=x",
    "--client-id",
    "x",
];

#[test]
fn bad_registrations_are_refused_without_a_partial_write() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(certbound(d, &["pki", "init", "--dir", "pki"]).0);
    std::fs::write(
        d.join("garbage.pem"),
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    std::fs::write(d.join("empty.pem"), "").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--auth",
                "tls_client_auth",
                "--subject-dn",
                "CN=a",
                "--san-dns",
                "a.example",
            ],
            "exactly one",
        ),
        (&["--auth", "tls_client_auth"], "exactly one subject"),
        (
            &["--auth", "tls_client_auth", "--subject-dn", "CN"],
            "invalid distinguished name",
        ),
        (
            &["--auth", "tls_client_auth", "--san-ip", "not-an-ip"],
            "not an IP address",
        ),
        (
            &["--auth", "self_signed_tls_client_auth", "--cert", "garbage.pem"],
            "garbage.pem: ",
        ),
        (
            &["--auth", "self_signed_tls_client_auth", "--cert", "empty.pem"],
            "empty.pem: no PEM certificate",
        ),
        (&["--auth", "self_signed_tls_client_auth"], "at least one certificate"),
        (
            &["--auth", "client_secret_basic", "--subject-dn", "CN=a"],
            "unsupported auth method",
        ),
        (
            &[
                "--auth",
                "tls_client_auth",
                "--subject-dn",
                "CN=a",
                "--grant",
                "password",
            ],
            "unsupported grant type",
        ),
        (
            &["--auth", "tls_client_auth", "--subject-dn", "CN=a", "--scope", "a\"b"],
            "invalid scope",
        ),
        (
            &[
                "--auth",
                "tls_client_auth",
                "--subject-dn",
                "CN=a",
                "--grant",
                "authorization_code",
            ],
            "needs at least one redirect URI",
        ),
        (
            &[
                "--auth",
                "tls_client_auth",
                "--subject-dn",
                "CN=a",
                "--grant",
                "authorization_code",
                "--redirect-uri",
                "http://tpp.example/cb",
            ],
            "invalid redirect URI",
        ),
        (
            &[
                "--auth",
                "tls_client_auth",
                "--subject-dn",
                "CN=a",
                "--grant",
                "refresh_token",
            ],
            "goes with authorization_code",
        ),
        (
            &[
                "--auth",
                "tls_client_auth",
                "--subject-dn",
                "CN=a",
                "--ca-pin",
                "nonsense",
            ],
            "neither a base64url",
        ),
        (
            &[
                "--auth",
                "tls_client_auth",
                "--subject-dn",
                "CN=a",
                "--cert-pin",
                "garbage.pem",
            ],
            "neither a base64url",
        ),
        (
            &[
                "--auth",
                "tls_client_auth",
                "--subject-dn",
                "CN=a",
                "--cert-issuer-serial",
                "zz:CN=ca",
            ],
            "serial must be hex",
        ),
        (
            &[
                "--auth",
                "tls_client_auth",
                "--subject-dn",
                "CN=a",
                "--client-id",
                "has space",
            ],
            "client_id",
        ),
    ];
    for (extra, message) in cases {
        let mut args = vec!["client", "add", "--name", "x"];
        args.extend_from_slice(extra);
        let (ok, text) = certbound(d, &args);
        assert!(!ok, "{args:?} was accepted");
        assert!(text.contains(message), "{args:?}: expected {message:?} in {text}");
    }
    let (ok, list) = certbound(d, &["client", "list", "--json"]);
    assert!(ok);
    assert_eq!(list.trim(), "[]", "nothing was written");

    // A client for the code flow.
    let (ok, text) = certbound(
        d,
        &[
            "client",
            "add",
            "--name",
            "flow",
            "--client-id",
            "flow",
            "--auth",
            "tls_client_auth",
            "--subject-dn",
            "CN=flow",
            "--grant",
            "client_credentials",
            "--grant",
            "authorization_code",
            "--grant",
            "refresh_token",
            "--redirect-uri",
            "https://tpp.example/cb",
            "--redirect-uri",
            "https://tpp.example/cb2",
            "--json",
        ],
    );
    assert!(ok, "{text}");
    let added: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        added["grant_types"],
        serde_json::json!(["client_credentials", "authorization_code", "refresh_token"])
    );
    assert_eq!(
        added["redirect_uris"],
        serde_json::json!(["https://tpp.example/cb", "https://tpp.example/cb2"])
    );

    // A private_key_jwt client with its keys in a file, or at a jwks_uri; not without keys, not
    // with a private key in the JWKS, not with a plain-http jwks_uri.
    let key = certbound::jose::SigningKey::generate(certbound::jose::SigningAlg::Es256)
        .unwrap()
        .0;
    std::fs::write(
        d.join("jwks.json"),
        serde_json::json!({"keys": [key.public_jwk()]}).to_string(),
    )
    .unwrap();
    let mut private = key.public_jwk().clone();
    private["d"] = "c2VjcmV0".into();
    std::fs::write(
        d.join("private.json"),
        serde_json::json!({"keys": [private]}).to_string(),
    )
    .unwrap();
    let pk = |extra: &[&str]| {
        let mut args = vec!["client", "add", "--name", "pk", "--auth", "private_key_jwt", "--json"];
        args.extend_from_slice(extra);
        certbound(d, &args)
    };
    let (ok, text) = pk(&["--client-id", "pk1", "--jwks", "jwks.json"]);
    assert!(ok, "{text}");
    let added: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(added["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(added["jwks"]["keys"][0]["kid"], key.kid());
    let (ok, text) = pk(&[
        "--client-id",
        "pk2",
        "--jwks-uri",
        "https://tpp.example/jwks.json",
        "--dpop-bound",
    ]);
    assert!(ok, "{text}");
    let added: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(added["jwks_uri"], "https://tpp.example/jwks.json");
    assert_eq!(added["dpop_bound_access_tokens"], true);
    // A tls_client_auth client registers a JWKS for its request objects too (RFC 9101).
    let (ok, text) = certbound(
        d,
        &[
            "client",
            "add",
            "--name",
            "signer",
            "--auth",
            "tls_client_auth",
            "--client-id",
            "signer",
            "--subject-dn",
            "CN=signer",
            "--jwks",
            "jwks.json",
            "--require-signed-request-object",
            "--authorization-details-type",
            "account_access_consent",
            "--authorization-details-type",
            "payment_initiation",
            "--json",
        ],
    );
    assert!(ok, "{text}");
    let added: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(added["token_endpoint_auth_method"], "tls_client_auth");
    assert_eq!(added["jwks"]["keys"][0]["kid"], key.kid());
    assert_eq!(added["require_signed_request_object"], true);
    assert_eq!(
        added["authorization_details_types"],
        serde_json::json!(["account_access_consent", "payment_initiation"])
    );
    let (ok, text) = pk(&["--jwks", "jwks.json", "--authorization-details-type", "bad type"]);
    assert!(!ok && text.contains("invalid authorization_details type"), "{text}");
    for (extra, message) in [
        (&[][..], "needs a JWKS with at least one signing key"),
        (&["--jwks", "private.json"][..], "private key material"),
        (&["--jwks-uri", "http://tpp.example/jwks.json"][..], "invalid jwks_uri"),
        (
            &["--jwks", "jwks.json", "--jwks-uri", "https://tpp.example/j"][..],
            "exclusive",
        ),
        (
            &["--jwks", "jwks.json", "--subject-dn", "CN=pk"][..],
            "not a certificate subject",
        ),
    ] {
        let (ok, text) = pk(extra);
        assert!(!ok && text.contains(message), "{extra:?}: {text}");
    }

    // The same id twice: the second is refused, the first stays.
    assert!(certbound(d, &ADD_X).0);
    let (ok, text) = certbound(d, &ADD_X);
    assert!(!ok && text.contains("already exists"), "{text}");
    let (ok, text) = certbound(d, &["client", "disable", "nobody"]);
    assert!(!ok && text.contains("not found"), "{text}");
    let (ok, text) = certbound(d, &["keys", "rotate", "--alg", "HS256"]);
    assert!(!ok && text.contains("unsupported algorithm"), "{text}");
}

#[test]
fn customers_are_added_with_a_password_from_stdin_listed_and_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let add = |username: &str, password: &str| {
        certbound_with_stdin(
            d,
            &[
                "user",
                "add",
                "--username",
                username,
                "--password-stdin",
                "--account",
                "22289",
                "--json",
            ],
            &format!("{password}\n"),
        )
    };
    let (ok, text) = add("Carol", "long enough password");
    assert!(ok, "{text}");
    let added: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(added["username"], "carol", "usernames are lower-cased");
    assert!(added["sub"].as_str().unwrap().starts_with("cust_"));
    for (username, password, message) in [
        ("carol", "another password", "already exists"),
        ("dave", "short", "8-256 characters"),
        ("<script>", "long enough password", "a username is"),
    ] {
        let (ok, text) = add(username, password);
        assert!(!ok && text.contains(message), "{username}: {text}");
    }
    let (ok, text) = certbound(d, &["user", "add", "--username", "eve"]);
    assert!(
        !ok && text.contains("--password-stdin"),
        "the password never comes from the command line: {text}"
    );
    let (ok, text) = certbound_with_stdin(
        d,
        &[
            "user",
            "add",
            "--username",
            "eve",
            "--password-stdin",
            "--account",
            "no spaces",
        ],
        "long enough password\n",
    );
    assert!(!ok && text.contains("invalid account id"), "{text}");

    let (ok, text) = certbound(d, &["user", "list", "--json"]);
    assert!(ok, "{text}");
    let list: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["accounts"], serde_json::json!(["22289"]));
    assert!(
        !text.contains("argon2") && !text.contains("long enough"),
        "no password material: {text}"
    );
    assert!(certbound(d, &["user", "disable", "CAROL"]).0);
    let (_, text) = certbound(d, &["user", "list", "--json"]);
    assert!(text.contains("\"disabled\""), "{text}");
    let (ok, text) = certbound(d, &["user", "disable", "nobody"]);
    assert!(!ok && text.contains("not found"), "{text}");
}

#[test]
fn pki_issue_refuses_names_that_escape_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(certbound(d, &["pki", "init", "--dir", "pki"]).0);
    for name in ["../evil", "a/b", ".hidden", ""] {
        let (ok, _) = certbound(d, &["pki", "issue", "--dir", "pki", "--name", name]);
        assert!(!ok, "{name:?}");
    }
    assert!(!d.join("evil.pem").exists());
}

#[test]
fn api_keys_are_shown_once_listed_rotated_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, text) = certbound(d, &["apikey", "create", "--client", "nobody"]);
    assert!(!ok && text.contains("no client nobody"), "{text}");
    assert!(certbound(d, &ADD_X).0);

    let (ok, created) = certbound(d, &["apikey", "create", "--client", "x", "--json"]);
    assert!(ok, "{created}");
    let created: serde_json::Value = serde_json::from_str(&created).unwrap();
    let key = created["api_key"].as_str().unwrap();
    let id = created["id"].as_str().unwrap();
    assert!(key.starts_with(&format!("cbk_{id}_")));

    let list = |d: &Path| -> Vec<serde_json::Value> {
        let (ok, text) = certbound(d, &["apikey", "list", "--client", "x", "--json"]);
        assert!(ok, "{text}");
        serde_json::from_str(&text).unwrap()
    };
    let listed = list(d);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["state"], "active");
    let text = serde_json::to_string(&listed).unwrap();
    assert!(!text.contains(&key[21..]), "the secret is never listed");

    // Rotation without overlap: the old key is expired at once, the new one active.
    let (ok, _) = certbound(d, &["apikey", "rotate", "--client", "x", "--overlap", "0"]);
    assert!(ok);
    let listed = list(d);
    assert_eq!(listed.len(), 2);
    assert_eq!(listed.iter().find(|k| k["id"] == id).unwrap()["state"], "expired");
    let new_id = listed.iter().find(|k| k["id"] != id).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(certbound(d, &["apikey", "revoke", &new_id]).0);
    assert_eq!(
        list(d).iter().find(|k| k["id"] == new_id.as_str()).unwrap()["state"],
        "revoked"
    );
    let (ok, text) = certbound(d, &["apikey", "revoke", &new_id]);
    assert!(!ok && text.contains("not found"), "{text}");
    let (ok, text) = certbound(d, &["apikey", "create", "--client", "x", "--bind-cert", "nonsense"]);
    assert!(!ok && text.contains("neither a base64url"), "{text}");
}

#[test]
fn serve_reads_a_config_file_and_refuses_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("bad.toml"),
        "listen = \"127.0.0.1:1\"\nlisten_adress = \"typo\"\n",
    )
    .unwrap();
    let (ok, text) = certbound(d, &["--config", "bad.toml", "serve"]);
    assert!(
        !ok && text.contains("bad.toml") && text.contains("listen_adress"),
        "{text}"
    );

    let port = common::free_port();
    let mtls_port = common::free_port();
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\nmtls_listen = \"127.0.0.1:{mtls_port}\"\ndata_dir = \"state\"\naccess_token_ttl = 60\nlog_format = \"json\"\n\
         [gateway.policies.accounts]\nscopes = [\"accounts\"]\napi_key = true\n"
    );
    std::fs::write(d.join("certbound.toml"), config).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_certbound"))
        .current_dir(d)
        .env("CERTBOUND_LOG", "info")
        .args(["--config", "certbound.toml", "serve"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(d.join("log")).unwrap())
        .spawn()
        .unwrap();
    let _server = common::KillOnDrop(child);
    let ca = d.join("state/pki/ca.pem");
    let started = std::time::Instant::now();
    let metadata = loop {
        let out = Command::new("curl")
            .args(["-sf", "--cacert", ca.to_str().unwrap()])
            .arg(format!(
                "https://localhost:{port}/.well-known/oauth-authorization-server"
            ))
            .output()
            .unwrap();
        if out.status.success() {
            break String::from_utf8(out.stdout).unwrap();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "server did not start from the config file"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(
        metadata.contains(&format!("\"issuer\":\"https://localhost:{port}\"")),
        "{metadata}"
    );
    assert!(d.join("state/certbound.db").exists(), "data_dir from the file");
    let log = std::fs::read_to_string(d.join("log")).unwrap();
    let first: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).expect("JSON logs");
    assert!(first["fields"]["message"].is_string(), "{log}");
}

/// Identifiers made before ids stopped starting with `-` still exist: every command that takes
/// one accepts it.
#[test]
fn identifiers_starting_with_a_hyphen_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id = "-H1uXq9";
    let (ok, text) = certbound(
        d,
        &[
            "client",
            "add",
            "--name",
            "dash",
            "--auth",
            "tls_client_auth",
            "--subject-dn",
            "CN=dash",
            "--client-id",
            id,
        ],
    );
    assert!(ok, "{text}");
    let (ok, text) = certbound(d, &["client", "show", id, "--json"]);
    assert!(ok && text.contains("\"client_id\": \"-H1uXq9\""), "{text}");
    let (ok, text) = certbound(d, &["apikey", "create", "--client", id, "--json"]);
    assert!(ok, "{text}");
    let key_id = serde_json::from_str::<serde_json::Value>(&text).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (ok, text) = certbound(d, &["apikey", "list", "--client", id]);
    assert!(ok && text.contains(&key_id), "{text}");
    let (ok, text) = certbound(d, &["grant", "list", "--client", id]);
    assert!(ok, "{text}");
    for verb in ["disable", "enable"] {
        let (ok, text) = certbound(d, &["client", verb, id]);
        assert!(ok, "{verb}: {text}");
    }
    let (ok, text) = certbound(d, &["client", "show", id, "--json"]);
    assert!(ok && text.contains("\"status\": \"active\""), "{text}");
}
