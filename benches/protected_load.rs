//! Load benchmark for the resource-server middleware (`Guard`) and gateway mode: protected GETs
//! over keep-alive mutual TLS from many distinct certificates, tokens and API keys, measured side
//! by side with the same handler without the middleware, reporting throughput, latency and the
//! server's own CPU time per request.
//!
//! ```sh
//! cargo bench --bench protected_load
//! cargo bench --bench protected_load -- --duration 2 --warmup 0.5 --rounds 4 --connections 64 --clients 200 --fresh 30000
//! ```
//!
//! The server is this same binary, started again with `PROTECTED_LOAD_ROLE=server`: it runs the
//! authorization server in-process (`certbound::server::start`, with a gateway policy
//! `accounts`), and a second mTLS listener whose router serves one trivial handler twice:
//! `/open` bare and `/protected` behind `guard.require(Policy::scopes(&["accounts"])?.with_api_key())`.
//! Being a separate process, its CPU time can be read from `/proc`.
//!
//! Scenarios, each a warm-up followed by a measured window, on one keep-alive connection per
//! worker, each with its own certificate, bound token and API key (bound to the certificate):
//! - open: `GET /open` with the same headers as a protected request; the baseline.
//! - protected, cached: `GET /protected`, the token verified once and then found in the cache.
//! - gateway, cached: `GET /gateway/check/accounts` on the authorization server's listener.
//! - protected, uncached: `GET /protected` with a token never presented before on every
//!   request, so each one pays for the signature check. Bounded by the tokens issued for it.
//!
//! Open, protected and gateway alternate over several rounds (in ABC CBA … order) so that they
//! are compared side by side under the same conditions; then the uncached scenario runs once. All
//! of it for an ES256 server, then again for a PS256 one. Before measuring, the benchmark checks
//! that `/protected` and the gateway refuse a request without the API key or over another
//! certificate, so it cannot silently measure an unprotected path.
//!
//! The load generator runs on the same machine and competes with the server for CPU, so
//! requests/s depends on the core count; the server's CPU time per request, read from `/proc`, is
//! the steadier figure. Only 127.0.0.1 is contacted, every loop is bounded by time and by count,
//! and the server is killed when the run ends, panics included (and exits by itself when its
//! standard input, held by the benchmark, closes).

mod common;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use certbound::config::{FileConfig, GatewayConfig, PolicyConfig, Settings};
use certbound::pki::Thumbprint;
use certbound::rs::gateway::CLIENT_ID_HEADER;
use certbound::rs::{Guard, Policy};
use certbound::store::Store;
use certbound::tls::Forwarding;
use common::{
    check_token, connect, database_url, flag_values, mib, parse, prepare_data_dir, request, request_token,
    reuse_or_connect, send, tls_summary, BenchClient, Measurement, Sender, ServerProcess, Window, WorkerStats,
};
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::Full;

/// Set to `server` in the environment of the server process this benchmark starts.
const ROLE_VAR: &str = "PROTECTED_LOAD_ROLE";
/// The server's temporary directory (its data directory is `certbound-data` inside).
const DIR_VAR: &str = "PROTECTED_LOAD_DIR";
const ALG_VAR: &str = "PROTECTED_LOAD_SIGNING_ALG";
/// Signing algorithms, each on a fresh server.
const ALGS: &[&str] = &["ES256", "PS256"];
/// The gateway policy, the scope it and `/protected` require.
const POLICY: &str = "accounts";
const GATEWAY_PATH: &str = "/gateway/check/accounts";
/// What the handler answers, protected or not.
const BODY: &str = r#"{"status":"ok"}"#;
/// Long enough that no token expires during a run.
const ACCESS_TOKEN_TTL: u64 = 3600;
/// Upper bound on requests per worker, warm-up included, whatever the duration.
const MAX_REQUESTS_PER_WORKER: u64 = 200_000;
/// Upper bound on the uncached window, which normally ends when its fresh tokens run out.
const UNCACHED_MAX_WINDOW: Duration = Duration::from_secs(10);
/// The targets (from the issue) the results are held against.
const TARGET_MIDDLEWARE_MS: f64 = 0.005;
const TARGET_THROUGHPUT_RATIO: f64 = 0.90;

fn main() {
    certbound::install_crypto_provider();
    if std::env::var(ROLE_VAR).is_ok_and(|role| role == "server") {
        run_server();
        return;
    }
    let options = Options::from_args();
    println!(
        "protected_load: {} CPUs; {options:?}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let results = runtime.block_on(async {
        let mut results = Vec::new();
        for alg in ALGS {
            results.push(run_alg(alg, &options).await);
        }
        results
    });
    println!("\n{}", markdown_table(&results));
    println!("{}", rounds_table(&results));
    println!("{}", verdicts(&results));
}

/// Command-line knobs; with the defaults a whole run takes about a minute and a half on two
/// cores.
#[derive(Debug, Clone)]
struct Options {
    /// Length of each measured window of the side-by-side rounds.
    duration: Duration,
    /// Load before each window that is not measured: it opens the keep-alive connections (one
    /// TLS handshake each) and fills the token cache.
    warmup: Duration,
    /// Side-by-side rounds of open, protected and gateway.
    rounds: usize,
    /// Keep-alive connections, each with its own certificate, token and API key.
    connections: usize,
    /// Registered clients; the rounds rotate through them, `connections` at a time.
    clients: usize,
    /// Tokens issued for the uncached scenario, each presented once.
    fresh: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(2),
            warmup: Duration::from_millis(500),
            rounds: 4,
            connections: 64,
            clients: 200,
            fresh: 30_000,
        }
    }
}

impl Options {
    const USAGE: &str = "options: --duration SECS --warmup SECS --rounds N --connections N --clients N --fresh N \
                         (rounds >= 1, 2 <= connections <= clients, fresh >= connections)";

    fn from_args() -> Self {
        let mut options = Self::default();
        for (flag, value) in flag_values() {
            let usage = Self::USAGE;
            match flag.as_str() {
                "--duration" => options.duration = Duration::from_secs_f64(parse(&flag, &value, usage)),
                "--warmup" => options.warmup = Duration::from_secs_f64(parse(&flag, &value, usage)),
                "--rounds" => options.rounds = parse(&flag, &value, usage),
                "--connections" => options.connections = parse(&flag, &value, usage),
                "--clients" => options.clients = parse(&flag, &value, usage),
                "--fresh" => options.fresh = parse(&flag, &value, usage),
                _ => panic!("unknown option {flag:?}; {usage}"),
            }
        }
        assert!(
            options.rounds >= 1
                && options.connections >= 2
                && options.clients >= options.connections
                && options.fresh >= options.connections,
            "{}",
            Self::USAGE
        );
        options
    }

    /// Fresh tokens for each of the uncached scenario's connections.
    fn fresh_per_connection(&self) -> usize {
        self.fresh / self.connections
    }
}

// ---------------------------------------------------------------------------------------------
// The server process

/// The policy of `/protected` and of the gateway's `accounts`.
fn policy() -> Policy {
    Policy::scopes(&[POLICY]).expect("a literal scope-token").with_api_key()
}

/// The server role: the authorization server with a gateway policy on one listener, and the
/// protected and unprotected routes of one handler on another. Prints both addresses on a line,
/// then serves until killed or until its standard input closes.
fn run_server() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .init();
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        std::process::exit(0);
    });
    let dir = PathBuf::from(std::env::var_os(DIR_VAR).expect("PROTECTED_LOAD_DIR"));
    let alg = std::env::var(ALG_VAR).expect("PROTECTED_LOAD_SIGNING_ALG");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let file = FileConfig {
            listen: Some("127.0.0.1:0".into()),
            mtls_listen: Some("127.0.0.1:0".into()),
            data_dir: Some(common::data_dir(&dir)),
            signing_alg: Some(alg),
            access_token_ttl: Some(ACCESS_TOKEN_TTL),
            gateway: Some(GatewayConfig {
                audiences: Vec::new(),
                origins: Vec::new(),
                policies: BTreeMap::from([(
                    POLICY.to_string(),
                    PolicyConfig {
                        scopes: vec![POLICY.into()],
                        api_key: true,
                        ..PolicyConfig::default()
                    },
                )]),
            }),
            demo_bank: Some(false),
            ..FileConfig::default()
        };
        let settings = Settings::resolve(file, |_| None).expect("settings");
        let tls = certbound::tls::server_config(&settings.server_cert, &settings.server_key, true).expect("TLS");
        // Dropping it would shut the authorization server down.
        let running = certbound::server::start(settings).await.expect("server starts");
        let guard = Guard::local(&running.local, vec![running.issuer().to_string()]);
        let app = Router::new().route("/open", get(handler)).merge(
            Router::new()
                .route("/protected", get(handler))
                .layer(guard.require(policy())),
        );
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind a loopback port");
        let rs_addr = listener.local_addr().expect("bound address");
        let as_addr = running.mtls_addr.expect("an mTLS listener");
        println!("{as_addr} {rs_addr}");
        let forwarding = Arc::new(Forwarding::default());
        certbound::tls::serve(listener, tls, forwarding, app, std::future::pending()).await;
    });
}

/// The handler behind both routes: a small fixed JSON body.
async fn handler() -> ([(http::HeaderName, &'static str); 1], &'static str) {
    ([(CONTENT_TYPE, "application/json")], BODY)
}

/// What a worker sends with every request.
struct Credentials {
    client: Arc<BenchClient>,
    /// `Bearer` and the token the cached scenarios present, again and again.
    bearer: HeaderValue,
    /// The client's API key, bound to its certificate.
    api_key: HeaderValue,
    /// `Bearer` and tokens never presented before, one per request of the uncached scenario.
    fresh: Vec<HeaderValue>,
}

/// The server under test with its data directory and clients.
struct Server {
    alg: &'static str,
    /// Declared before `_dir` so the server is killed before its directory is removed.
    process: ServerProcess,
    _dir: tempfile::TempDir,
    /// The authorization server's listener (tokens, gateway).
    as_addr: SocketAddr,
    /// The listener with `/open` and `/protected`.
    rs_addr: SocketAddr,
    credentials: Vec<Arc<Credentials>>,
}

impl Server {
    async fn start(alg: &'static str, options: &Options) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let clients = prepare_data_dir(dir.path(), options.clients).await;
        let api_keys = issue_api_keys(dir.path(), &clients).await;
        let (process, as_addr, rs_addr) = spawn_server(dir.path(), alg).await;
        let began = Instant::now();
        let tokens = issue_tokens(as_addr, &clients, options).await;
        println!(
            "{alg} server pid {}: authorization server on {as_addr}, resource server on {rs_addr}, {}; \
             {} tokens issued in {:.1?}",
            process.pid(),
            tls_summary(rs_addr, &clients[0].tls).await,
            tokens.iter().map(|(_, fresh)| fresh.len() + 1).sum::<usize>(),
            began.elapsed()
        );
        let credentials = clients
            .into_iter()
            .zip(api_keys)
            .zip(tokens)
            .map(|((client, api_key), (bearer, fresh))| {
                Arc::new(Credentials {
                    client,
                    bearer,
                    api_key,
                    fresh,
                })
            })
            .collect();
        Self {
            alg,
            process,
            _dir: dir,
            as_addr,
            rs_addr,
            credentials,
        }
    }

    fn addr(&self, scenario: Scenario) -> SocketAddr {
        match scenario {
            Scenario::Gateway => self.as_addr,
            _ => self.rs_addr,
        }
    }
}

/// One API key per client, bound to its certificate, stored before the server starts (which
/// then loads them all).
async fn issue_api_keys(dir: &Path, clients: &[Arc<BenchClient>]) -> Vec<HeaderValue> {
    let store = Store::connect(&database_url(dir)).await.expect("SQLite database");
    let mut keys = Vec::with_capacity(clients.len());
    for client in clients {
        let thumbprint = Thumbprint::from_base64url(&client.thumbprint).expect("thumbprint");
        let issued = certbound::rs::api_keys::issue(&client.id, &[thumbprint]);
        store.insert_api_key(&issued.row, None).await.expect("store API key");
        keys.push(HeaderValue::from_str(&issued.key).expect("API key is a header value"));
    }
    store.close().await;
    keys
}

/// Starts this binary in the server role and reads the two addresses it prints.
async fn spawn_server(dir: &Path, alg: &str) -> (ServerProcess, SocketAddr, SocketAddr) {
    let (process, addrs) = common::spawn_role(ROLE_VAR, &[(DIR_VAR, dir.as_os_str()), (ALG_VAR, alg.as_ref())]).await;
    let [as_addr, rs_addr] = addrs[..] else {
        panic!("the server printed {addrs:?}, not two addresses");
    };
    (process, as_addr, rs_addr)
}

/// `POST /token` for every client over its own certificate: one token for the cached scenarios
/// and, for the first `connections` clients, `fresh_per_connection` more for the uncached one.
/// Every token must be bound to the client's certificate.
async fn issue_tokens(
    as_addr: SocketAddr,
    clients: &[Arc<BenchClient>],
    options: &Options,
) -> Vec<(HeaderValue, Vec<HeaderValue>)> {
    let tasks: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(n, client)| {
            let client = client.clone();
            let count = 1 + if n < options.connections {
                options.fresh_per_connection()
            } else {
                0
            };
            tokio::spawn(async move {
                let mut sender = connect(as_addr, &client.tls).await.expect("connect for tokens");
                let mut tokens = Vec::with_capacity(count);
                for _ in 0..count {
                    let body = request_token(&mut sender, &client, false).await.expect("token");
                    let token = check_token(&body, &client).expect("a token bound to the client");
                    tokens.push(HeaderValue::from_str(&format!("Bearer {token}")).expect("header value"));
                }
                let bearer = tokens.remove(0);
                (bearer, tokens)
            })
        })
        .collect();
    let mut tokens = Vec::with_capacity(tasks.len());
    for task in tasks {
        tokens.push(task.await.expect("token task"));
    }
    tokens
}

// ---------------------------------------------------------------------------------------------
// Requests

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Open,
    Protected,
    Gateway,
    Uncached,
}

impl Scenario {
    /// The scenarios of a side-by-side round, in order.
    const ROUND: [Scenario; 3] = [Scenario::Open, Scenario::Protected, Scenario::Gateway];

    fn name(self) -> &'static str {
        match self {
            Scenario::Open => "open (no middleware)",
            Scenario::Protected => "protected, cached",
            Scenario::Gateway => "gateway, cached",
            Scenario::Uncached => "protected, uncached",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Scenario::Open => "/open",
            Scenario::Protected | Scenario::Uncached => "/protected",
            Scenario::Gateway => GATEWAY_PATH,
        }
    }
}

/// `GET path` with the given token and API key, if any.
fn get_request(path: &str, bearer: Option<&HeaderValue>, api_key: Option<&HeaderValue>) -> Request<Full<Bytes>> {
    let mut request = request(Method::GET, path, Bytes::new());
    let headers = request.headers_mut();
    if let Some(bearer) = bearer {
        headers.insert(AUTHORIZATION, bearer.clone());
    }
    if let Some(key) = api_key {
        headers.insert(certbound::rs::api_keys::HEADER, key.clone());
    }
    request
}

/// One request of `scenario`, which must be admitted: 200 with the handler's body or, from the
/// gateway, the client's id.
async fn call(
    sender: &mut Sender,
    scenario: Scenario,
    credentials: &Credentials,
    bearer: &HeaderValue,
) -> Result<(), String> {
    let request = get_request(scenario.path(), Some(bearer), Some(&credentials.api_key));
    let response = send(sender, request).await?;
    let status = response.status();
    if status != StatusCode::OK {
        return Err(format!("{status}: {}", String::from_utf8_lossy(response.body())));
    }
    let admitted = match scenario {
        Scenario::Gateway => response
            .headers()
            .get(CLIENT_ID_HEADER)
            .is_some_and(|id| id == credentials.client.id.as_str()),
        _ => response.body() == BODY.as_bytes(),
    };
    if admitted {
        Ok(())
    } else {
        Err(format!("{} answered 200 for something else", scenario.path()))
    }
}

/// Before any measurement: `/open` answers anyone, while `/protected` and the gateway admit a
/// request only with the token, its certificate and the client's API key together.
async fn check_protection(server: &Server) {
    let [a, b] = [&server.credentials[0], &server.credentials[1]];
    let (ok, refused) = (StatusCode::OK, StatusCode::UNAUTHORIZED);
    let cases = [
        ("/open without credentials", Scenario::Open, a, None, None, ok),
        (
            "/protected with all three",
            Scenario::Protected,
            a,
            Some(a),
            Some(a),
            ok,
        ),
        (
            "/protected without the API key",
            Scenario::Protected,
            a,
            Some(a),
            None,
            refused,
        ),
        (
            "/protected without a token",
            Scenario::Protected,
            a,
            None,
            Some(a),
            refused,
        ),
        (
            "/protected with another client's API key",
            Scenario::Protected,
            a,
            Some(a),
            Some(b),
            refused,
        ),
        (
            "/protected over another certificate",
            Scenario::Protected,
            b,
            Some(a),
            Some(a),
            refused,
        ),
        ("gateway with all three", Scenario::Gateway, a, Some(a), Some(a), ok),
        (
            "gateway without the API key",
            Scenario::Gateway,
            a,
            Some(a),
            None,
            refused,
        ),
        (
            "gateway over another certificate",
            Scenario::Gateway,
            b,
            Some(a),
            Some(a),
            refused,
        ),
    ];
    println!(
        "{}: checking that only complete credentials are admitted (the server logs a warning for the \
         API key presented with another client's token)",
        server.alg
    );
    for (case, scenario, over, token, key, expected) in cases {
        let mut sender = connect(server.addr(scenario), &over.client.tls).await.expect("connect");
        let request = get_request(scenario.path(), token.map(|c| &c.bearer), key.map(|c| &c.api_key));
        let response = send(&mut sender, request).await.expect("response");
        assert_eq!(response.status(), expected, "{case}: {:?}", response.body());
    }
    println!("{}: protection checked ({} cases)", server.alg, cases.len());
}

// ---------------------------------------------------------------------------------------------
// Load generation

/// What one signing algorithm's server measured.
struct AlgResults {
    alg: &'static str,
    /// Each round's open, protected and gateway windows, in `Scenario::ROUND` order.
    rounds: Vec<[Measurement; 3]>,
    uncached: Measurement,
}

impl AlgResults {
    /// All rounds of one scenario together.
    fn total(&self, scenario: Scenario) -> Measurement {
        let i = Scenario::ROUND
            .iter()
            .position(|&s| s == scenario)
            .expect("a round scenario");
        let mut windows = self.rounds.iter().map(|round| round[i].clone());
        let mut total = windows.next().expect("at least one round");
        windows.for_each(|m| total.merge(m));
        total
    }
}

async fn run_alg(alg: &'static str, options: &Options) -> AlgResults {
    let server = Server::start(alg, options).await;
    check_protection(&server).await;
    let mut rounds = Vec::with_capacity(options.rounds);
    for round in 0..options.rounds {
        let mut order = Scenario::ROUND;
        if round % 2 == 1 {
            order.reverse();
        }
        let mut measured: [Option<Measurement>; 3] = [None, None, None];
        for scenario in order {
            let m = measure(&server, scenario, round, options.duration, options).await;
            println!(
                "{alg} round {}: {}",
                round + 1,
                m.summary(scenario.name(), "requests", 4)
            );
            let i = Scenario::ROUND
                .iter()
                .position(|&s| s == scenario)
                .expect("a round scenario");
            measured[i] = Some(m);
        }
        rounds.push(measured.map(|m| m.expect("every scenario ran")));
    }
    let uncached = measure(&server, Scenario::Uncached, 0, UNCACHED_MAX_WINDOW, options).await;
    println!("{alg}: {}", uncached.summary(Scenario::Uncached.name(), "requests", 4));
    AlgResults { alg, rounds, uncached }
}

/// Runs one scenario with `options.connections` keep-alive connections; in round `round`,
/// connection `w` uses client `round * connections + w` (modulo the clients), so the rounds
/// rotate through every certificate.
async fn measure(
    server: &Server,
    scenario: Scenario,
    round: usize,
    duration: Duration,
    options: &Options,
) -> Measurement {
    let connections = options.connections;
    common::measure(
        server.process.pid(),
        options.warmup,
        duration,
        connections,
        |w, window| {
            let credentials = server.credentials[(round * connections + w) % server.credentials.len()].clone();
            worker(server.addr(scenario), scenario, credentials, window)
        },
    )
    .await
}

/// Sends requests on one keep-alive connection until the window ends (or the request bound is
/// hit), reopening it only after a failure. In the uncached scenario every request in the window
/// presents the next fresh token, and the worker stops when they run out.
async fn worker(addr: SocketAddr, scenario: Scenario, credentials: Arc<Credentials>, window: Window) -> WorkerStats {
    let mut stats = WorkerStats::default();
    let mut open: Option<Sender> = None;
    let mut fresh = credentials.fresh.iter();
    for _ in 0..MAX_REQUESTS_PER_WORKER {
        let began = Instant::now();
        if began >= window.end {
            break;
        }
        let bearer = match scenario {
            Scenario::Uncached if began >= window.start => match fresh.next() {
                Some(token) => token,
                None => break,
            },
            _ => &credentials.bearer,
        };
        let outcome = async {
            let mut sender = reuse_or_connect(&mut open, addr, &credentials.client.tls).await?;
            call(&mut sender, scenario, &credentials, bearer).await?;
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

/// Every scenario, rounds added up, with its CPU and throughput against the open baseline.
fn markdown_table(results: &[AlgResults]) -> String {
    let mut table = String::from(
        "| scenario | requests | errors | requests/s | p50 ms | p99 ms | server CPU ms/request \
         | over open ms/request | requests/s vs open | server cores | load generator cores | peak RSS MiB |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for r in results {
        let open = r.total(Scenario::Open);
        let rows = [
            (Scenario::Open, r.total(Scenario::Open)),
            (Scenario::Protected, r.total(Scenario::Protected)),
            (Scenario::Gateway, r.total(Scenario::Gateway)),
            (Scenario::Uncached, r.uncached.clone()),
        ];
        for (scenario, m) in rows {
            table.push_str(&format!(
                "| {} {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.4} | {:+.4} | {:.0} % | {:.2} | {:.2} | {:.1} |\n",
                scenario.name(),
                r.alg,
                m.ok,
                m.errors,
                m.per_second(),
                m.p50_ms(),
                m.p99_ms(),
                m.cpu_ms_per_request(),
                m.cpu_ms_per_request() - open.cpu_ms_per_request(),
                100.0 * m.per_second() / open.per_second(),
                m.server_cores(),
                m.generator_cores(),
                mib(m.usage.peak_rss_kib),
            ));
        }
    }
    table
}

/// The side-by-side rounds one by one, to show how much the figures move between windows.
fn rounds_table(results: &[AlgResults]) -> String {
    let mut table = String::from(
        "| server | round | open ms/request | protected ms/request | protected − open | gateway ms/request \
         | gateway − open | protected/open requests/s |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for r in results {
        for (n, [open, protected, gateway]) in r.rounds.iter().enumerate() {
            let cpu = |m: &Measurement| m.cpu_ms_per_request();
            table.push_str(&format!(
                "| {} | {} | {:.4} | {:.4} | {:+.4} | {:.4} | {:+.4} | {:.0} % |\n",
                r.alg,
                n + 1,
                cpu(open),
                cpu(protected),
                cpu(protected) - cpu(open),
                cpu(gateway),
                cpu(gateway) - cpu(open),
                100.0 * protected.per_second() / open.per_second(),
            ));
        }
    }
    table
}

/// The targets of the issue, met or not, per server. The middleware's cost is given with the
/// standard error of its per-round values, and with the spread of the open baseline between
/// rounds, which shows how much the figures move from one window to the next.
fn verdicts(results: &[AlgResults]) -> String {
    let mut lines = Vec::new();
    for r in results {
        let (open, protected) = (r.total(Scenario::Open), r.total(Scenario::Protected));
        let cost = protected.cpu_ms_per_request() - open.cpu_ms_per_request();
        let per_round: Vec<f64> = r
            .rounds
            .iter()
            .map(|[o, p, _]| p.cpu_ms_per_request() - o.cpu_ms_per_request())
            .collect();
        let open_rounds: Vec<f64> = r.rounds.iter().map(|[o, _, _]| o.cpu_ms_per_request()).collect();
        let ratio = protected.per_second() / open.per_second();
        let verdict = |met: bool| if met { "met" } else { "MISSED" };
        lines.push(format!(
            "{}: middleware (cached) {:+.4} ± {:.4} ms/request over open (rounds {:+.4} … {:+.4}; open itself \
             {:.4} … {:.4}), target ≤ {TARGET_MIDDLEWARE_MS} ms: {}; throughput {:.1} % of open (per server CPU \
             second {:.1} %), target ≥ {:.0} %: {}; errors {}",
            r.alg,
            cost,
            standard_error(&per_round),
            min(&per_round),
            max(&per_round),
            min(&open_rounds),
            max(&open_rounds),
            verdict(cost <= TARGET_MIDDLEWARE_MS),
            100.0 * ratio,
            100.0 * open.cpu_ms_per_request() / protected.cpu_ms_per_request(),
            100.0 * TARGET_THROUGHPUT_RATIO,
            verdict(ratio >= TARGET_THROUGHPUT_RATIO),
            r.rounds.iter().flatten().map(|m| m.errors).sum::<u64>() + r.uncached.errors,
        ));
    }
    lines.join("\n")
}

/// Standard error of the mean (0 for a single value).
fn standard_error(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    if values.len() < 2 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (variance / n).sqrt()
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}
