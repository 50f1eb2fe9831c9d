//! What the load benchmarks share: registering clients with their own certificates, the mTLS
//! HTTP/1.1 client, the server process guard, measurement windows, and CPU and memory readings
//! from `/proc`. Each benchmark uses part of it.
#![allow(dead_code)]

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use certbound::domain::{AuthMethod, Client, ClientStatus, GrantType, SubjectMatcher};
use certbound::pki::dev::{CertSpec, IssuedCert, PkiLayout};
use certbound::pki::{certs_from_pem, DistinguishedName, Thumbprint};
use certbound::store::Store;
use http::header::{CONNECTION, CONTENT_TYPE, HOST};
use http::{Method, Request, Response, StatusCode};
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

pub mod jwt;
pub mod signed;

/// How often the server's RSS is sampled during a run.
const RSS_SAMPLE_INTERVAL: Duration = Duration::from_millis(50);

pub type Sender = SendRequest<Full<Bytes>>;

// ---------------------------------------------------------------------------------------------
// Command line

/// The command line's `--flag value` pairs, skipping the `--bench` cargo passes to every
/// benchmark binary.
pub fn flag_values() -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(flag) = args.next() {
        pairs.push((flag, args.next().unwrap_or_default()));
    }
    pairs
}

pub fn parse<T: FromStr>(flag: &str, value: &str, usage: &str) -> T {
    value
        .parse()
        .unwrap_or_else(|_| panic!("{flag} {value:?} is not a valid value; {usage}"))
}

// ---------------------------------------------------------------------------------------------
// Clients and the server's data directory

/// A registered client as the load generator uses it.
pub struct BenchClient {
    pub id: String,
    /// `x5t#S256` of the client's certificate, which every token must carry in `cnf`.
    pub thumbprint: String,
    /// Trusts the dev CA, presents the client's certificate, never resumes a session.
    pub tls: Arc<ClientConfig>,
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

pub fn client_tls(ca: &CertificateDer<'static>, cert: CertificateDer<'static>, key_pem: &str) -> Arc<ClientConfig> {
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

/// The server's data directory under `dir`, where `certbound serve` looks by default when
/// started in `dir`.
pub fn data_dir(dir: &Path) -> std::path::PathBuf {
    dir.join("certbound-data")
}

/// The server's default SQLite database in `data_dir(dir)`.
pub fn database_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir(dir).join("certbound.db").display())
}

/// Writes the dev PKI and registers `count` clients (`bench-NNN`, subject `CN=bench-NNN`) where
/// the server's defaults will find them. Done before the server starts, so it comes up with
/// everything in place and no registration clears its client cache during a measurement.
pub async fn prepare_data_dir(dir: &Path, count: usize) -> Vec<Arc<BenchClient>> {
    prepare_data_dir_for(dir, &database_url(dir), count, &[GrantType::ClientCredentials], &[]).await
}

/// [`prepare_data_dir`] with clients registered, in the database at `database`, for `grants` and
/// `redirect_uris`.
pub async fn prepare_data_dir_for(
    dir: &Path,
    database: &str,
    count: usize,
    grants: &[GrantType],
    redirect_uris: &[&str],
) -> Vec<Arc<BenchClient>> {
    let pki = PkiLayout::new(data_dir(dir).join("pki"));
    pki.init().expect("dev PKI");
    let ca = pki.authority().expect("dev CA");
    let ca_der = certs_from_pem(ca.cert_pem().as_bytes()).expect("dev CA PEM").remove(0);
    let store = Store::connect(database).await.expect("database");
    let mut clients = Vec::with_capacity(count);
    for n in 0..count {
        let id = format!("bench-{n:03}");
        let issued = ca.issue(&CertSpec::client(&id, 30)).expect("client certificate");
        let mut client = registration(&id);
        client.grant_types = grants.to_vec();
        client.redirect_uris = redirect_uris.iter().map(|u| u.to_string()).collect();
        store.insert_client(&client).await.expect("register client");
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
        grant_types: vec![GrantType::ClientCredentials],
        scopes: vec!["openid".into(), "accounts".into()],
        redirect_uris: Vec::new(),
        bound_access_tokens: true,
        dpop_bound_access_tokens: false,
        require_signed_request_object: false,
        subject: Some(SubjectMatcher::Dn(dn)),
        jwks: None,
        jwks_uri: None,
        ca_pins: Vec::new(),
        cert_pins: Vec::new(),
        issuer_serial_pins: Vec::new(),
        can_introspect: false,
        authorization_details_types: Vec::new(),
        created_at: now,
        updated_at: now,
    }
}

// ---------------------------------------------------------------------------------------------
// The server process

/// The server's child process, killed when dropped so that a failing run leaves no server
/// behind.
pub struct ServerProcess(pub Child);

impl ServerProcess {
    /// Spawns `command`, without the caller's `CERTBOUND_*` settings, which would change what is
    /// measured.
    pub fn spawn(command: &mut Command) -> Self {
        for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("CERTBOUND_")) {
            command.env_remove(name);
        }
        Self(command.spawn().expect("spawn the server"))
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

/// How long a server role may take to report its addresses after it is spawned.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts this benchmark's own executable as a server (`role_var=server`, with `envs`) and reads
/// the socket addresses it prints on its first line. Its standard input stays open: the server
/// exits when it closes.
pub async fn spawn_role(
    role_var: &str,
    envs: &[(&str, &std::ffi::OsStr)],
) -> (ServerProcess, Vec<std::net::SocketAddr>) {
    let mut command = Command::new(std::env::current_exe().expect("this benchmark's executable"));
    command
        .env(role_var, "server")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    for (name, value) in envs {
        command.env(name, value);
    }
    let mut process = ServerProcess::spawn(&mut command);
    let stdout = process.0.stdout.take().expect("piped stdout");
    let read = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = match tokio::time::timeout(STARTUP_TIMEOUT, read).await {
        Ok(Ok(Ok(line))) if !line.is_empty() => line,
        Ok(_) => panic!("the server exited during start-up: {:?}", process.0.try_wait()),
        Err(_) => panic!("the server did not start within {STARTUP_TIMEOUT:?}"),
    };
    let addrs = line
        .split_whitespace()
        .map(|a| a.parse().expect("the server prints socket addresses"))
        .collect();
    (process, addrs)
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_loopback_port() -> SocketAddr {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// `certbound serve` in `dir`, with its default configuration but for the addresses, the log
/// level and `envs`. `addr` is the mTLS listener, where tokens are issued. Its log goes to
/// `dir/server.log`.
pub fn spawn_certbound(dir: &Path, front: SocketAddr, addr: SocketAddr, envs: &[(&str, &str)]) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_certbound"));
    command
        .arg("serve")
        .current_dir(dir)
        .env("CERTBOUND_LISTEN", front.to_string())
        .env("CERTBOUND_MTLS_LISTEN", addr.to_string())
        .env("CERTBOUND_LOG", "warn")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("server.log")).expect("the server's log file"));
    ServerProcess::spawn(&mut command)
}

pub async fn wait_until_healthy(process: &mut ServerProcess, addr: SocketAddr, tls: &Arc<ClientConfig>) {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Ok(Some(status)) = process.0.try_wait() {
            panic!("certbound serve exited during start-up: {status}");
        }
        if let Ok(mut sender) = connect(addr, tls).await {
            let request = request(Method::GET, "/healthz", Bytes::new());
            if send(&mut sender, request)
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK)
            {
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

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 over mutual TLS

pub fn server_name() -> ServerName<'static> {
    ServerName::try_from("localhost").expect("valid DNS name")
}

/// TCP connect, TLS handshake presenting the client's certificate, HTTP/1.1 connection.
pub async fn connect(addr: std::net::SocketAddr, tls: &Arc<ClientConfig>) -> Result<Sender, String> {
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

/// The keep-alive connection `open` if there is one, else a new one with `tls`.
pub async fn reuse_or_connect(
    open: &mut Option<Sender>,
    addr: std::net::SocketAddr,
    tls: &Arc<ClientConfig>,
) -> Result<Sender, String> {
    match open.take() {
        Some(sender) => Ok(sender),
        None => connect(addr, tls).await,
    }
}

/// Protocol, cipher suite and key exchange a handshake with `addr` negotiates.
pub async fn tls_summary(addr: std::net::SocketAddr, tls: &Arc<ClientConfig>) -> String {
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

pub fn request(method: Method, path: &str, body: Bytes) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, "localhost")
        .body(Full::new(body))
        .expect("valid request")
}

/// Sends one request and reads the whole response.
pub async fn send(sender: &mut Sender, request: Request<Full<Bytes>>) -> Result<Response<Bytes>, String> {
    sender.ready().await.map_err(|e| format!("connection: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| format!("response body: {e}"))?
        .to_bytes();
    Ok(Response::from_parts(parts, body))
}

/// `POST /token` with the client credentials grant; any answer but 200 is a failure. With
/// `close`, asks the server to close the connection afterwards, as a one-shot client (curl, a
/// cron job) does.
pub async fn request_token(sender: &mut Sender, client: &BenchClient, close: bool) -> Result<Bytes, String> {
    let response = post_token(sender, client.form.clone(), None, close).await?;
    if response.status() != StatusCode::OK {
        return Err(format!(
            "{}: {}",
            response.status(),
            String::from_utf8_lossy(response.body())
        ));
    }
    Ok(response.into_body())
}

/// `POST /token` with `form`, and a `DPoP` proof if given; the response, whatever its status.
pub async fn post_token(
    sender: &mut Sender,
    form: Bytes,
    dpop: Option<&str>,
    close: bool,
) -> Result<Response<Bytes>, String> {
    let mut request = request(Method::POST, "/token", form);
    let headers = request.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        "application/x-www-form-urlencoded".parse().expect("header"),
    );
    if let Some(proof) = dpop {
        headers.insert("dpop", proof.parse().map_err(|_| "proof is not a header value")?);
    }
    if close {
        headers.insert(CONNECTION, "close".parse().expect("header"));
    }
    send(sender, request).await
}

/// The access token of a token response, after checking that its `client_id` and
/// `cnf.x5t#S256` claims are the client's. The signature is not checked here: the integration
/// tests do that, and it would load the shared CPU.
pub fn check_token(body: &[u8], client: &BenchClient) -> Result<String, String> {
    check_claims(body, &client.id, &serde_json::json!({ "x5t#S256": client.thumbprint }))
}

/// The access token of a token response, after checking its `client_id` and `cnf`.
pub fn check_claims(body: &[u8], client_id: &str, cnf: &Value) -> Result<String, String> {
    let response: Value = serde_json::from_slice(body).map_err(|e| format!("response: {e}"))?;
    let token = response["access_token"]
        .as_str()
        .ok_or("response has no access_token")?;
    let payload = token.split('.').nth(1).ok_or("access token is not a JWT")?;
    let claims: Value = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or("access token payload is not base64url JSON")?;
    if claims["client_id"] != client_id {
        return Err(format!("token for {client_id} names {}", claims["client_id"]));
    }
    if claims["cnf"] != *cnf {
        return Err(format!("token for {client_id} has cnf {}", claims["cnf"]));
    }
    Ok(token.to_string())
}

// ---------------------------------------------------------------------------------------------
// Measurement

/// Where the measured window lies; requests completing outside it are not counted.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

impl Window {
    pub fn contains(&self, t: Instant) -> bool {
        self.start <= t && t < self.end
    }
}

/// What one worker saw.
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Successful requests that completed inside the window.
    ok: u64,
    /// Failed requests, warm-up included: any failure means the run is not trustworthy.
    errors: u64,
    first_error: Option<String>,
    /// Latency of each successful request in the window, in microseconds.
    latencies_us: Vec<u32>,
}

impl WorkerStats {
    pub fn record(&mut self, window: Window, began: Instant, outcome: Result<(), String>) {
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

    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// Latencies of the successful requests in the window, in milliseconds.
    pub fn latencies_ms(&self) -> impl Iterator<Item = f64> + '_ {
        self.latencies_us.iter().map(|&us| f64::from(us) / 1000.0)
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

/// Runs `concurrency` workers against the server `pid` (`worker(w, window)` is worker `w`): a
/// warm-up, then a measured window of at most `duration`, while a sampler reads CPU times and the
/// server's RSS. The window ends early if every worker has finished before it would.
pub async fn measure<F, Fut>(
    pid: u32,
    warmup: Duration,
    duration: Duration,
    concurrency: usize,
    mut worker: F,
) -> Measurement
where
    F: FnMut(usize, Window) -> Fut,
    Fut: Future<Output = WorkerStats> + Send + 'static,
{
    let start = Instant::now() + warmup;
    let window = Window {
        start,
        end: start + duration,
    };
    let (workers_running, workers_done) = std::sync::mpsc::channel::<()>();
    let usage = tokio::task::spawn_blocking(move || sample_usage(pid, window, workers_done));
    let workers: Vec<_> = (0..concurrency).map(|w| tokio::spawn(worker(w, window))).collect();
    let mut stats = WorkerStats::default();
    for worker in workers {
        stats.merge(worker.await.expect("load worker panicked"));
    }
    drop(workers_running);
    let mut latencies_us = stats.latencies_us;
    latencies_us.sort_unstable();
    Measurement {
        concurrency,
        ok: stats.ok,
        errors: stats.errors,
        first_error: stats.first_error,
        latencies_us,
        usage: usage.await.expect("sampler panicked"),
    }
}

/// One or more measured windows of the same scenario.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub concurrency: usize,
    pub ok: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Sorted.
    latencies_us: Vec<u32>,
    pub usage: Usage,
}

impl Measurement {
    /// Adds another window of the same scenario: requests, CPU and window lengths add up.
    pub fn merge(&mut self, other: Measurement) {
        self.ok += other.ok;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latencies_us.extend(other.latencies_us);
        self.latencies_us.sort_unstable();
        self.usage.window += other.usage.window;
        self.usage.server_cpu += other.usage.server_cpu;
        self.usage.generator_cpu += other.usage.generator_cpu;
        self.usage.peak_rss_kib = self.usage.peak_rss_kib.max(other.usage.peak_rss_kib);
    }

    /// Successful requests per second of window.
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.usage.window.as_secs_f64()
    }

    /// The server's CPU time per successful request.
    pub fn cpu_ms_per_request(&self) -> f64 {
        self.usage.server_cpu.as_secs_f64() * 1000.0 / self.ok.max(1) as f64
    }

    /// Cores the server kept busy on average during the window.
    pub fn server_cores(&self) -> f64 {
        self.usage.server_cpu.as_secs_f64() / self.usage.window.as_secs_f64()
    }

    /// Cores the load generator itself kept busy, which the server could not use.
    pub fn generator_cores(&self) -> f64 {
        self.usage.generator_cpu.as_secs_f64() / self.usage.window.as_secs_f64()
    }

    pub fn p50_ms(&self) -> f64 {
        self.percentile_ms(0.50)
    }

    pub fn p99_ms(&self) -> f64 {
        self.percentile_ms(0.99)
    }

    /// One line for the console: `unit` names what was counted ("tokens", "requests"), and
    /// `decimals` is the precision of the CPU time per request.
    pub fn summary(&self, name: &str, unit: &str, decimals: usize) -> String {
        let singular = unit.strip_suffix('s').unwrap_or(unit);
        let mut line = format!(
            "{name}: {} {unit} in {:.2?} ({:.0}/s), {} errors, p50 {:.2} ms, p99 {:.2} ms, \
             server CPU {:.decimals$} ms/{singular} on {:.2} cores (load generator {:.2} cores), \
             peak RSS {:.1} MiB",
            self.ok,
            self.usage.window,
            self.per_second(),
            self.errors,
            self.p50_ms(),
            self.p99_ms(),
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

    fn percentile_ms(&self, p: f64) -> f64 {
        let sorted = &self.latencies_us;
        let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len().max(1));
        sorted.get(rank - 1).map_or(f64::NAN, |&us| f64::from(us) / 1000.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Resource usage, from /proc

/// CPU time over the window, of the server and of this load generator (which shares the
/// machine's cores with it), and the server's largest RSS from the start of the warm-up to the
/// end of the window.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// How long the window lasted, from the first CPU reading to the second.
    pub window: Duration,
    pub server_cpu: Duration,
    pub generator_cpu: Duration,
    pub peak_rss_kib: u64,
}

/// Runs on a blocking thread rather than the busy load-generating runtime, so the CPU readings
/// are taken on time at the window's edges. The window ends at `window.end`, or earlier when
/// `workers_done` disconnects (every worker has finished).
fn sample_usage(pid: u32, window: Window, workers_done: Receiver<()>) -> Usage {
    let generator = std::process::id();
    let mut peak_rss_kib = 0;
    let mut sample_until = |until: Instant| {
        while Instant::now() < until {
            peak_rss_kib = peak_rss_kib.max(status_kib(pid, "VmRSS"));
            let left = until.saturating_duration_since(Instant::now());
            if let Err(RecvTimeoutError::Disconnected) = workers_done.recv_timeout(left.min(RSS_SAMPLE_INTERVAL)) {
                return;
            }
        }
    };
    sample_until(window.start);
    let (started, before) = (Instant::now(), (cpu_ticks(pid), cpu_ticks(generator)));
    sample_until(window.end);
    let (ended, after) = (Instant::now(), (cpu_ticks(pid), cpu_ticks(generator)));
    let ticks = |n: u64| Duration::from_secs_f64(n as f64 / clock_ticks_per_second() as f64);
    Usage {
        window: ended - started,
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
pub fn status_kib(pid: u32, key: &str) -> u64 {
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

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
