//! The kinds of hostile input the bad-input run sends, each one connection's worth.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use certbound::pki::certs_from_pem;
use certbound::pki::dev::{self_signed, CertSpec, PkiLayout};
use certbound::tls::forwarded::KNOWN_CERTIFICATE_HEADERS;
use rustls::ClientConfig;
use rustls_pki_types::CertificateDer;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::common::{self, BenchClient};
use super::{exchange, read_status, tls_connect};

/// How one input ended.
pub enum Outcome {
    Status(u16),
    /// The connection closed (or the handshake failed) without an HTTP answer.
    Dropped,
    /// No answer within the run's deadline.
    Hang,
}

pub type Sent<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

pub struct Attack {
    pub name: &'static str,
    /// Whether closing the connection without an answer is a right response (not TLS at all,
    /// an HTTP/2 protocol error, a body or header section over the limit).
    pub may_drop: bool,
    pub send: for<'a> fn(&'a Kit, &'a mut Rng) -> Sent<'a>,
}

macro_rules! attack {
    ($name:literal, $may_drop:literal, $f:ident) => {
        Attack {
            name: $name,
            may_drop: $may_drop,
            send: |kit, rng| Box::pin($f(kit, rng)),
        }
    };
}

/// The slow body comes first: worker 0 sends only that.
pub const ATTACKS: [Attack; 20] = [
    attack!("slow body", false, slow_body),
    attack!("mutated token request", false, mutated_token_form),
    attack!("random form bytes", false, random_form),
    attack!("unknown client_id", false, unknown_client),
    attack!("garbage client assertion", false, garbage_assertion),
    attack!("certificate header from a client", false, forwarded_header),
    attack!("mutated bearer token", false, mutated_bearer),
    attack!("introspection of garbage", false, introspect_garbage),
    attack!("revocation of garbage", false, revoke_garbage),
    attack!("mutated pushed request", false, mutated_par),
    attack!("random request line", true, random_request_line),
    attack!("random header bytes", true, random_headers),
    attack!("bad chunked encoding", true, bad_chunked),
    attack!("oversized body", true, oversized_body),
    attack!("oversized header section", true, oversized_headers),
    attack!("garbage after the handshake", true, garbage_after_handshake),
    attack!("not TLS", true, not_tls),
    attack!("no client certificate", false, no_client_certificate),
    attack!("self-signed unregistered certificate", true, self_signed_certificate),
    attack!("HTTP/2 garbage frames", true, h2_garbage),
];

/// What the attacks need: the server, TLS configurations and valid inputs to mutate.
pub struct Kit {
    addr: SocketAddr,
    client_id: String,
    mtls: Arc<ClientConfig>,
    no_cert: Arc<ClientConfig>,
    self_signed: Arc<ClientConfig>,
    h2: Arc<ClientConfig>,
    token: String,
    forms: Vec<Vec<u8>>,
}

impl Kit {
    pub async fn new(addr: SocketAddr, client: &BenchClient, data_dir: &Path) -> Self {
        let ca = PkiLayout::new(data_dir.join("pki")).authority().expect("dev CA");
        let ca: CertificateDer<'static> = certs_from_pem(ca.cert_pem().as_bytes()).expect("CA PEM").remove(0);
        let intruder = self_signed(&CertSpec::client("intruder", 30)).expect("self-signed");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone()).expect("anchor");
        let no_cert = ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut h2 = (*client.tls).clone();
        h2.alpn_protocols = vec![b"h2".to_vec()];
        let mut sender = common::connect(addr, &client.tls).await.expect("connect");
        let body = common::request_token(&mut sender, client, true).await.expect("a token");
        let token = common::check_token(&body, client).expect("a bound token");
        let mut forms = certbound::fuzzing::seeds("form");
        forms.push(format!("grant_type=client_credentials&client_id={}&scope=accounts", client.id).into_bytes());
        Self {
            addr,
            client_id: client.id.clone(),
            mtls: client.tls.clone(),
            no_cert: Arc::new(no_cert),
            self_signed: common::client_tls(&ca, intruder.der(), &intruder.key_pem),
            h2: Arc::new(h2),
            token,
            forms,
        }
    }

    /// One HTTP/1.1 request over mTLS as the registered client.
    async fn send(&self, request: Vec<u8>) -> Outcome {
        self.send_with(&self.mtls, request).await
    }

    async fn send_with(&self, tls: &Arc<ClientConfig>, request: Vec<u8>) -> Outcome {
        match tls_connect(self.addr, tls).await {
            Ok(mut stream) => exchange(&mut stream, &request).await,
            Err(outcome) => outcome,
        }
    }
}

/// A request with `Connection: close`, `Host` and a `Content-Length` when there is a body.
fn http(method: &str, path: &str, headers: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || method == "POST" {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

fn form_post(path: &str, body: &[u8]) -> Vec<u8> {
    http(
        "POST",
        path,
        &[("content-type", b"application/x-www-form-urlencoded")],
        body,
    )
}

async fn slow_body(kit: &Kit, _: &mut Rng) -> Outcome {
    let Ok(mut stream) = tls_connect(kit.addr, &kit.mtls).await else {
        return Outcome::Dropped;
    };
    let mut request = form_post("/token", &[b'a'; 100]);
    request.truncate(request.len() - 90);
    if stream.write_all(&request).await.is_err() {
        return Outcome::Dropped;
    }
    read_status(&mut stream).await
}

async fn mutated_token_form(kit: &Kit, rng: &mut Rng) -> Outcome {
    let seed = &kit.forms[rng.below(kit.forms.len())];
    kit.send(form_post("/token", &rng.mutate(seed))).await
}

async fn random_form(kit: &Kit, rng: &mut Rng) -> Outcome {
    let len = rng.below(600);
    kit.send(form_post("/token", &rng.bytes(len))).await
}

async fn unknown_client(kit: &Kit, rng: &mut Rng) -> Outcome {
    let id = rng.text(24);
    kit.send(form_post(
        "/token",
        format!("grant_type=client_credentials&client_id={id}").as_bytes(),
    ))
    .await
}

async fn garbage_assertion(kit: &Kit, rng: &mut Rng) -> Outcome {
    let parts: Vec<String> = (0..3).map(|_| rng.text(40)).collect();
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={}",
        kit.client_id,
        parts.join(".")
    );
    kit.send(form_post("/token", body.as_bytes())).await
}

async fn forwarded_header(kit: &Kit, rng: &mut Rng) -> Outcome {
    let name = KNOWN_CERTIFICATE_HEADERS[rng.below(KNOWN_CERTIFICATE_HEADERS.len())];
    let value = format!(":{}:", rng.text(64));
    let body = format!("grant_type=client_credentials&client_id={}", kit.client_id);
    let request = http(
        "POST",
        "/token",
        &[
            ("content-type", b"application/x-www-form-urlencoded"),
            (name, value.as_bytes()),
        ],
        body.as_bytes(),
    );
    kit.send(request).await
}

async fn mutated_bearer(kit: &Kit, rng: &mut Rng) -> Outcome {
    let value = rng.mutate(format!("Bearer {}", kit.token).as_bytes());
    kit.send(http(
        "GET",
        "/bank/v1/accounts",
        &[("authorization", &value), ("x-api-key", b"cb_x")],
        b"",
    ))
    .await
}

async fn introspect_garbage(kit: &Kit, rng: &mut Rng) -> Outcome {
    let body = format!("token={}&client_id={}", rng.text(80), kit.client_id);
    kit.send(form_post("/introspect", body.as_bytes())).await
}

async fn revoke_garbage(kit: &Kit, rng: &mut Rng) -> Outcome {
    let body = format!("token={}&client_id={}", rng.text(80), kit.client_id);
    kit.send(form_post("/revoke", body.as_bytes())).await
}

async fn mutated_par(kit: &Kit, rng: &mut Rng) -> Outcome {
    let body = format!(
        "client_id={}&response_type=code&redirect_uri=https%3A%2F%2Ftpp.example%2Fcb&scope=openid+accounts&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s",
        kit.client_id
    );
    kit.send(form_post("/par", &rng.mutate(body.as_bytes()))).await
}

async fn random_request_line(kit: &Kit, rng: &mut Rng) -> Outcome {
    let mut request = rng.mutate(b"GET /.well-known/oauth-authorization-server HTTP/1.1");
    request.extend_from_slice(b"\r\nhost: localhost\r\nconnection: close\r\n\r\n");
    kit.send(request).await
}

async fn random_headers(kit: &Kit, rng: &mut Rng) -> Outcome {
    let count = 1 + rng.below(8);
    let mut request = b"GET /jwks HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n".to_vec();
    for _ in 0..count {
        let len = 1 + rng.below(60);
        request.extend_from_slice(&rng.mutate(b"x-header: value"));
        request.extend_from_slice(&rng.bytes(len));
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    kit.send(request).await
}

async fn bad_chunked(kit: &Kit, rng: &mut Rng) -> Outcome {
    let mut request = b"POST /token HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-type: application/x-www-form-urlencoded\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    request.extend_from_slice(&rng.mutate(b"ffffffffffffffffff\r\ngrant_type=client_credentials\r\n0\r\n\r\n"));
    kit.send(request).await
}

async fn oversized_body(kit: &Kit, _: &mut Rng) -> Outcome {
    kit.send(form_post("/token", &vec![b'a'; 200_000])).await
}

async fn oversized_headers(kit: &Kit, _: &mut Rng) -> Outcome {
    let big = vec![b'a'; 100_000];
    kit.send(http("GET", "/jwks", &[("x-big", &big)], b"")).await
}

async fn garbage_after_handshake(kit: &Kit, rng: &mut Rng) -> Outcome {
    let len = 1 + rng.below(2000);
    let mut bytes = rng.bytes(len);
    bytes.extend_from_slice(b"\r\n\r\n");
    kit.send(bytes).await
}

async fn not_tls(kit: &Kit, rng: &mut Rng) -> Outcome {
    let Ok(mut tcp) = TcpStream::connect(kit.addr).await else {
        return Outcome::Dropped;
    };
    let len = 1 + rng.below(2000);
    exchange(&mut tcp, &rng.bytes(len)).await
}

async fn no_client_certificate(kit: &Kit, _: &mut Rng) -> Outcome {
    let body = format!("grant_type=client_credentials&client_id={}", kit.client_id);
    kit.send_with(&kit.no_cert, form_post("/token", body.as_bytes())).await
}

async fn self_signed_certificate(kit: &Kit, _: &mut Rng) -> Outcome {
    let body = format!("grant_type=client_credentials&client_id={}", kit.client_id);
    kit.send_with(&kit.self_signed, form_post("/token", body.as_bytes()))
        .await
}

/// The HTTP/2 preface, then frames of random type, flags and payload.
async fn h2_garbage(kit: &Kit, rng: &mut Rng) -> Outcome {
    let Ok(mut stream) = tls_connect(kit.addr, &kit.h2).await else {
        return Outcome::Dropped;
    };
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    for _ in 0..1 + rng.below(6) {
        let len = rng.below(64);
        bytes.extend_from_slice(&[0, 0, len as u8, rng.below(10) as u8, rng.below(256) as u8]);
        bytes.extend_from_slice(&(rng.below(8) as u32).to_be_bytes());
        bytes.extend_from_slice(&rng.bytes(len));
    }
    let _ = stream.write_all(&bytes).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), read_status(&mut stream)).await;
    Outcome::Dropped
}

/// xorshift64*: reproducible from the seed printed at the start of a run.
pub struct Rng(u64);

impl Rng {
    pub fn seed_from_clock() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1
    }

    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Printable ASCII with the characters parsers treat specially well represented.
    fn text(&mut self, len: usize) -> String {
        const SPECIAL: &[u8] = b"%+=&.,;:\\\"'<>#-_~/ ";
        (0..len)
            .map(|_| match self.below(4) {
                0 => SPECIAL[self.below(SPECIAL.len())] as char,
                _ => (b'!' + self.below(94) as u8) as char,
            })
            .collect()
    }

    /// A few bytes of `seed` overwritten, inserted or cut.
    fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut out = seed.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(out.len() + 1);
            match self.below(3) {
                0 if at < out.len() => out[at] = self.next() as u8,
                1 => {
                    let len = 1 + self.below(8);
                    let bytes = self.bytes(len);
                    out.splice(at..at, bytes);
                }
                _ => {
                    let end = (at + 1 + self.below(16)).min(out.len());
                    out.drain(at.min(end)..end);
                }
            }
        }
        out
    }
}
