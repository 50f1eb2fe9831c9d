//! Load benchmark for `POST /token`: runs the real `certbound` binary and drives it over mutual
//! TLS from many distinct client certificates, measuring throughput, latency, and the server's
//! own CPU time and memory.
//!
//! ```sh
//! cargo bench --bench token_load
//! cargo bench --bench token_load -- --duration 10 --warmup 2 --connections 64 --workers 32 --clients 200
//! ```
//!
//! Scenarios, each a warm-up followed by a measured window:
//! - keep-alive ES256: long-lived connections, each with its own certificate, sending requests
//!   back to back: what issuing one token costs.
//! - new-connection ES256: a fresh TCP connection and full TLS handshake (no resumption) for
//!   every request, certificates rotating: what a client that never reuses connections costs.
//! - keep-alive PS256: as the first, on a server restarted with RSA-PSS signing.
//!
//! The load generator runs on the same machine and competes with the server for CPU, so tokens/s
//! depends on the core count; the server's CPU time per request, read from `/proc`, is the
//! steadier figure. Only 127.0.0.1 is contacted, every loop is bounded by time and by count, and
//! the server is killed when the run ends, panics included.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use certbound::client::{AuthMethod, Client, ClientStatus, SubjectMatcher};
use certbound::pki::dev::{CertSpec, IssuedCert, PkiLayout};
use certbound::pki::{certs_from_pem, DistinguishedName, Thumbprint};
use certbound::store::Store;
use http::header::{CONNECTION, CONTENT_TYPE, HOST};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::client::Resumption;
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// What runs: each signing algorithm gets a fresh server, which then serves these modes in turn.
const PLAN: &[(&str, &[Mode])] = &[
    ("ES256", &[Mode::KeepAlive, Mode::NewConnection]),
    ("PS256", &[Mode::KeepAlive]),
];
/// Upper bound on requests per worker, warm-up included, whatever the duration.
const MAX_REQUESTS_PER_WORKER: u64 = 200_000;
/// Every this many requests a worker decodes the token and checks its binding (the first
/// request included); checking all of them would load the shared CPU with client work.
const VERIFY_EVERY: u64 = 64;
/// How long the server may take to answer `/healthz` after it is spawned.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between the server answering and the idle RSS reading, so start-up work has finished.
const SETTLE: Duration = Duration::from_millis(500);
/// How often the server's RSS is sampled during a run.
const RSS_SAMPLE_INTERVAL: Duration = Duration::from_millis(50);

type Sender = SendRequest<Full<Bytes>>;

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
}

impl Default for Options {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            connections: 64,
            workers: 32,
            clients: 200,
        }
    }
}

impl Options {
    const USAGE: &str = "options: --duration SECS --warmup SECS --connections N --workers N \
                         --clients N (clients >= connections, workers >= 1)";

    fn from_args() -> Self {
        let mut options = Self::default();
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            // Cargo passes `--bench` to every benchmark binary.
            if flag == "--bench" {
                continue;
            }
            let value = args.next().unwrap_or_default();
            match flag.as_str() {
                "--duration" => options.duration = Duration::from_secs_f64(parse(&flag, &value)),
                "--warmup" => options.warmup = Duration::from_secs_f64(parse(&flag, &value)),
                "--connections" => options.connections = parse(&flag, &value),
                "--workers" => options.workers = parse(&flag, &value),
                "--clients" => options.clients = parse(&flag, &value),
                _ => panic!("unknown option {flag:?}; {}", Self::USAGE),
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

fn parse<T: FromStr>(flag: &str, value: &str) -> T {
    value
        .parse()
        .unwrap_or_else(|_| panic!("{flag} {value:?} is not a valid value; {}", Options::USAGE))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    KeepAlive,
    NewConnection,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::KeepAlive => "keep-alive",
            Mode::NewConnection => "new connection",
        }
    }
}

async fn run_plan(options: &Options) -> Vec<Report> {
    let mut reports = Vec::new();
    for &(alg, modes) in PLAN {
        let server = Server::start(alg, options).await;
        println!(
            "{alg} server pid {} on {}: idle RSS {:.1} MiB, {}",
            server.process.pid(),
            server.addr,
            mib(server.idle_rss_kib),
            server.tls_summary
        );
        for &mode in modes {
            let report = measure(&server, alg, mode, options).await;
            println!("{}", report.summary());
            reports.push(report);
        }
    }
    reports
}

// ---------------------------------------------------------------------------------------------
// The server under test

/// A registered client as the load generator uses it.
struct BenchClient {
    id: String,
    /// `x5t#S256` of the client's certificate, which every token must carry in `cnf`.
    thumbprint: String,
    /// Trusts the dev CA, presents the client's certificate, never resumes a session.
    tls: Arc<ClientConfig>,
    form: Bytes,
}

impl BenchClient {
    fn new(id: String, issued: &IssuedCert, ca: &CertificateDer<'static>) -> Self {
        let cert = issued.der();
        let thumbprint = Thumbprint::of_der(cert.as_ref()).to_base64url();
        let form = format!("grant_type=client_credentials&client_id={id}&scope=accounts");
        Self {
            tls: client_tls(ca, cert, &issued.key_pem),
            form: Bytes::from(form),
            id,
            thumbprint,
        }
    }
}

fn client_tls(ca: &CertificateDer<'static>, cert: CertificateDer<'static>, key_pem: &str) -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).expect("dev CA is a trust anchor");
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("client key PEM");
    let mut config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![cert], key)
        .expect("client certificate and key match");
    // Every new connection must pay for a full handshake, as a client without a session cache.
    config.resumption = Resumption::disabled();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A running `certbound serve` with its data directory and registered clients.
struct Server {
    /// Declared before `_dir` so the server is killed before its directory is removed.
    process: ServerProcess,
    _dir: tempfile::TempDir,
    addr: SocketAddr,
    clients: Vec<Arc<BenchClient>>,
    idle_rss_kib: u64,
    /// Protocol, cipher suite and key exchange the handshakes use.
    tls_summary: String,
}

impl Server {
    async fn start(alg: &str, options: &Options) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let clients = prepare_data_dir(dir.path(), options.clients).await;
        let addr = free_loopback_port();
        let mut process = ServerProcess::spawn(dir.path(), addr, alg);
        wait_until_healthy(&mut process, addr, &clients[0].tls).await;
        tokio::time::sleep(SETTLE).await;
        Self {
            idle_rss_kib: status_kib(process.pid(), "VmRSS"),
            tls_summary: tls_summary(addr, &clients[0].tls).await,
            process,
            _dir: dir,
            addr,
            clients,
        }
    }
}

/// Writes the dev PKI and registers `count` clients (`bench-NNN`, subject `CN=bench-NNN`) where
/// the server's defaults will find them. Done before the server starts, so it comes up with
/// everything in place and no registration clears its client cache during a measurement.
async fn prepare_data_dir(dir: &Path, count: usize) -> Vec<Arc<BenchClient>> {
    let data = dir.join("certbound-data");
    let pki = PkiLayout::new(data.join("pki"));
    pki.init().expect("dev PKI");
    let ca = pki.authority().expect("dev CA");
    let ca_der = certs_from_pem(ca.cert_pem().as_bytes()).expect("dev CA PEM").remove(0);
    let url = format!("sqlite://{}?mode=rwc", data.join("certbound.db").display());
    let store = Store::connect(&url).await.expect("SQLite database");
    let mut clients = Vec::with_capacity(count);
    for n in 0..count {
        let id = format!("bench-{n:03}");
        let issued = ca.issue(&CertSpec::client(&id, 30)).expect("client certificate");
        store.insert_client(&registration(&id)).await.expect("register client");
        clients.push(Arc::new(BenchClient::new(id, &issued, &ca_der)));
    }
    store.close().await;
    clients
}

/// A `tls_client_auth` client matched by subject DN, as `certbound client add` would register it.
fn registration(id: &str) -> Client {
    let now = certbound::now();
    let dn = DistinguishedName::parse(&format!("CN={id}")).expect("valid DN");
    Client {
        client_id: id.to_string(),
        name: id.to_string(),
        status: ClientStatus::Active,
        auth_method: AuthMethod::TlsClientAuth,
        grant_types: vec!["client_credentials".into()],
        scopes: vec!["accounts".into()],
        redirect_uris: Vec::new(),
        bound_access_tokens: true,
        subject: Some(SubjectMatcher::Dn(dn)),
        jwks: None,
        ca_pins: Vec::new(),
        cert_pins: Vec::new(),
        issuer_serial_pins: Vec::new(),
        can_introspect: false,
        created_at: now,
        updated_at: now,
    }
}

fn free_loopback_port() -> SocketAddr {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// The `certbound serve` child process, killed when dropped so that a failing run leaves no
/// server behind.
struct ServerProcess(Child);

impl ServerProcess {
    fn spawn(dir: &Path, addr: SocketAddr, alg: &str) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_certbound"));
        // Settings from the caller's environment would change what is measured.
        for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("CERTBOUND_")) {
            command.env_remove(name);
        }
        let child = command
            .arg("serve")
            .current_dir(dir)
            .env("CERTBOUND_LISTEN", addr.to_string())
            .env("CERTBOUND_LOG", "warn")
            .env("CERTBOUND_SIGNING_ALG", alg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn certbound serve");
        Self(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_until_healthy(process: &mut ServerProcess, addr: SocketAddr, tls: &Arc<ClientConfig>) {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Ok(Some(status)) = process.0.try_wait() {
            panic!("certbound serve exited during start-up: {status}");
        }
        if let Ok(mut sender) = connect(addr, tls).await {
            let request = request(Method::GET, "/healthz", Bytes::new());
            if let Ok((StatusCode::OK, _)) = send(&mut sender, request).await {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "certbound serve did not answer /healthz within {STARTUP_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn tls_summary(addr: SocketAddr, tls: &Arc<ClientConfig>) -> String {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let stream = TlsConnector::from(tls.clone())
        .connect(server_name(), tcp)
        .await
        .expect("TLS handshake");
    let conn = stream.get_ref().1;
    let (Some(version), Some(suite), Some(group)) = (
        conn.protocol_version(),
        conn.negotiated_cipher_suite(),
        conn.negotiated_key_exchange_group(),
    ) else {
        panic!("a finished handshake has negotiated parameters");
    };
    format!("{version:?} {:?} {:?}", suite.suite(), group.name())
}

// ---------------------------------------------------------------------------------------------
// Load generation

/// Where the measured window lies; requests completing outside it are not counted.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

impl Window {
    fn contains(&self, t: Instant) -> bool {
        self.start <= t && t < self.end
    }
}

/// What one worker saw.
#[derive(Debug, Default)]
struct WorkerStats {
    /// Successful requests that completed inside the window.
    ok: u64,
    /// Failed requests, warm-up included: any failure means the run is not trustworthy.
    errors: u64,
    first_error: Option<String>,
    /// Latency of each successful request in the window, in microseconds.
    latencies_us: Vec<u32>,
}

impl WorkerStats {
    fn record(&mut self, window: Window, began: Instant, outcome: Result<(), String>) {
        let done = Instant::now();
        match outcome {
            Ok(()) if window.contains(done) => {
                self.ok += 1;
                let us = done.duration_since(began).as_micros();
                self.latencies_us.push(u32::try_from(us).unwrap_or(u32::MAX));
            }
            Ok(()) => {}
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }

    fn merge(&mut self, other: WorkerStats) {
        self.ok += other.ok;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latencies_us.extend(other.latencies_us);
    }
}

/// Runs one mode against `server`: warm-up, then the measured window, while a sampler reads
/// CPU times and the server's RSS.
async fn measure(server: &Server, alg: &str, mode: Mode, options: &Options) -> Report {
    let start = Instant::now() + options.warmup;
    let window = Window {
        start,
        end: start + options.duration,
    };
    let pid = server.process.pid();
    let usage = tokio::task::spawn_blocking(move || sample_usage(pid, window));
    let concurrency = match mode {
        Mode::KeepAlive => options.connections,
        Mode::NewConnection => options.workers,
    };
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let clients = worker_clients(&server.clients, mode, w, concurrency);
            tokio::spawn(worker(server.addr, mode, clients, window))
        })
        .collect();
    let mut stats = WorkerStats::default();
    for worker in workers {
        stats.merge(worker.await.expect("load worker panicked"));
    }
    Report::new(
        format!("{} {alg}", mode.name()),
        concurrency,
        options.duration,
        stats,
        usage.await.expect("sampler panicked"),
        server.idle_rss_kib,
    )
}

/// Keep-alive worker `w` holds one connection with client `w`'s certificate; new-connection
/// workers share out all the clients and cycle through their share.
fn worker_clients(all: &[Arc<BenchClient>], mode: Mode, w: usize, workers: usize) -> Vec<Arc<BenchClient>> {
    match mode {
        Mode::KeepAlive => vec![all[w].clone()],
        Mode::NewConnection => all.iter().skip(w).step_by(workers).cloned().collect(),
    }
}

/// Sends token requests until the window ends (or the request bound is hit). In keep-alive
/// mode the connection is reused and reopened only after a failure; otherwise every request
/// opens its own connection.
async fn worker(addr: SocketAddr, mode: Mode, clients: Vec<Arc<BenchClient>>, window: Window) -> WorkerStats {
    let mut stats = WorkerStats::default();
    let mut open: Option<Sender> = None;
    for n in 0..MAX_REQUESTS_PER_WORKER {
        if Instant::now() >= window.end {
            break;
        }
        let client = &clients[n as usize % clients.len()];
        let began = Instant::now();
        let outcome = async {
            let mut sender = match open.take() {
                Some(sender) => sender,
                None => connect(addr, &client.tls).await?,
            };
            let verify = n % VERIFY_EVERY == 0;
            request_token(&mut sender, client, mode, verify).await?;
            if mode == Mode::KeepAlive {
                open = Some(sender);
            }
            Ok::<(), String>(())
        }
        .await;
        stats.record(window, began, outcome);
    }
    stats
}

fn server_name() -> ServerName<'static> {
    ServerName::try_from("localhost").expect("valid DNS name")
}

/// TCP connect, TLS handshake presenting the client's certificate, HTTP/1.1 connection.
async fn connect(addr: SocketAddr, tls: &Arc<ClientConfig>) -> Result<Sender, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    let stream = TlsConnector::from(tls.clone())
        .connect(server_name(), tcp)
        .await
        .map_err(|e| format!("TLS handshake: {e}"))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

fn request(method: Method, path: &str, body: Bytes) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, "localhost")
        .body(Full::new(body))
        .expect("valid request")
}

async fn send(sender: &mut Sender, request: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes), String> {
    sender.ready().await.map_err(|e| format!("connection: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("response body: {e}"))?
        .to_bytes();
    Ok((status, body))
}

/// `POST /token` with the client credentials grant; any answer but 200 is a failure. With
/// `verify`, the token must name the client and be bound to its certificate.
async fn request_token(sender: &mut Sender, client: &BenchClient, mode: Mode, verify: bool) -> Result<(), String> {
    let mut request = request(Method::POST, "/token", client.form.clone());
    let headers = request.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        "application/x-www-form-urlencoded".parse().expect("header"),
    );
    if mode == Mode::NewConnection {
        // As a one-shot client (curl, a cron job) says; the server then closes the connection.
        headers.insert(CONNECTION, "close".parse().expect("header"));
    }
    let (status, body) = send(sender, request).await?;
    if status != StatusCode::OK {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
    }
    if verify {
        check_token(&body, client)?;
    }
    Ok(())
}

/// The access token's `client_id` and `cnf.x5t#S256` claims are the client's. The signature is
/// not checked here: the integration tests do that, and it would load the shared CPU.
fn check_token(body: &[u8], client: &BenchClient) -> Result<(), String> {
    let response: Value = serde_json::from_slice(body).map_err(|e| format!("response: {e}"))?;
    let payload = response["access_token"]
        .as_str()
        .and_then(|jwt| jwt.split('.').nth(1))
        .ok_or("response has no JWT access_token")?;
    let claims: Value = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or("access token payload is not base64url JSON")?;
    if claims["client_id"] != client.id.as_str() {
        return Err(format!("token for {} names {}", client.id, claims["client_id"]));
    }
    if claims["cnf"]["x5t#S256"] != client.thumbprint.as_str() {
        return Err(format!("token for {} has cnf {}", client.id, claims["cnf"]));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Resource usage, from /proc

/// CPU time over the window, of the server and of this load generator (which shares the
/// machine's cores with it), and the server's largest RSS from the start of the warm-up to the
/// end of the window.
#[derive(Debug, Clone, Copy)]
struct Usage {
    server_cpu: Duration,
    generator_cpu: Duration,
    peak_rss_kib: u64,
}

/// Runs on a blocking thread rather than the busy load-generating runtime, so the CPU readings
/// are taken on time at the window's edges.
fn sample_usage(pid: u32, window: Window) -> Usage {
    let generator = std::process::id();
    let mut peak_rss_kib = 0;
    let mut sample_until = |until: Instant| {
        while Instant::now() < until {
            peak_rss_kib = peak_rss_kib.max(status_kib(pid, "VmRSS"));
            let left = until.saturating_duration_since(Instant::now());
            std::thread::sleep(left.min(RSS_SAMPLE_INTERVAL));
        }
    };
    sample_until(window.start);
    let before = (cpu_ticks(pid), cpu_ticks(generator));
    sample_until(window.end);
    let after = (cpu_ticks(pid), cpu_ticks(generator));
    let ticks = |n: u64| Duration::from_secs_f64(n as f64 / clock_ticks_per_second() as f64);
    Usage {
        server_cpu: ticks(after.0 - before.0),
        generator_cpu: ticks(after.1 - before.1),
        peak_rss_kib,
    }
}

/// User plus system CPU time of the whole process (every thread), in clock ticks: fields 14
/// and 15 of `/proc/PID/stat`.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // The command name (field 2) may contain spaces; the fields after it start at field 3.
    let (_, after_name) = stat.rsplit_once(')').expect("/proc stat format");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| -> u64 { fields[n - 3].parse().expect("/proc stat number") };
    field(14) + field(15)
}

/// A `kB` line of `/proc/PID/status`, such as `VmRSS`.
fn status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("server /proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
}

/// `getconf CLK_TCK`, the unit of `/proc` CPU times (100 on Linux in practice).
fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

// ---------------------------------------------------------------------------------------------
// Reporting

#[derive(Debug)]
struct Report {
    scenario: String,
    concurrency: usize,
    window: Duration,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    p50_ms: f64,
    p99_ms: f64,
    usage: Usage,
    idle_rss_kib: u64,
}

impl Report {
    fn new(
        scenario: String,
        concurrency: usize,
        window: Duration,
        mut stats: WorkerStats,
        usage: Usage,
        idle_rss_kib: u64,
    ) -> Self {
        stats.latencies_us.sort_unstable();
        let percentile_ms = |p: f64| {
            let sorted = &stats.latencies_us;
            let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len().max(1));
            sorted.get(rank - 1).map_or(f64::NAN, |&us| f64::from(us) / 1000.0)
        };
        Self {
            p50_ms: percentile_ms(0.50),
            p99_ms: percentile_ms(0.99),
            scenario,
            concurrency,
            window,
            ok: stats.ok,
            errors: stats.errors,
            first_error: stats.first_error,
            usage,
            idle_rss_kib,
        }
    }

    fn tokens_per_second(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64()
    }

    fn cpu_ms_per_request(&self) -> f64 {
        self.usage.server_cpu.as_secs_f64() * 1000.0 / self.ok.max(1) as f64
    }

    /// Cores the server kept busy on average during the window.
    fn server_cores(&self) -> f64 {
        self.usage.server_cpu.as_secs_f64() / self.window.as_secs_f64()
    }

    /// Cores the load generator itself kept busy, which the server could not use.
    fn generator_cores(&self) -> f64 {
        self.usage.generator_cpu.as_secs_f64() / self.window.as_secs_f64()
    }

    fn summary(&self) -> String {
        let mut line = format!(
            "{}: {} tokens in {:?} ({:.0}/s), {} errors, p50 {:.2} ms, p99 {:.2} ms, \
             server CPU {:.3} ms/token on {:.2} cores (load generator {:.2} cores), \
             peak RSS {:.1} MiB",
            self.scenario,
            self.ok,
            self.window,
            self.tokens_per_second(),
            self.errors,
            self.p50_ms,
            self.p99_ms,
            self.cpu_ms_per_request(),
            self.server_cores(),
            self.generator_cores(),
            mib(self.usage.peak_rss_kib)
        );
        if let Some(e) = &self.first_error {
            line.push_str(&format!("\n  first error: {e}"));
        }
        line
    }
}

fn markdown_table(reports: &[Report]) -> String {
    let mut table = String::from(
        "| scenario | concurrency | tokens | errors | tokens/s | p50 ms | p99 ms \
         | server CPU ms/token | server cores | load generator cores | idle RSS MiB | peak RSS MiB |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for r in reports {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.3} | {:.2} | {:.2} | {:.1} | {:.1} |\n",
            r.scenario,
            r.concurrency,
            r.ok,
            r.errors,
            r.tokens_per_second(),
            r.p50_ms,
            r.p99_ms,
            r.cpu_ms_per_request(),
            r.server_cores(),
            r.generator_cores(),
            mib(r.idle_rss_kib),
            mib(r.usage.peak_rss_kib),
        ));
    }
    table
}
