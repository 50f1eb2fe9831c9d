//! The resource-server guard reading a presented access token: the `Authorization` header, the
//! JWS, and the claims behind a valid signature.

use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::{header, HeaderMap, HeaderValue};
use serde_json::{json, Value};

use crate::jose::{KeyRing, LiveKeyRing, SigningAlg, SigningKey};
use crate::pki::ClientCertificate;
use crate::rs::{ApiKeys, Guard, Incoming, LocalAuthority, Policy, ReplayStore, Revocations, LEEWAY};
use crate::store::Store;
use crate::tls::PeerCertificate;

const ISSUER: &str = "https://as.fuzz.example";
const AUDIENCE: &str = "https://rs.fuzz.example";

struct Fixture {
    runtime: tokio::runtime::Runtime,
    guard: Guard,
    keys: Arc<LiveKeyRing>,
    cert: PeerCertificate,
    policy: Policy,
}

/// A guard over a fresh key and an in-memory store, made once per process.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        crate::install_crypto_provider();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let (signing, _) = SigningKey::generate(SigningAlg::Es256).expect("a key");
        let published = [signing.public_jwk().clone()];
        let keys = Arc::new(LiveKeyRing::new(KeyRing::new(signing, &published).expect("a ring")));
        let store = runtime
            .block_on(Store::connect("sqlite::memory:"))
            .expect("an in-memory store");
        let authority = LocalAuthority {
            issuer: ISSUER.to_string(),
            keys: keys.clone(),
            revocations: Arc::new(Revocations::default()),
            api_keys: Arc::new(ApiKeys::new(store)),
            origins: vec![AUDIENCE.to_string()],
            dpop_replay: Arc::new(ReplayStore::default()),
        };
        let leaf = super::sample_chain()[..1].to_vec();
        Fixture {
            guard: Guard::local(&authority, vec![AUDIENCE.to_string()]),
            cert: PeerCertificate(Some(Arc::new(ClientCertificate::from_chain(leaf).expect("the leaf")))),
            policy: Policy::scopes(&["accounts"]).expect("a valid scope"),
            keys,
            runtime,
        }
    })
}

/// Input: a mode byte, then either an `Authorization` header value (even modes) or the claims
/// of a token the guard's own key signs (odd modes). Whatever the guard admits must be a live
/// token of this issuer, for this audience, bound to the presented certificate, with the scope.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let authorization = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let Ok(claims) = serde_json::from_slice::<Value>(rest) else {
            return;
        };
        let Ok(token) = f.keys.current().signing_key().sign_access_token(&claims) else {
            return;
        };
        format!("Bearer {token}").into_bytes()
    };
    let Ok(value) = HeaderValue::from_bytes(&authorization) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, value);
    let request = Incoming {
        method: "GET",
        path: "/accounts",
        query: None,
        host: Some("rs.fuzz.example"),
        headers: &headers,
        cert: &f.cert,
    };
    let Ok(admitted) = f.runtime.block_on(f.guard.check(&f.policy, &request)) else {
        return;
    };
    let claims = payload(&authorization).expect("an admitted token has a JSON payload");
    let now = crate::now();
    assert!(
        claims["exp"].as_i64().is_some_and(|exp| exp >= now - LEEWAY as i64),
        "{claims}"
    );
    assert_eq!(claims["iss"], ISSUER);
    assert!(
        claims["aud"] == AUDIENCE
            || claims["aud"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == AUDIENCE))
    );
    let thumbprint = f.cert.get().map(|c| c.thumbprint().to_base64url());
    assert_eq!(claims["cnf"]["x5t#S256"].as_str(), thumbprint.as_deref());
    assert!(admitted.scopes().iter().any(|s| s == "accounts"));
}

/// The claims of the token in an `Authorization` value, read without verifying.
fn payload(authorization: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(authorization).ok()?;
    let token = text.split_once(' ')?.1.trim();
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// Good claims, claims at the edges of their types, and a signed token as a header.
pub fn seeds() -> Vec<Vec<u8>> {
    let f = fixture();
    let now = crate::now();
    let thumbprint = f.cert.get().map(|c| c.thumbprint().to_base64url());
    let good = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "tpp1", "client_id": "tpp1", "scope": "accounts",
        "jti": "j1", "iat": now, "nbf": now - 1, "exp": now + 300, "cnf": { "x5t#S256": thumbprint },
    });
    let mut edges = Vec::new();
    for (claim, value) in [
        ("exp", json!(i64::MAX)),
        ("exp", json!(u64::MAX)),
        ("exp", json!(-1)),
        ("nbf", json!(i64::MAX)),
        ("aud", json!([AUDIENCE, 1])),
        ("scope", json!("accounts \u{0}")),
        ("cnf", json!({ "jkt": "x" })),
        ("authorization_details", json!([{ "type": "x" }])),
    ] {
        let mut claims = good.clone();
        claims[claim] = value;
        edges.push(claims);
    }
    let signed = f.keys.current().signing_key().sign_access_token(&good).expect("signed");
    let mut seeds: Vec<Vec<u8>> = std::iter::once(&good)
        .chain(&edges)
        .map(|c| [&[1u8][..], c.to_string().as_bytes()].concat())
        .collect();
    seeds.push([&[0u8][..], format!("Bearer {signed}").as_bytes()].concat());
    seeds.push([&[0u8][..], format!("DPoP {signed}").as_bytes()].concat());
    seeds
}
