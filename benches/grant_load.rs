//! Load benchmark for the customer's grants: what redeeming an authorization code and using a
//! refresh token cost the server, each measured side by side with a client credentials token on
//! the same server in the same run, and how long the whole code flow takes for a customer.
//!
//! ```sh
//! cargo bench --bench grant_load
//! cargo bench --bench grant_load -- --duration 2 --warmup 0.5 --rounds 3 --connections 64 --codes 6000 --flows 300 --flow-workers 8
//! ```
//!
//! It runs the real `certbound serve` (SQLite, dev PKI, ES256) with clients registered for all
//! three grants, and:
//! - the full flow, `--flows` times with `--flow-workers` at once: PAR over mTLS, the browser's
//!   GET /authorize, the sign-in page, the sign-in (argon2id), the consent page, Approve, and the
//!   code at the token endpoint, each step a real request; its latency at p50/p99;
//! - then rounds of three measured windows over 64 keep-alive mTLS connections, each its own
//!   client and certificate, in alternating order: client credentials (scope `accounts`), code
//!   exchange (`openid accounts`: access, refresh and ID token), refresh (`openid accounts`,
//!   cached after the first use), and code exchange under an Open Banking consent (the tokens
//!   carry its `authorization_details`). Codes for a window are written to the database before it, as
//!   the consent page would (grant plus code), because signing a customer in costs far more than
//!   what is measured; a code window ends early when its codes run out.
//!
//! Server CPU per request comes from `/proc`, as in the other benchmarks. Only 127.0.0.1 is
//! contacted, every loop is bounded by time and count, and the server is killed at the end.

mod common;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use certbound::domain::GrantType;
use common::{
    connect, flag_values, mib, parse, prepare_data_dir_for, request, send, status_kib, BenchClient, Measurement,
    Sender, ServerProcess, Window, WorkerStats,
};
use http::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use http::{Method, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

const REDIRECT_URI: &str = "https://tpp.example/cb";
/// The PKCE verifier of every code the benchmark writes itself.
const VERIFIER: &str = "grant-load-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_REQUESTS_PER_WORKER: u64 = 200_000;

fn main() {
    let options = Options::from_args();
    certbound::install_crypto_provider();
    println!(
        "grant_load: {} CPUs; {options:?}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(&options));
}

#[derive(Debug, Clone)]
struct Options {
    duration: Duration,
    warmup: Duration,
    rounds: usize,
    connections: usize,
    /// Codes written before each code-exchange window.
    codes: usize,
    flows: usize,
    flow_workers: usize,
    /// Measure only this grant (`client_credentials`, `authorization_code`, `refresh_token`),
    /// for profiling.
    only: Option<String>,
    /// Run the server on a fresh PostgreSQL database at this admin URL (created and dropped by
    /// the benchmark) instead of SQLite.
    postgres: Option<String>,
}

impl Options {
    const USAGE: &str = "options: --duration SECS --warmup SECS --rounds N --connections N --codes N \
                         --flows N --flow-workers N --only GRANT --postgres ADMIN_URL";

    fn from_args() -> Self {
        let mut o = Self {
            duration: Duration::from_secs(2),
            warmup: Duration::from_millis(500),
            rounds: 3,
            connections: 64,
            codes: 6000,
            flows: 300,
            flow_workers: 8,
            only: None,
            postgres: None,
        };
        for (flag, value) in flag_values() {
            let usage = Self::USAGE;
            match flag.as_str() {
                "--duration" => o.duration = Duration::from_secs_f64(parse(&flag, &value, usage)),
                "--warmup" => o.warmup = Duration::from_secs_f64(parse(&flag, &value, usage)),
                "--rounds" => o.rounds = parse(&flag, &value, usage),
                "--connections" => o.connections = parse(&flag, &value, usage),
                "--codes" => o.codes = parse(&flag, &value, usage),
                "--flows" => o.flows = parse(&flag, &value, usage),
                "--flow-workers" => o.flow_workers = parse(&flag, &value, usage),
                "--only" => o.only = Some(value),
                "--postgres" => o.postgres = Some(value),
                _ => panic!("unknown option {flag:?}; {usage}"),
            }
        }
        assert!(
            o.connections >= 1 && o.rounds >= 1 && o.flow_workers >= 1,
            "{}",
            Self::USAGE
        );
        o
    }
}

/// The server under test.
struct Server {
    process: ServerProcess,
    _dir: tempfile::TempDir,
    database_url: String,
    /// A PostgreSQL database to drop at the end: admin URL and name.
    postgres: Option<(String, String)>,
    front: SocketAddr,
    mtls: SocketAddr,
    clients: Vec<Arc<BenchClient>>,
    alice: String,
}

fn free_port() -> SocketAddr {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

impl Server {
    async fn start(options: &Options) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let postgres = match &options.postgres {
            Some(admin) => Some((admin.clone(), create_database(admin).await)),
            None => None,
        };
        let database_url = match &postgres {
            Some((admin, name)) => format!(
                "{}/{name}",
                admin.rsplit_once('/').expect("an admin URL with a database").0
            ),
            None => common::database_url(dir.path()),
        };
        let grants = [
            GrantType::ClientCredentials,
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
        ];
        let clients =
            prepare_data_dir_for(dir.path(), &database_url, options.connections, &grants, &[REDIRECT_URI]).await;
        let (front, mtls) = (free_port(), free_port());
        let process = ServerProcess::spawn(
            Command::new(env!("CARGO_BIN_EXE_certbound"))
                .arg("serve")
                .current_dir(dir.path())
                .env("CERTBOUND_LISTEN", front.to_string())
                .env("CERTBOUND_MTLS_LISTEN", mtls.to_string())
                .env("CERTBOUND_DATABASE_URL", &database_url)
                .env("CERTBOUND_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null()),
        );
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(mut sender) = connect(mtls, &clients[0].tls).await {
                if send(&mut sender, request(Method::GET, "/readyz", Bytes::new()))
                    .await
                    .is_ok_and(|r| r.status() == StatusCode::OK)
                {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "certbound serve did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let store = certbound::store::Store::connect(&database_url).await.expect("database");
        let alice = store
            .customer_by_username("alice")
            .await
            .expect("database")
            .expect("the demo customer alice")
            .id;
        store.close().await;
        Self {
            process,
            _dir: dir,
            database_url,
            postgres,
            front,
            mtls,
            clients,
            alice,
        }
    }
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn form(request_path: &str, body: String) -> http::Request<http_body_util::Full<Bytes>> {
    let mut r = request(Method::POST, request_path, Bytes::from(body));
    r.headers_mut().insert(
        CONTENT_TYPE,
        "application/x-www-form-urlencoded".parse().expect("header"),
    );
    r
}

fn encode(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A fresh database for the run.
async fn create_database(admin: &str) -> String {
    use sqlx::Connection;
    let name = format!("certbound_bench_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .expect("PostgreSQL admin connection");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create database");
    name
}

async fn drop_database(admin: &str, name: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .expect("PostgreSQL admin connection");
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await;
}

async fn run(options: &Options) {
    let server = Server::start(options).await;
    println!(
        "database: {}",
        if server.postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    println!(
        "server pid {}: front {}, mTLS {}, idle RSS {:.1} MiB",
        server.process.pid(),
        server.front,
        server.mtls,
        mib(status_kib(server.process.pid(), "VmRSS"))
    );
    full_flows(&server, options).await;
    side_by_side(&server, options).await;
    let postgres = server.postgres.clone();
    drop(server);
    if let Some((admin, name)) = postgres {
        drop_database(&admin, &name).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The whole flow, as a TPP and a customer's browser go through it

/// A browser's cookie jar: name → value.
#[derive(Default)]
struct Cookies(Vec<(String, String)>);

impl Cookies {
    fn take(&mut self, response: &http::Response<Bytes>) {
        for value in response.headers().get_all(SET_COOKIE) {
            let pair = value.to_str().unwrap_or_default().split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.0.retain(|(k, _)| k != name);
                self.0.push((name.into(), value.into()));
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn between<'a>(text: &'a str, before: &str, after: &str) -> Result<&'a str, String> {
    let start = text.find(before).ok_or_else(|| format!("no {before:?} in {text}"))? + before.len();
    Ok(text[start..].split(after).next().unwrap_or_default())
}

/// One flow: seven requests, the last returning tokens.
async fn one_flow(
    client: &BenchClient,
    front: &mut Sender,
    mtls: &mut Sender,
    cookies: &mut Cookies,
) -> Result<(), String> {
    let verifier = format!("{}{}", certbound::jose::random_id(), certbound::jose::random_id());
    let par = form(
        "/par",
        encode(&[
            ("client_id", &client.id),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid accounts"),
            ("state", "s"),
            ("code_challenge", &challenge(&verifier)),
            ("code_challenge_method", "S256"),
        ]),
    );
    let pushed = send(mtls, par).await?;
    let pushed: Value = serde_json::from_slice(pushed.body()).map_err(|e| format!("PAR: {e}"))?;
    let request_uri = pushed["request_uri"].as_str().ok_or("PAR gave no request_uri")?;
    let get = |path: String, cookies: &Cookies| {
        let mut r = request(Method::GET, &path, Bytes::new());
        r.headers_mut()
            .insert(COOKIE, cookies.header().parse().expect("cookie header"));
        r
    };
    let query = encode(&[("client_id", &client.id), ("request_uri", request_uri)]);
    let started = send(front, get(format!("/authorize?{query}"), cookies)).await?;
    cookies.take(&started);
    let interaction = started
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .ok_or("authorize did not redirect")?
        .to_string();
    let login = send(front, get(interaction.clone(), cookies)).await?;
    let page = String::from_utf8_lossy(login.body()).into_owned();
    let csrf = between(&page, "name=\"csrf\" value=\"", "\"")?.to_string();
    let post = |path: String, body: String, cookies: &Cookies| {
        let mut r = form(&path, body);
        r.headers_mut()
            .insert(COOKIE, cookies.header().parse().expect("cookie header"));
        r
    };
    let signed_in = send(
        front,
        post(
            format!("{interaction}/login"),
            encode(&[("csrf", &csrf), ("username", "alice"), ("password", "wonderland")]),
            cookies,
        ),
    )
    .await?;
    if signed_in.status() != StatusCode::SEE_OTHER {
        return Err(format!("sign-in: {}", signed_in.status()));
    }
    cookies.take(&signed_in);
    let consent = send(front, get(interaction.clone(), cookies)).await?;
    if consent.status() != StatusCode::OK {
        return Err(format!("consent page: {}", consent.status()));
    }
    let approved = send(
        front,
        post(
            format!("{interaction}/consent"),
            encode(&[("csrf", &csrf), ("decision", "approve"), ("account", "22289")]),
            cookies,
        ),
    )
    .await?;
    let back = approved
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .ok_or("consent did not redirect")?;
    let code = form_urlencoded::parse(back.split_once('?').ok_or("no query")?.1.as_bytes())
        .find(|(k, _)| k == "code")
        .ok_or("no code")?
        .1
        .into_owned();
    let tokens = send(
        mtls,
        form(
            "/token",
            encode(&[
                ("grant_type", "authorization_code"),
                ("client_id", &client.id),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", &verifier),
            ]),
        ),
    )
    .await?;
    if tokens.status() != StatusCode::OK {
        return Err(format!(
            "token: {} {}",
            tokens.status(),
            String::from_utf8_lossy(tokens.body())
        ));
    }
    Ok(())
}

async fn full_flows(server: &Server, options: &Options) {
    let remaining = Arc::new(Mutex::new(options.flows));
    let window = Window {
        start: Instant::now(),
        end: Instant::now() + Duration::from_secs(120),
    };
    let began = Instant::now();
    let mut workers = Vec::new();
    for w in 0..options.flow_workers {
        let client = server.clients[w % server.clients.len()].clone();
        let (front, mtls) = (server.front, server.mtls);
        let remaining = remaining.clone();
        workers.push(tokio::spawn(async move {
            let mut stats = WorkerStats::default();
            let mut cookies = Cookies::default();
            let (mut f, mut m) = (
                connect(front, &client.tls).await.expect("front"),
                connect(mtls, &client.tls).await.expect("mTLS"),
            );
            loop {
                {
                    let mut left = remaining.lock().expect("counter");
                    if *left == 0 {
                        break;
                    }
                    *left -= 1;
                }
                let t = Instant::now();
                let outcome = one_flow(&client, &mut f, &mut m, &mut cookies).await;
                stats.record(window, t, outcome);
            }
            stats
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let stats = worker.await.expect("flow worker");
        errors += stats.errors();
        latencies.extend(stats.latencies_ms());
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| latencies[((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1];
    println!(
        "\nfull flow (PAR → authorize → sign-in page → sign-in → consent page → approve → token), \
         {} flows by {} workers in {:.1?}, {errors} errors: p50 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        options.flow_workers,
        began.elapsed(),
        p(0.50),
        p(0.99)
    );
}

// ---------------------------------------------------------------------------------------------
// Client credentials, code exchange and refresh, side by side

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    ClientCredentials,
    Code,
    Refresh,
    /// A code whose grant authorised an Open Banking consent: the tokens carry its
    /// `authorization_details`.
    CodeWithConsent,
}

impl Grant {
    fn name(self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client_credentials",
            Grant::Code => "authorization_code",
            Grant::Refresh => "refresh_token",
            Grant::CodeWithConsent => "authorization_code+consent",
        }
    }
}

/// The granted detail of a consent, as the consent page writes it into the grant.
const CONSENT_DETAILS: &str = r#"[{"type":"account_access_consent","consent_id":"aac-5f0c2e7a-1b3d-4c5e-8f9a-0b1c2d3e4f50","permissions":["ReadAccountsDetail","ReadBalances","ReadTransactionsDetail","ReadTransactionsCredits","ReadTransactionsDebits"],"accounts":["22289"],"expiration_date_time":"2099-01-01T00:00:00Z","transaction_from_date_time":"2026-01-01T00:00:00Z","transaction_to_date_time":"2026-12-31T23:59:59Z"}]"#;

/// Writes `per_client` fresh codes for each client into the database, as the consent page
/// would: a grant of alice's account 22289 (through a consent, with `consent`) and its code, all
/// in one transaction.
async fn write_codes(server: &Server, per_client: usize, consent: bool) -> Vec<Vec<String>> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&server.database_url).await.expect("database");
    let mut tx = pool.begin().await.expect("transaction");
    let now = certbound::now();
    let challenge = challenge(VERIFIER);
    let mut codes = Vec::new();
    for client in &server.clients {
        let mut mine = Vec::with_capacity(per_client);
        for _ in 0..per_client {
            let grant = format!("grt_{}", certbound::jose::random_id());
            let code = format!("{}{}", certbound::jose::random_id(), certbound::jose::random_id());
            let hash = URL_SAFE_NO_PAD.encode(Sha256::digest(code.as_bytes()));
            sqlx::query(
                "INSERT INTO grants (id, customer_id, client_id, scopes, accounts, audience, auth_time, created_at, \
                 expires_at, code_hash, redirect_uri, code_challenge, nonce, code_expires_at, code_presentations, \
                 authorization_details) \
                 VALUES ($1, $2, $3, 'openid accounts', '[\"22289\"]', '[]', $4, $4, $5, $6, $7, $8, NULL, $9, 0, $10)",
            )
            .bind(&grant)
            .bind(&server.alice)
            .bind(&client.id)
            .bind(now)
            .bind(now + 86_400)
            .bind(hash)
            .bind(REDIRECT_URI)
            .bind(&challenge)
            .bind(now + 60)
            .bind(if consent { CONSENT_DETAILS } else { "[]" })
            .execute(&mut *tx)
            .await
            .expect("grant and code");
            mine.push(code);
        }
        codes.push(mine);
    }
    tx.commit().await.expect("commit");
    pool.close().await;
    codes
}

fn token_form(grant: Grant, client: &BenchClient, code_or_refresh: &str) -> Bytes {
    Bytes::from(match grant {
        Grant::ClientCredentials => encode(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client.id),
            ("scope", "accounts"),
        ]),
        Grant::Code | Grant::CodeWithConsent => encode(&[
            ("grant_type", "authorization_code"),
            ("client_id", &client.id),
            ("code", code_or_refresh),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ]),
        Grant::Refresh => encode(&[
            ("grant_type", "refresh_token"),
            ("client_id", &client.id),
            ("refresh_token", code_or_refresh),
        ]),
    })
}

/// One refresh token per client, from one code exchange each.
async fn refresh_tokens(server: &Server) -> Vec<String> {
    let codes = write_codes(server, 1, false).await;
    let mut tokens = Vec::new();
    for (client, codes) in server.clients.iter().zip(codes) {
        let mut sender = connect(server.mtls, &client.tls).await.expect("mTLS");
        let response = send(
            &mut sender,
            form(
                "/token",
                String::from_utf8_lossy(&token_form(Grant::Code, client, &codes[0])).into_owned(),
            ),
        )
        .await
        .expect("token");
        let body: Value = serde_json::from_slice(response.body()).expect("JSON");
        tokens.push(body["refresh_token"].as_str().expect("a refresh token").to_string());
    }
    tokens
}

async fn window(
    server: &Server,
    options: &Options,
    grant: Grant,
    codes: Vec<Vec<String>>,
    refresh: &[String],
) -> Measurement {
    let codes: Vec<Arc<Mutex<Vec<String>>>> = codes.into_iter().map(|c| Arc::new(Mutex::new(c))).collect();
    common::measure(
        server.process.pid(),
        options.warmup,
        options.duration,
        options.connections,
        |w, window| {
            let client = server.clients[w].clone();
            let mtls = server.mtls;
            let codes = codes.get(w).cloned();
            let refresh = refresh.get(w).cloned().unwrap_or_default();
            async move {
                let mut stats = WorkerStats::default();
                let Ok(mut sender) = connect(mtls, &client.tls).await else {
                    stats.record(window, Instant::now(), Err("connect".into()));
                    return stats;
                };
                for _ in 0..MAX_REQUESTS_PER_WORKER {
                    if Instant::now() >= window.end {
                        break;
                    }
                    let secret = match grant {
                        Grant::Code | Grant::CodeWithConsent => {
                            match codes.as_ref().and_then(|c| c.lock().expect("codes").pop()) {
                                Some(code) => code,
                                None => break,
                            }
                        }
                        Grant::Refresh => refresh.clone(),
                        Grant::ClientCredentials => String::new(),
                    };
                    let began = Instant::now();
                    let mut request = request(Method::POST, "/token", token_form(grant, &client, &secret));
                    request.headers_mut().insert(
                        CONTENT_TYPE,
                        "application/x-www-form-urlencoded".parse().expect("header"),
                    );
                    let outcome = match send(&mut sender, request).await {
                        Ok(r) if r.status() == StatusCode::OK => Ok(()),
                        Ok(r) => Err(format!("{}: {}", r.status(), String::from_utf8_lossy(r.body()))),
                        Err(e) => Err(e),
                    };
                    stats.record(window, began, outcome);
                }
                stats
            }
        },
    )
    .await
}

async fn side_by_side(server: &Server, options: &Options) {
    let refresh = refresh_tokens(server).await;
    let grants = [
        Grant::ClientCredentials,
        Grant::Code,
        Grant::Refresh,
        Grant::CodeWithConsent,
    ];
    let mut totals: Vec<Option<Measurement>> = vec![None, None, None, None];
    let per_client = options.codes.div_ceil(options.connections);
    for round in 0..options.rounds {
        let order: Vec<usize> = if round % 2 == 0 {
            vec![0, 1, 2, 3]
        } else {
            vec![3, 2, 1, 0]
        };
        for i in order {
            let grant = grants[i];
            if options.only.as_deref().is_some_and(|only| only != grant.name()) {
                continue;
            }
            let codes = match grant {
                Grant::Code => write_codes(server, per_client, false).await,
                Grant::CodeWithConsent => write_codes(server, per_client, true).await,
                _ => Vec::new(),
            };
            let m = window(server, options, grant, codes, &refresh).await;
            println!("round {} {}", round + 1, m.summary(grant.name(), "tokens", 4));
            match &mut totals[i] {
                Some(t) => t.merge(m),
                None => totals[i] = Some(m),
            }
        }
    }
    let cc = totals[0]
        .as_ref()
        .expect("client credentials measured")
        .cpu_ms_per_request();
    println!("\n| grant | tokens | errors | tokens/s | p50 ms | p99 ms | server CPU ms/token | × client_credentials | peak RSS MiB |");
    println!("|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (grant, m) in grants.iter().zip(&totals) {
        let m = m.as_ref().expect("measured");
        println!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.4} | {:.2} | {:.1} |",
            grant.name(),
            m.ok,
            m.errors,
            m.per_second(),
            m.p50_ms(),
            m.p99_ms(),
            m.cpu_ms_per_request(),
            m.cpu_ms_per_request() / cc,
            mib(m.usage.peak_rss_kib)
        );
    }
    let ratio = |i: usize| totals[i].as_ref().map_or(f64::NAN, |m| m.cpu_ms_per_request() / cc);
    println!(
        "\ncode exchange {:.2}× client_credentials (target ≤ 2): {}; refresh {:.2}× (target ≤ 1.5): {}",
        ratio(1),
        if ratio(1) <= 2.0 { "met" } else { "MISSED" },
        ratio(2),
        if ratio(2) <= 1.5 { "met" } else { "MISSED" },
    );
    println!(
        "code exchange with a consent's authorization_details {:.2}× without",
        ratio(3) / ratio(1)
    );
}
