//! Load benchmark for DPoP at the resource server: the same handler behind the guard, called
//! with a certificate-bound token (`Bearer`) and with a DPoP-bound one (`DPoP` and a fresh proof
//! per request, its `jti` remembered in this process's memory, or in Redis), side by side, with
//! an unprotected baseline. Reports the server's CPU time per request of each, so the cost of the
//! proof check — one ES256 signature verification and a replay-store insert — shows as a
//! difference and as a share of the request.
//!
//! ```sh
//! cargo bench --bench dpop_load
//! cargo bench --bench dpop_load -- --duration 3 --warmup 0.5 --rounds 4 --connections 32
//! ```
//!
//! Needs Redis at 127.0.0.1:6379 (`scripts/test.sh` starts one). The server is this binary again
//! (`DPOP_LOAD_ROLE=server`): the authorization server in-process, and a second mTLS listener
//! with `/open`, `/cert` (certificate-bound tokens only), `/dpop` (DPoP only, memory replay) and
//! `/dpop-redis` (DPoP only, Redis replay). Each worker holds one keep-alive connection with its
//! own certificate, a certificate-bound token, a DPoP key and a token bound to it. Rounds
//! alternate the order of the scenarios (ABCD DCBA …). Only 127.0.0.1 is contacted, every loop
//! is bounded by time and count, and the server is killed when the run ends.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use certbound::config::{FileConfig, Settings};
use certbound::rs::replay::RedisReplay;
use certbound::rs::{Guard, Policy, ReplayStore, SenderBinding};
use certbound::tls::Forwarding;
use common::jwt::EsKey;
use common::{
    check_claims, check_token, connect, flag_values, parse, post_token, prepare_data_dir, request, request_token,
    reuse_or_connect, send, BenchClient, Measurement, Sender, ServerProcess, Window, WorkerStats,
};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Method, StatusCode};

const ROLE_VAR: &str = "DPOP_LOAD_ROLE";
const DIR_VAR: &str = "DPOP_LOAD_DIR";
const REDIS_URL: &str = "redis://127.0.0.1:6379";
const BODY: &str = r#"{"status":"ok"}"#;
/// Upper bound on requests per worker, warm-up included, whatever the duration.
const MAX_REQUESTS_PER_WORKER: u64 = 200_000;

fn main() {
    certbound::install_crypto_provider();
    if std::env::var(ROLE_VAR).is_ok_and(|role| role == "server") {
        run_server();
        return;
    }
    let options = Options::from_args();
    println!(
        "dpop_load: {} CPUs; {options:?}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let parts = proof_check_parts();
    let rounds = runtime.block_on(run(&options));
    println!("\n{}\n{parts}", report(&rounds));
}

/// What the proof check is made of, timed in this process before the load starts (the server
/// is idle): one ES256 signature verification alone, and `domain::dpop::verify` — the whole
/// stateless check the guard runs — on fresh proofs. Each the mean of many.
fn proof_check_parts() -> String {
    use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    const N: u32 = 5000;
    let key = EsKey::generate();
    let (token, htu) = ("an-access-token", "https://localhost:1/dpop".to_string());
    let proofs: Vec<String> = (0..N).map(|_| key.proof("GET", &htu, None, Some(token))).collect();
    let (x, y) = (
        key.jwk["x"].as_str().unwrap_or_default(),
        key.jwk["y"].as_str().unwrap_or_default(),
    );
    let mut point = vec![4u8];
    point.extend(URL_SAFE_NO_PAD.decode(x).expect("x"));
    point.extend(URL_SAFE_NO_PAD.decode(y).expect("y"));
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point);
    let split = |p: &str| {
        let (input, signature) = p.rsplit_once('.').expect("a JWS");
        (input.to_string(), URL_SAFE_NO_PAD.decode(signature).expect("signature"))
    };
    let parts: Vec<(String, Vec<u8>)> = proofs.iter().map(|p| split(p)).collect();
    let began = Instant::now();
    for (input, signature) in &parts {
        public.verify(input.as_bytes(), signature).expect("a valid signature");
    }
    let signature_us = began.elapsed().as_secs_f64() * 1e6 / f64::from(N);
    let uris = [htu.clone()];
    let began = Instant::now();
    for proof in &proofs {
        let expected = certbound::domain::dpop::Expected {
            method: "GET",
            uris: &uris,
            access_token: Some(token),
            now: certbound::now(),
        };
        certbound::domain::dpop::verify(proof, &expected).expect("a valid proof");
    }
    let check_us = began.elapsed().as_secs_f64() * 1e6 / f64::from(N);
    format!(
        "In this process, one ES256 signature verification takes {signature_us:.1} µs; the whole stateless \
         proof check (domain::dpop::verify: parse, key from the jwk, signature, claims, thumbprint, ath) \
         {check_us:.1} µs."
    )
}

#[derive(Debug, Clone)]
struct Options {
    duration: Duration,
    warmup: Duration,
    rounds: usize,
    connections: usize,
}

impl Options {
    const USAGE: &str = "options: --duration SECS --warmup SECS --rounds N --connections N";

    fn from_args() -> Self {
        let mut options = Self {
            duration: Duration::from_secs(3),
            warmup: Duration::from_millis(500),
            rounds: 4,
            connections: 32,
        };
        for (flag, value) in flag_values() {
            let usage = Self::USAGE;
            match flag.as_str() {
                "--duration" => options.duration = Duration::from_secs_f64(parse(&flag, &value, usage)),
                "--warmup" => options.warmup = Duration::from_secs_f64(parse(&flag, &value, usage)),
                "--rounds" => options.rounds = parse(&flag, &value, usage),
                "--connections" => options.connections = parse(&flag, &value, usage),
                _ => panic!("unknown option {flag:?}; {usage}"),
            }
        }
        assert!(options.rounds >= 1 && options.connections >= 1, "{}", Self::USAGE);
        options
    }
}

// ---------------------------------------------------------------------------------------------
// The server process

/// The authorization server, and the four routes on a listener of their own; prints both
/// addresses, then serves until its standard input closes.
fn run_server() {
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        std::process::exit(0);
    });
    let dir = PathBuf::from(std::env::var_os(DIR_VAR).expect("DPOP_LOAD_DIR"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let file = FileConfig {
            listen: Some("127.0.0.1:0".into()),
            mtls_listen: Some("127.0.0.1:0".into()),
            data_dir: Some(common::data_dir(&dir)),
            access_token_ttl: Some(3600),
            ..FileConfig::default()
        };
        let settings = Settings::resolve(file, |_| None).expect("settings");
        let tls = certbound::tls::server_config(&settings.server_cert, &settings.server_key, true).expect("TLS");
        let running = certbound::server::start(settings).await.expect("server starts");
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind a loopback port");
        let rs_addr = listener.local_addr().expect("bound address");
        let origin = vec![format!("https://localhost:{}", rs_addr.port())];
        let audiences = vec![running.issuer().to_string()];
        let guard = || Guard::local(&running.local, audiences.clone()).with_origins(origin.clone());
        let redis = RedisReplay::connect(REDIS_URL).await.expect("Redis at 127.0.0.1:6379");
        let redis_guard = guard().with_replay_store(Arc::new(ReplayStore::Redis(redis)));
        let (cert_guard, dpop_guard) = (guard(), guard());
        let only = |binding| {
            Policy::scopes(&["accounts"])
                .expect("a literal scope-token")
                .binding(binding)
        };
        let app = Router::new()
            .route("/open", get(handler))
            .merge(
                Router::new()
                    .route("/cert", get(handler))
                    .layer(cert_guard.require(only(SenderBinding::Certificate))),
            )
            .merge(
                Router::new()
                    .route("/dpop", get(handler))
                    .layer(dpop_guard.require(only(SenderBinding::Dpop))),
            )
            .merge(
                Router::new()
                    .route("/dpop-redis", get(handler))
                    .layer(redis_guard.require(only(SenderBinding::Dpop))),
            );
        println!("{} {rs_addr}", running.mtls_addr.expect("an mTLS listener"));
        certbound::tls::serve(
            listener,
            tls,
            Arc::new(Forwarding::default()),
            app,
            std::future::pending(),
        )
        .await;
    });
}

async fn handler() -> &'static str {
    BODY
}

// ---------------------------------------------------------------------------------------------
// Load generation

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Open,
    Cert,
    Dpop,
    DpopRedis,
}

impl Scenario {
    const ALL: [Scenario; 4] = [Scenario::Open, Scenario::Cert, Scenario::Dpop, Scenario::DpopRedis];

    fn path(self) -> &'static str {
        match self {
            Scenario::Open => "/open",
            Scenario::Cert => "/cert",
            Scenario::Dpop => "/dpop",
            Scenario::DpopRedis => "/dpop-redis",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scenario::Open => "open (no guard)",
            Scenario::Cert => "certificate-bound",
            Scenario::Dpop => "DPoP, memory replay",
            Scenario::DpopRedis => "DPoP, Redis replay",
        }
    }
}

/// One worker's connection identity and tokens.
struct Credentials {
    client: Arc<BenchClient>,
    bearer: HeaderValue,
    dpop_key: EsKey,
    dpop_token: String,
}

async fn run(options: &Options) -> Vec<[Measurement; 4]> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let clients = prepare_data_dir(dir.path(), options.connections).await;
    let (process, addrs) = common::spawn_role(ROLE_VAR, &[(DIR_VAR, dir.path().as_os_str())]).await;
    let [as_addr, rs_addr] = addrs[..] else {
        panic!("the server printed {addrs:?}");
    };
    let mut credentials = Vec::new();
    for client in clients {
        credentials.push(Arc::new(issue(as_addr, client).await));
    }
    println!(
        "server pid {}: tokens issued for {} connections",
        process.pid(),
        credentials.len()
    );
    let mut rounds = Vec::with_capacity(options.rounds);
    for round in 0..options.rounds {
        let mut order = Scenario::ALL;
        if round % 2 == 1 {
            order.reverse();
        }
        let mut measured: [Option<Measurement>; 4] = [None, None, None, None];
        for scenario in order {
            let m = measure(&process, rs_addr, scenario, &credentials, options).await;
            println!("round {}: {}", round + 1, m.summary(scenario.name(), "requests", 4));
            measured[Scenario::ALL.iter().position(|&s| s == scenario).expect("a scenario")] = Some(m);
        }
        rounds.push(measured.map(|m| m.expect("every scenario ran")));
    }
    drop(process);
    rounds
}

/// A certificate-bound token and a DPoP-bound one for `client`.
async fn issue(as_addr: SocketAddr, client: Arc<BenchClient>) -> Credentials {
    let mut sender = connect(as_addr, &client.tls).await.expect("connect for tokens");
    let body = request_token(&mut sender, &client, false).await.expect("token");
    let token = check_token(&body, &client).expect("a certificate-bound token");
    let key = EsKey::generate();
    let htu = format!("https://localhost:{}/token", as_addr.port());
    let form = Bytes::from(format!(
        "grant_type=client_credentials&client_id={}&scope=accounts",
        client.id
    ));
    let mut nonce = None;
    let mut dpop_token = None;
    for _ in 0..2 {
        let proof = key.proof("POST", &htu, nonce.as_deref(), None);
        let response = post_token(&mut sender, form.clone(), Some(&proof), false)
            .await
            .expect("token response");
        nonce = response
            .headers()
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        if response.status() == StatusCode::OK {
            let cnf = serde_json::json!({ "jkt": key.jkt });
            dpop_token = Some(check_claims(response.body(), &client.id, &cnf).expect("a DPoP-bound token"));
            break;
        }
    }
    Credentials {
        bearer: HeaderValue::from_str(&format!("Bearer {token}")).expect("header value"),
        client,
        dpop_token: dpop_token.expect("a DPoP-bound token after learning the nonce"),
        dpop_key: key,
    }
}

async fn measure(
    process: &ServerProcess,
    rs_addr: SocketAddr,
    scenario: Scenario,
    credentials: &[Arc<Credentials>],
    options: &Options,
) -> Measurement {
    common::measure(
        process.pid(),
        options.warmup,
        options.duration,
        credentials.len(),
        |w, window| worker(rs_addr, scenario, credentials[w].clone(), window),
    )
    .await
}

/// Requests on one keep-alive connection until the window ends; DPoP scenarios sign a new
/// proof for every request, as a client must.
async fn worker(rs_addr: SocketAddr, scenario: Scenario, credentials: Arc<Credentials>, window: Window) -> WorkerStats {
    let mut stats = WorkerStats::default();
    let mut open: Option<Sender> = None;
    let htu = format!("https://localhost:{}{}", rs_addr.port(), scenario.path());
    let dpop_authorization = HeaderValue::from_str(&format!("DPoP {}", credentials.dpop_token)).expect("header value");
    for _ in 0..MAX_REQUESTS_PER_WORKER {
        let began = Instant::now();
        if began >= window.end {
            break;
        }
        let outcome = async {
            let mut sender = reuse_or_connect(&mut open, rs_addr, &credentials.client.tls).await?;
            let mut request = request(Method::GET, scenario.path(), Bytes::new());
            let headers = request.headers_mut();
            match scenario {
                Scenario::Open | Scenario::Cert => {
                    headers.insert(AUTHORIZATION, credentials.bearer.clone());
                }
                Scenario::Dpop | Scenario::DpopRedis => {
                    let proof = credentials
                        .dpop_key
                        .proof("GET", &htu, None, Some(&credentials.dpop_token));
                    headers.insert(AUTHORIZATION, dpop_authorization.clone());
                    headers.insert("dpop", HeaderValue::from_str(&proof).map_err(|e| e.to_string())?);
                }
            }
            let response = send(&mut sender, request).await?;
            if response.status() != StatusCode::OK || response.body() != BODY.as_bytes() {
                return Err(format!(
                    "{}: {}",
                    response.status(),
                    String::from_utf8_lossy(response.body())
                ));
            }
            open = Some(sender);
            Ok::<(), String>(())
        }
        .await;
        stats.record(window, began, outcome);
    }
    stats
}

// ---------------------------------------------------------------------------------------------
// Reporting

/// Each scenario over all rounds, its CPU per request against open and against the
/// certificate-bound call, and what share of a DPoP request the proof check is.
fn report(rounds: &[[Measurement; 4]]) -> String {
    let total = |i: usize| {
        let mut windows = rounds.iter().map(|r| r[i].clone());
        let mut total = windows.next().expect("a round");
        windows.for_each(|m| total.merge(m));
        total
    };
    let totals: Vec<Measurement> = (0..4).map(total).collect();
    let cpu = |i: usize| totals[i].cpu_ms_per_request();
    let mut table = String::from(
        "| scenario | requests | errors | requests/s | p50 ms | p99 ms | server CPU ms/request | over open | over certificate-bound | requests/s vs certificate-bound |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for (i, scenario) in Scenario::ALL.iter().enumerate() {
        let m = &totals[i];
        table.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.4} | {:+.4} | {:+.4} | {:.0} % |\n",
            scenario.name(),
            m.ok,
            m.errors,
            m.per_second(),
            m.p50_ms(),
            m.p99_ms(),
            cpu(i),
            cpu(i) - cpu(0),
            cpu(i) - cpu(1),
            100.0 * m.per_second() / totals[1].per_second(),
        ));
    }
    for (i, scenario) in [(2, Scenario::Dpop), (3, Scenario::DpopRedis)] {
        table.push_str(&format!(
            "\n{}: the proof check is {:.0} % of the request's server CPU ({:.4} of {:.4} ms)",
            scenario.name(),
            100.0 * (cpu(i) - cpu(1)) / cpu(i),
            cpu(i) - cpu(1),
            cpu(i),
        ));
    }
    table
}
