//! Load benchmark for `POST /token`: runs the real `certbound` binary and drives it over mutual
//! TLS from many distinct client certificates, measuring throughput, latency, and the server's
//! own CPU time and memory.
//!
//! ```sh
//! cargo bench --bench token_load
//! cargo bench --bench token_load -- --duration 10 --warmup 2 --connections 64 --workers 32 --clients 200
//! cargo bench --bench token_load -- --plan audit     # only keep-alive ES256, auditing on then off
//! ```
//!
//! Scenarios, each a warm-up followed by a measured window:
//! - keep-alive ES256: long-lived connections, each with its own certificate, sending requests
//!   back to back: what issuing one token costs.
//! - new-connection ES256: a fresh TCP connection and full TLS handshake (no resumption) for
//!   every request, certificates rotating: what a client that never reuses connections costs.
//! - keep-alive ES256 with `private_key_jwt`: the same, each request authenticated by a fresh
//!   ES256 client assertion (tokens still bound to the connection's certificate).
//! - keep-alive ES256 with DPoP: certificate authentication, each request with a fresh DPoP proof
//!   (tokens bound to the proof's key), the server's nonce learned from each response.
//! - keep-alive ES256 with `private_key_jwt` and DPoP: both.
//! - keep-alive PS256: as the first, on a server restarted with RSA-PSS signing.
//!
//! The first four run side by side on one server, so their ratios hold whatever the machine's
//! speed that day.
//!
//! The load generator runs on the same machine and competes with the server for CPU, so tokens/s
//! depends on the core count; the server's CPU time per request, read from `/proc`, is the
//! steadier figure. Only 127.0.0.1 is contacted, every loop is bounded by time and by count, and
//! the server is killed when the run ends, panics included.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::jwt::EsKey;
use common::signed::{register_pk_clients, signed_request, PkClient, Signer};
use common::{
    check_claims, flag_values, free_loopback_port, mib, parse, prepare_data_dir, request_token, reuse_or_connect,
    spawn_certbound, status_kib, tls_summary, wait_until_healthy, BenchClient, Measurement, Sender, ServerProcess,
    Window, WorkerStats,
};

/// What runs: each entry gets a fresh server (signing algorithm, auditing on or off), which then
/// serves these modes in turn. The audit-on and audit-off keep-alive ES256 windows come first on
/// their servers and back to back, so the two compare on the same machine seconds apart, with
/// the same history: a server that has already served the other modes carries their state
/// (replay records, caches, a heap grown by them) into the window.
type Plan = &'static [(&'static str, bool, &'static [Mode])];

const PLAN: Plan = &[
    ("ES256", false, &[Mode::KeepAlive]),
    (
        "ES256",
        true,
        &[
            Mode::KeepAlive,
            Mode::Assertion,
            Mode::Dpop,
            Mode::AssertionDpop,
            Mode::NewConnection,
        ],
    ),
    ("PS256", true, &[Mode::KeepAlive]),
];
/// `--plan audit`: the audit cost alone, for quicker runs while working on the audit trail.
const AUDIT_PLAN: Plan = &[
    ("ES256", false, &[Mode::KeepAlive]),
    ("ES256", true, &[Mode::KeepAlive]),
];
/// Upper bound on requests per worker, warm-up included, whatever the duration.
const MAX_REQUESTS_PER_WORKER: u64 = 200_000;
/// Every this many requests a worker decodes the token and checks its binding (the first
/// request included); checking all of them would load the shared CPU with client work.
const VERIFY_EVERY: u64 = 64;
/// Pause between the server answering and the idle RSS reading, so start-up work has finished.
const SETTLE: Duration = Duration::from_millis(500);

fn main() {
    let options = Options::from_args();
    certbound::install_crypto_provider();
    println!(
        "token_load: {} CPUs; {options:?}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let reports = runtime.block_on(run_plan(&options));
    println!("\n{}", markdown_table(&reports));
    println!("{}", audit_cost(&reports));
}

/// Keep-alive ES256 with auditing on against off: throughput and server CPU per token.
fn audit_cost(reports: &[Report]) -> String {
    let find = |name: &str| reports.iter().find(|r| r.scenario == name).map(|r| &r.measured);
    match (find("keep-alive ES256"), find("keep-alive ES256, audit off")) {
        (Some(on), Some(off)) => format!(
            "audit on / off, keep-alive ES256: tokens/s {:.3}, server CPU ms/token {:.3}",
            on.per_second() / off.per_second(),
            on.cpu_ms_per_request() / off.cpu_ms_per_request()
        ),
        _ => "audit on / off: not both measured".to_string(),
    }
}

/// Command-line knobs; with the defaults a whole run takes under a minute on two cores.
#[derive(Debug, Clone)]
struct Options {
    /// Length of each measured window.
    duration: Duration,
    /// Load before each window that is not measured: it opens the keep-alive connections and
    /// fills the server's client and chain-validation caches.
    warmup: Duration,
    /// Keep-alive connections, each with its own certificate.
    connections: usize,
    /// New-connection workers, each handshaking again for every request.
    workers: usize,
    /// Registered clients, each with its own certificate.
    clients: usize,
    /// What runs: [`PLAN`] or [`AUDIT_PLAN`].
    plan: Plan,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            connections: 64,
            workers: 32,
            clients: 200,
            plan: PLAN,
        }
    }
}

impl Options {
    const USAGE: &str = "options: --duration SECS --warmup SECS --connections N --workers N \
                         --clients N --plan all|audit (clients >= connections, workers >= 1)";

    fn from_args() -> Self {
        let mut options = Self::default();
        for (flag, value) in flag_values() {
            let usage = Self::USAGE;
            match flag.as_str() {
                "--duration" => options.duration = Duration::from_secs_f64(parse(&flag, &value, usage)),
                "--warmup" => options.warmup = Duration::from_secs_f64(parse(&flag, &value, usage)),
                "--connections" => options.connections = parse(&flag, &value, usage),
                "--workers" => options.workers = parse(&flag, &value, usage),
                "--clients" => options.clients = parse(&flag, &value, usage),
                "--plan" => {
                    options.plan = match value.as_str() {
                        "all" => PLAN,
                        "audit" => AUDIT_PLAN,
                        _ => panic!("--plan {value:?}; {usage}"),
                    }
                }
                _ => panic!("unknown option {flag:?}; {usage}"),
            }
        }
        assert!(
            options.connections >= 1 && options.workers >= 1 && options.clients >= options.connections,
            "{}",
            Self::USAGE
        );
        options
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    KeepAlive,
    /// Keep-alive, authenticated by a client assertion.
    Assertion,
    /// Keep-alive, with a DPoP proof.
    Dpop,
    AssertionDpop,
    NewConnection,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::KeepAlive => "keep-alive",
            Mode::Assertion => "keep-alive private_key_jwt",
            Mode::Dpop => "keep-alive DPoP",
            Mode::AssertionDpop => "keep-alive private_key_jwt + DPoP",
            Mode::NewConnection => "new connection",
        }
    }

    fn assertion(self) -> bool {
        matches!(self, Mode::Assertion | Mode::AssertionDpop)
    }

    fn dpop(self) -> bool {
        matches!(self, Mode::Dpop | Mode::AssertionDpop)
    }
}

async fn run_plan(options: &Options) -> Vec<Report> {
    let mut reports = Vec::new();
    for &(alg, audit, modes) in options.plan {
        let server = Server::start(alg, audit, options).await;
        let alg = match audit {
            true => alg.to_string(),
            false => format!("{alg}, audit off"),
        };
        println!(
            "{alg} server pid {} on {}: idle RSS {:.1} MiB, {}",
            server.process.pid(),
            server.addr,
            mib(server.idle_rss_kib),
            server.tls_summary
        );
        for &mode in modes {
            let report = measure(&server, &alg, mode, options).await;
            println!("{}", report.summary());
            reports.push(report);
        }
        if audit {
            println!("{alg} audit trail: {}", audit_accounts(server.metrics).await);
        }
    }
    reports
}

/// The server's audit counters once its writer has caught up (or 10 s have passed): every
/// event recorded should be written, none dropped or failed.
async fn audit_accounts(metrics: SocketAddr) -> String {
    const COUNTERS: [&str; 4] = ["recorded", "written", "dropped", "failed"];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = metrics_text(metrics).await;
        let count = |name: &str| {
            let metric = format!("certbound_audit_events_{name}_total ");
            text.lines()
                .find_map(|l| l.strip_prefix(&metric)?.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let [recorded, written, dropped, failed] = COUNTERS.map(count);
        if written + dropped + failed >= recorded || Instant::now() >= deadline {
            return format!("{recorded} events recorded, {written} written, {dropped} dropped, {failed} failed");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `GET /metrics` from the plain-HTTP metrics listener.
async fn metrics_text(addr: SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("metrics listener");
    let request = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("metrics request");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("metrics response");
    response
}

// ---------------------------------------------------------------------------------------------
// The server under test

/// A running `certbound serve` with its data directory and registered clients.
struct Server {
    /// Declared before `_dir` so the server is killed before its directory is removed.
    process: ServerProcess,
    _dir: tempfile::TempDir,
    addr: SocketAddr,
    /// The plain-HTTP `/metrics` listener.
    metrics: SocketAddr,
    /// The issuer identifier: the front listener's URL.
    issuer: String,
    clients: Vec<Arc<BenchClient>>,
    pk_clients: Vec<Arc<PkClient>>,
    idle_rss_kib: u64,
    /// Protocol, cipher suite and key exchange the handshakes use.
    tls_summary: String,
}

impl Server {
    async fn start(alg: &str, audit: bool, options: &Options) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let clients = prepare_data_dir(dir.path(), options.clients).await;
        let pk_clients = register_pk_clients(dir.path(), options.connections).await;
        let (front, addr, metrics) = (free_loopback_port(), free_loopback_port(), free_loopback_port());
        let audit = if audit { "true" } else { "false" };
        let metrics_listen = metrics.to_string();
        let envs = [
            ("CERTBOUND_SIGNING_ALG", alg),
            ("CERTBOUND_AUDIT", audit),
            ("CERTBOUND_METRICS_LISTEN", metrics_listen.as_str()),
        ];
        let mut process = spawn_certbound(dir.path(), front, addr, &envs);
        wait_until_healthy(&mut process, addr, &clients[0].tls).await;
        tokio::time::sleep(SETTLE).await;
        Self {
            idle_rss_kib: status_kib(process.pid(), "VmRSS"),
            tls_summary: tls_summary(addr, &clients[0].tls).await,
            process,
            _dir: dir,
            addr,
            metrics,
            issuer: format!("https://localhost:{}", front.port()),
            clients,
            pk_clients,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Load generation

/// Runs one mode against `server`: warm-up, then the measured window.
async fn measure(server: &Server, alg: &str, mode: Mode, options: &Options) -> Report {
    let concurrency = match mode {
        Mode::NewConnection => options.workers,
        _ => options.connections,
    };
    let measured = common::measure(
        server.process.pid(),
        options.warmup,
        options.duration,
        concurrency,
        |w, window| {
            let signer = Signer {
                pk: mode.assertion().then(|| server.pk_clients[w].clone()),
                dpop: mode.dpop().then(EsKey::generate),
                issuer: server.issuer.clone(),
                htu: format!("https://localhost:{}/token", server.addr.port()),
                nonce: None,
            };
            worker(
                server.addr,
                mode,
                worker_clients(&server.clients, mode, w, concurrency),
                signer,
                window,
            )
        },
    )
    .await;
    Report {
        scenario: format!("{} {alg}", mode.name()),
        measured,
        idle_rss_kib: server.idle_rss_kib,
    }
}

/// Keep-alive worker `w` holds one connection with client `w`'s certificate; new-connection
/// workers share out all the clients and cycle through their share.
fn worker_clients(all: &[Arc<BenchClient>], mode: Mode, w: usize, workers: usize) -> Vec<Arc<BenchClient>> {
    match mode {
        Mode::NewConnection => all.iter().skip(w).step_by(workers).cloned().collect(),
        _ => vec![all[w].clone()],
    }
}

/// Sends token requests until the window ends (or the request bound is hit). In keep-alive
/// mode the connection is reused and reopened only after a failure; otherwise every request
/// opens its own connection. Every `VERIFY_EVERY`th token must name the client and be bound to
/// its certificate.
async fn worker(
    addr: SocketAddr,
    mode: Mode,
    clients: Vec<Arc<BenchClient>>,
    mut signer: Signer,
    window: Window,
) -> WorkerStats {
    let mut stats = WorkerStats::default();
    let mut open: Option<Sender> = None;
    for n in 0..MAX_REQUESTS_PER_WORKER {
        if Instant::now() >= window.end {
            break;
        }
        let client = &clients[n as usize % clients.len()];
        let began = Instant::now();
        let outcome = async {
            let mut sender = reuse_or_connect(&mut open, addr, &client.tls).await?;
            let body = match mode {
                Mode::KeepAlive | Mode::NewConnection => {
                    request_token(&mut sender, client, mode == Mode::NewConnection).await?
                }
                _ => signed_request(&mut sender, client, &mut signer).await?,
            };
            if n % VERIFY_EVERY == 0 {
                let (id, cnf) = signer.expected(client);
                check_claims(&body, &id, &cnf)?;
            }
            if mode != Mode::NewConnection {
                open = Some(sender);
            }
            Ok::<(), String>(())
        }
        .await;
        stats.record(window, began, outcome);
    }
    stats
}

// ---------------------------------------------------------------------------------------------
// Reporting

#[derive(Debug)]
struct Report {
    scenario: String,
    measured: Measurement,
    idle_rss_kib: u64,
}

impl Report {
    fn summary(&self) -> String {
        self.measured.summary(&self.scenario, "tokens", 3)
    }
}

fn markdown_table(reports: &[Report]) -> String {
    let mut table = String::from(
        "| scenario | concurrency | tokens | errors | tokens/s | p50 ms | p99 ms \
         | server CPU ms/token | server cores | load generator cores | idle RSS MiB | peak RSS MiB |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for r in reports {
        let m = &r.measured;
        table.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.3} | {:.2} | {:.2} | {:.1} | {:.1} |\n",
            r.scenario,
            m.concurrency,
            m.ok,
            m.errors,
            m.per_second(),
            m.p50_ms(),
            m.p99_ms(),
            m.cpu_ms_per_request(),
            m.server_cores(),
            m.generator_cores(),
            mib(r.idle_rss_kib),
            mib(m.usage.peak_rss_kib),
        ));
    }
    table
}
