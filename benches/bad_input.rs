//! A bounded bad-input run against the release binary: for `--duration` seconds (default 300),
//! `--workers` tasks (default 6) send hostile input to a real `certbound serve` over mutual TLS
//! on loopback, while a probe checks every second that a well-behaved client still gets its
//! token. Reports per kind of input: how many were sent, the statuses, 5xx, connections the
//! server closed without an answer, answers that never came (hangs), and the server's RSS
//! before and after; whether the server process survived, and the panics in its log.
//!
//! ```sh
//! cargo bench --bench bad_input
//! cargo bench --bench bad_input -- --duration 30 --workers 4
//! ```
//!
//! Only 127.0.0.1 is contacted; every input has a 20 s deadline, the run stops at its duration,
//! and the server is killed when it ends, panics included.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    data_dir, flag_values, free_loopback_port, mib, parse, prepare_data_dir, request_token, spawn_certbound,
    status_kib, wait_until_healthy, BenchClient,
};
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[path = "bad_input/attacks.rs"]
mod attacks;

use attacks::{Attack, Kit, Outcome, Rng, ATTACKS};

/// Longest any one input may take to be answered before it counts as a hang (a slow body is
/// answered after the server's 10 s body timeout).
const DEADLINE: Duration = Duration::from_secs(20);

struct Options {
    duration: Duration,
    workers: usize,
}

impl Options {
    const USAGE: &str = "options: --duration SECS --workers N";

    fn from_args() -> Self {
        let mut options = Self {
            duration: Duration::from_secs(300),
            workers: 6,
        };
        for (flag, value) in flag_values() {
            match flag.as_str() {
                "--duration" => options.duration = Duration::from_secs_f64(parse(&flag, &value, Self::USAGE)),
                "--workers" => options.workers = parse(&flag, &value, Self::USAGE),
                _ => panic!("unknown option {flag:?}; {}", Self::USAGE),
            }
        }
        options
    }
}

/// What happened to each kind of input.
#[derive(Default)]
struct Tally {
    sent: u64,
    statuses: BTreeMap<u16, u64>,
    dropped: u64,
    hangs: u64,
}

fn main() {
    let options = Options::from_args();
    certbound::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(options));
}

async fn run(options: Options) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let clients = prepare_data_dir(dir.path(), 1).await;
    let (front, addr) = (free_loopback_port(), free_loopback_port());
    let mut server = spawn_certbound(dir.path(), front, addr, &[("CERTBOUND_DEMO_BANK", "true")]);
    wait_until_healthy(&mut server, addr, &clients[0].tls).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = server.pid();
    let rss_before = status_kib(pid, "VmRSS");
    let kit = Arc::new(Kit::new(addr, &clients[0], &data_dir(dir.path())).await);
    let seed = Rng::seed_from_clock();
    println!(
        "bad_input: {} CPUs, {} workers, {:?}, seed {seed}; server pid {pid}, RSS {:.1} MiB",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        options.workers,
        options.duration,
        mib(rss_before)
    );

    let tallies: Arc<Mutex<BTreeMap<&'static str, Tally>>> = Arc::default();
    let end = Instant::now() + options.duration;
    let mut tasks = Vec::new();
    for worker in 0..options.workers {
        let (kit, tallies) = (kit.clone(), tallies.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(seed ^ (worker as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            while Instant::now() < end {
                // Slow bodies hold a connection for the whole body timeout; one worker sends them.
                let attack = match worker {
                    0 => ATTACKS.iter().find(|a| a.name == "slow body").expect("slow body"),
                    _ => &ATTACKS[rng.below(ATTACKS.len() - 1) + 1],
                };
                let outcome = match tokio::time::timeout(DEADLINE, (attack.send)(&kit, &mut rng)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Outcome::Hang,
                };
                record(&tallies, attack, outcome);
            }
        }));
    }
    let probe = tokio::spawn(probe(clients[0].clone(), addr, end));
    for task in tasks {
        task.await.expect("a worker");
    }
    let (probes, probe_failures) = probe.await.expect("the probe");
    let exited = server.0.try_wait().ok().flatten();
    let rss_after = match exited {
        None => mib(status_kib(pid, "VmRSS")),
        Some(_) => f64::NAN,
    };
    report(&tallies.lock().expect("tallies"));
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
    println!(
        "server: {}; RSS {:.1} MiB before, {:.1} MiB after; well-behaved probes {probes}, failed {probe_failures}; \
         log: {} lines, {} panics",
        exited.map_or("running".to_string(), |s| format!("EXITED {s}")),
        mib(rss_before),
        rss_after,
        log.lines().count(),
        log.matches("panicked").count()
    );
}

fn record(tallies: &Mutex<BTreeMap<&'static str, Tally>>, attack: &Attack, outcome: Outcome) {
    let mut tallies = tallies.lock().expect("tallies");
    let tally = tallies.entry(attack.name).or_default();
    tally.sent += 1;
    match outcome {
        Outcome::Status(status) => *tally.statuses.entry(status).or_default() += 1,
        Outcome::Dropped => tally.dropped += 1,
        Outcome::Hang => tally.hangs += 1,
    }
}

fn report(tallies: &BTreeMap<&'static str, Tally>) {
    println!("| input | sent | answers | 5xx | closed without answer | hangs |");
    println!("|---|---:|---|---:|---:|---:|");
    let mut total = Tally::default();
    for (name, tally) in tallies {
        let attack = ATTACKS.iter().find(|a| a.name == *name).expect("an attack");
        let answers: Vec<String> = tally.statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
        let server_errors: u64 = tally.statuses.iter().filter(|(s, _)| **s >= 500).map(|(_, n)| n).sum();
        let dropped = match attack.may_drop {
            true => format!("{} (expected)", tally.dropped),
            false => tally.dropped.to_string(),
        };
        println!(
            "| {name} | {} | {} | {server_errors} | {dropped} | {} |",
            tally.sent,
            answers.join(", "),
            tally.hangs
        );
        total.sent += tally.sent;
        total.dropped += tally.dropped;
        total.hangs += tally.hangs;
    }
    println!(
        "total: {} inputs, {} closed without answer, {} hangs",
        total.sent, total.dropped, total.hangs
    );
}

/// Every second, on a fresh connection, the well-behaved client must get its token.
async fn probe(client: Arc<BenchClient>, addr: SocketAddr, end: Instant) -> (u64, u64) {
    let (mut probes, mut failures) = (0, 0);
    while Instant::now() < end {
        probes += 1;
        let ok = match tokio::time::timeout(Duration::from_secs(5), async {
            let mut sender = common::connect(addr, &client.tls).await?;
            request_token(&mut sender, &client, true).await
        })
        .await
        {
            Ok(Ok(_)) => true,
            Ok(Err(e)) => {
                eprintln!("probe failed: {e}");
                false
            }
            Err(_) => {
                eprintln!("probe timed out");
                false
            }
        };
        failures += u64::from(!ok);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    (probes, failures)
}

/// Opens a TLS connection to `addr` with `tls` (HTTP/1.1 unless its ALPN says otherwise).
async fn tls_connect(
    addr: SocketAddr,
    tls: &Arc<ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Outcome> {
    let tcp = TcpStream::connect(addr).await.map_err(|_| Outcome::Dropped)?;
    TlsConnector::from(tls.clone())
        .connect(common::server_name(), tcp)
        .await
        .map_err(|_| Outcome::Dropped)
}

/// Writes `bytes` and reads until the server closes: the status of its answer, or `Dropped`
/// when it closed without one. A failed write is not the end: a server refusing a body midway
/// (413) has answered before closing.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> Outcome {
    let _ = stream.write_all(bytes).await;
    read_status(stream).await
}

async fn read_status<S: AsyncRead + Unpin>(stream: &mut S) -> Outcome {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.len() > 1 << 20 {
                    break;
                }
            }
        }
    }
    let status = answer
        .strip_prefix(b"HTTP/1.1 ")
        .and_then(|rest| std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok());
    status.map_or(Outcome::Dropped, Outcome::Status)
}
