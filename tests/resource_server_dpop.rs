//! DPoP at the resource server (RFC 9449 §7) over real mutual TLS: a resource of a bank's own
//! behind the guard admits a DPoP-bound token only with a proof for this very request, signed by
//! the token's key, used once; it refuses every downgrade and mix-up between the two bindings;
//! each route says which bindings it accepts; and replays are refused per process, or across a
//! fleet with a shared Redis.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use certbound::rs::replay::{MemoryReplay, RedisReplay};
use certbound::rs::{Authenticated, Guard, Policy, ReplayStore, SenderBinding};
use certbound::tls::Forwarding;
use common::dpop::{DpopKey, Proof};
use common::tpp::{dpop_key, signing_key, Auth, Binding, Tpp};
use common::{Db, TestEnv};
use serde_json::{json, Value};

on_both_databases!(
    dpop_bound_tokens_open_resources_with_a_proof_for_each_request,
    every_resource_proof_check_refuses_what_it_must,
    routes_choose_the_bindings_they_accept,
    replays_are_refused_per_process_or_across_a_fleet_with_redis,
);

/// A bank's API behind the guard, on its own TLS listener: `/either`, `/dpop`, `/certificate`
/// accept those bindings and echo who was admitted.
struct Api {
    addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Api {
    async fn start(env: &TestEnv, replay: Arc<ReplayStore>) -> Self {
        Self::start_at(env, replay, None).await
    }

    /// With `origin` as its public origin (a fleet behind a load balancer), or its own address.
    async fn start_at(env: &TestEnv, replay: Arc<ReplayStore>, origin: Option<&str>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let origin = origin.map_or_else(|| format!("https://localhost:{}", addr.port()), String::from);
        let guard = Guard::local(&env.server().local, vec![env.issuer()])
            .with_origins(vec![origin])
            .with_replay_store(replay);
        let echo = || {
            get(|who: Authenticated| async move {
                axum::Json(json!({
                    "client": who.client_id(),
                    "jkt": who.dpop_key().map(|k| k.to_base64url()),
                }))
            })
            .post(|who: Authenticated| async move { who.client_id().to_string() })
        };
        let route = |path: &str, binding| {
            Router::new().route(path, echo()).layer(
                guard.require(
                    Policy::scopes(&["accounts"])
                        .expect("a literal scope-token")
                        .binding(binding),
                ),
            )
        };
        let app = route("/either", SenderBinding::Either)
            .merge(route("/dpop", SenderBinding::Dpop))
            .merge(route("/certificate", SenderBinding::Certificate));
        let tls = certbound::tls::server_config(&env.pki.server_cert(), &env.pki.server_key(), true).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(certbound::tls::serve(
            listener,
            tls,
            Arc::new(Forwarding::default()),
            app,
            async {
                let _ = stopped.await;
            },
        ));
        Self { addr, _stop: stop }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    fn http(&self, env: &TestEnv, tpp: &Tpp) -> reqwest::Client {
        let identity = tpp.cert.as_ref().map(|c| (common::chain_of(c), common::key_of(c)));
        common::http_client(&env.pki, self.addr, identity)
    }
}

/// What the resource answered.
#[derive(Debug)]
struct Answer {
    status: u16,
    challenges: Vec<String>,
    body: Value,
}

impl Answer {
    /// The challenge of `scheme`, if any.
    fn challenge(&self, scheme: &str) -> Option<&str> {
        self.challenges
            .iter()
            .find(|c| c.starts_with(&format!("{scheme} ")))
            .map(String::as_str)
    }

    fn assert_refused(&self, scheme: &str, error: &str, case: &str) {
        assert_eq!(self.status, 401, "{case}: {self:?}");
        assert_eq!(self.body["error"], error, "{case}: {self:?}");
        let challenge = self
            .challenge(scheme)
            .unwrap_or_else(|| panic!("{case}: no {scheme} challenge: {self:?}"));
        assert!(
            challenge.contains(&format!(r#"error="{error}""#)),
            "{case}: {challenge}"
        );
    }
}

/// Sends `method` to `url` with `Authorization: {scheme} {token}` and the given proofs.
async fn call(http: &reqwest::Client, method: &str, url: &str, scheme: &str, token: &str, proofs: &[String]) -> Answer {
    let mut request = http
        .request(method.parse().unwrap(), url)
        .header("authorization", format!("{scheme} {token}"));
    for proof in proofs {
        request = request.header("dpop", proof);
    }
    let response = request.send().await.unwrap();
    let challenges = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    Answer {
        status,
        challenges,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

/// A proof for `method` at `url` naming `token`.
fn proof(key: &DpopKey, method: &str, url: &str, token: &str) -> String {
    key.sign(&Proof::for_request(method, url).with_token(token))
}

async fn access_token(env: &TestEnv, tpp: &Tpp) -> String {
    let (status, body) = tpp.client_credentials(env).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

async fn dpop_bound_tokens_open_resources_with_a_proof_for_each_request(db: Db) {
    let env = TestEnv::start(db).await;
    let api = Api::start(&env, Arc::new(ReplayStore::default())).await;
    for tpp in [
        Tpp::register(
            &env,
            "pk-dpop",
            Auth::PrivateKeyJwt(signing_key()),
            Binding::Dpop(dpop_key()),
        )
        .await,
        Tpp::register(&env, "mtls-dpop", Auth::Certificate, Binding::Dpop(dpop_key())).await,
    ] {
        let token = access_token(&env, &tpp).await;
        let key = tpp.dpop().unwrap();
        let http = api.http(&env, &tpp);
        let url = api.url("/either");
        for method in ["GET", "POST"] {
            let answer = call(&http, method, &url, "DPoP", &token, &[proof(key, method, &url, &token)]).await;
            assert_eq!(answer.status, 200, "{}: {answer:?}", tpp.id);
        }
        let answer = call(&http, "GET", &url, "DPoP", &token, &[proof(key, "GET", &url, &token)]).await;
        assert_eq!(answer.body, json!({"client": tpp.id, "jkt": key.jkt()}));
        // The query is not part of htu (RFC 9449 §4.3).
        let with_query = format!("{url}?page=2");
        let answer = call(
            &http,
            "GET",
            &with_query,
            "DPoP",
            &token,
            &[proof(key, "GET", &url, &token)],
        )
        .await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    // The customer's token from the code flow, at the authorization server's own userinfo.
    let tpp = Tpp::register(
        &env,
        "flow",
        Auth::PrivateKeyJwt(signing_key()),
        Binding::Dpop(dpop_key()),
    )
    .await;
    let tokens = tpp.code_flow(&env).await;
    let token = tokens["access_token"].as_str().unwrap();
    let userinfo = env.url("/userinfo");
    let answer = call(
        &tpp.http,
        "GET",
        &userinfo,
        "DPoP",
        token,
        &[proof(tpp.dpop().unwrap(), "GET", &userinfo, token)],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let id_token = common::jwt_payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(answer.body["sub"], id_token["sub"]);
    env.finish().await;
}

async fn every_resource_proof_check_refuses_what_it_must(db: Db) {
    let env = TestEnv::start(db).await;
    let api = Api::start(&env, Arc::new(ReplayStore::default())).await;
    let tpp = Tpp::register(&env, "tpp-dpop", Auth::Certificate, Binding::Dpop(dpop_key())).await;
    let bound = Tpp::register(&env, "tpp-cert", Auth::Certificate, Binding::Certificate).await;
    let token = access_token(&env, &tpp).await;
    let other_token = access_token(&env, &tpp).await;
    let cert_token = access_token(&env, &bound).await;
    let key = tpp.dpop().unwrap();
    let stranger = dpop_key();
    let http = api.http(&env, &tpp);
    let url = api.url("/either");
    let now = certbound::now();
    let good = || Proof::for_request("GET", &url).with_token(&token);
    let replayed = key.sign(&good());
    assert_eq!(
        call(&http, "GET", &url, "DPoP", &token, std::slice::from_ref(&replayed))
            .await
            .status,
        200
    );

    let proof_cases: Vec<(&str, Vec<String>)> = vec![
        ("no proof", vec![]),
        ("two proofs", vec![key.sign(&good()), key.sign(&good())]),
        (
            "htm POST for a GET",
            vec![key.sign(&Proof {
                htm: "POST".into(),
                ..good()
            })],
        ),
        (
            "htm get",
            vec![key.sign(&Proof {
                htm: "get".into(),
                ..good()
            })],
        ),
        (
            "htu another path",
            vec![key.sign(&Proof {
                htu: api.url("/dpop"),
                ..good()
            })],
        ),
        (
            "htu another host",
            vec![key.sign(&Proof {
                htu: "https://attacker.example/either".into(),
                ..good()
            })],
        ),
        (
            "htu the authorization server",
            vec![key.sign(&Proof {
                htu: env.url("/either"),
                ..good()
            })],
        ),
        (
            "iat three minutes old",
            vec![key.sign(&Proof {
                iat: now - 180,
                ..good()
            })],
        ),
        (
            "iat a minute ahead",
            vec![key.sign(&Proof {
                iat: now + 60,
                ..good()
            })],
        ),
        ("jti used before", vec![replayed.clone()]),
        ("no ath", vec![key.sign(&Proof::for_request("GET", &url))]),
        (
            "ath of another token",
            vec![key.sign(&Proof::for_request("GET", &url).with_token(&other_token))],
        ),
        ("typ JWT", vec![key.sign(&Proof { typ: "JWT", ..good() })]),
        ("not a JWT", vec!["nonsense".into()]),
    ];
    for (case, proofs) in proof_cases {
        let answer = call(&http, "GET", &url, "DPoP", &token, &proofs).await;
        answer.assert_refused("DPoP", "invalid_dpop_proof", case);
        let dpop = answer.challenge("DPoP").unwrap();
        assert!(dpop.contains(r#"algs="ES256 PS256 EdDSA""#), "{dpop}");
    }

    // A valid proof by another key: the token is not bound to it.
    let answer = call(
        &http,
        "GET",
        &url,
        "DPoP",
        &token,
        &[proof(&stranger, "GET", &url, &token)],
    )
    .await;
    answer.assert_refused("DPoP", "invalid_token", "another key");
    // Downgrades and mix-ups: a DPoP-bound token as Bearer (with or without a proof), a
    // certificate-bound token as DPoP.
    for proofs in [vec![], vec![proof(key, "GET", &url, &token)]] {
        let answer = call(&http, "GET", &url, "Bearer", &token, &proofs).await;
        answer.assert_refused("Bearer", "invalid_token", "DPoP-bound token as Bearer");
        let description = answer.body["error_description"].as_str().unwrap();
        assert!(description.contains("DPoP scheme"), "{description}");
    }
    let bound_http = api.http(&env, &bound);
    let answer = call(
        &bound_http,
        "GET",
        &url,
        "DPoP",
        &cert_token,
        &[proof(key, "GET", &url, &cert_token)],
    )
    .await;
    answer.assert_refused("DPoP", "invalid_token", "certificate-bound token as DPoP");
    env.finish().await;
}

async fn routes_choose_the_bindings_they_accept(db: Db) {
    let env = TestEnv::start(db).await;
    let api = Api::start(&env, Arc::new(ReplayStore::default())).await;
    let dpop_tpp = Tpp::register(&env, "tpp-dpop", Auth::Certificate, Binding::Dpop(dpop_key())).await;
    let cert_tpp = Tpp::register(&env, "tpp-cert", Auth::Certificate, Binding::Certificate).await;
    let dpop_token = access_token(&env, &dpop_tpp).await;
    let cert_token = access_token(&env, &cert_tpp).await;
    let key = dpop_tpp.dpop().unwrap();
    let (dpop_http, cert_http) = (api.http(&env, &dpop_tpp), api.http(&env, &cert_tpp));
    for (path, dpop_ok, cert_ok) in [
        ("/either", true, true),
        ("/dpop", true, false),
        ("/certificate", false, true),
    ] {
        let url = api.url(path);
        let answer = call(
            &dpop_http,
            "GET",
            &url,
            "DPoP",
            &dpop_token,
            &[proof(key, "GET", &url, &dpop_token)],
        )
        .await;
        assert_eq!(answer.status == 200, dpop_ok, "DPoP token at {path}: {answer:?}");
        let answer = call(&cert_http, "GET", &url, "Bearer", &cert_token, &[]).await;
        assert_eq!(answer.status == 200, cert_ok, "certificate token at {path}: {answer:?}");
        // Without any token: the challenges name the schemes the route accepts.
        let bare = cert_http.get(&url).send().await.unwrap();
        let schemes: Vec<String> = bare
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap().split(' ').next().unwrap().to_string())
            .collect();
        let expected: Vec<&str> = [("Bearer", cert_ok), ("DPoP", dpop_ok)]
            .iter()
            .filter(|(_, ok)| *ok)
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(schemes, expected, "{path}");
    }
    env.finish().await;
}

async fn replays_are_refused_per_process_or_across_a_fleet_with_redis(db: Db) {
    let env = TestEnv::start(db).await;
    let tpp = Tpp::register(&env, "tpp-dpop", Auth::Certificate, Binding::Dpop(dpop_key())).await;
    let token = access_token(&env, &tpp).await;
    let key = tpp.dpop().unwrap();
    // Two nodes behind one public origin, as behind a load balancer: a proof for the origin is
    // sent to the first node and replayed to the second.
    let origin = "https://api.bank.example";
    let redis = || async {
        Arc::new(ReplayStore::Redis(
            RedisReplay::connect("redis://127.0.0.1:6379")
                .await
                .expect("Redis at 127.0.0.1:6379"),
        ))
    };
    for (shared, second_refuses) in [(false, false), (true, true)] {
        let (first_store, second_store) = if shared {
            let store = redis().await;
            (store.clone(), store)
        } else {
            let memory = || Arc::new(ReplayStore::Memory(MemoryReplay::new(1000)));
            (memory(), memory())
        };
        let first = Api::start_at(&env, first_store, Some(origin)).await;
        let second = Api::start_at(&env, second_store, Some(origin)).await;
        let proof = proof(key, "GET", &format!("{origin}/either"), &token);
        let (url1, url2) = (first.url("/either"), second.url("/either"));
        let answer = call(
            &first.http(&env, &tpp),
            "GET",
            &url1,
            "DPoP",
            &token,
            std::slice::from_ref(&proof),
        )
        .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let replay = call(
            &second.http(&env, &tpp),
            "GET",
            &url2,
            "DPoP",
            &token,
            std::slice::from_ref(&proof),
        )
        .await;
        assert_eq!(replay.status == 401, second_refuses, "shared={shared}: {replay:?}");
        // On the node that saw it, a replay is always refused.
        let again = call(&first.http(&env, &tpp), "GET", &url1, "DPoP", &token, &[proof]).await;
        again.assert_refused("DPoP", "invalid_dpop_proof", "replay to the same node");
    }
    env.finish().await;
}
