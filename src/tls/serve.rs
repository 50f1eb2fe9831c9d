//! Serving one listener: admission against the connection limits, the TLS handshake, HTTP/1.1
//! or HTTP/2 under the listener's limits, the client certificate resolved per request, idle
//! connections closed, and a graceful drain at shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::response::IntoResponse;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Notify};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::body_deadline::DeadlineBody;
use super::limits::{Admission, ConnectionGate, Limits};
use super::{ClientAddr, ForwardedCertificate, Forwarding, ListenerAddr, PeerCertificate};

/// How long a peer may take to complete the TLS handshake or send request headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for open connections to finish their requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a connection turned away may take to receive its 503.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `app` over TLS under the default [`Limits`] until `shutdown` resolves, then stops
/// accepting and lets open connections finish (up to a drain timeout). `forwarding` decides,
/// per request, whether a certificate forwarded by a proxy stands for the connection's own.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    forwarding: Arc<Forwarding>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    serve_with(Limits::default(), listener, tls, forwarding, app, shutdown).await
}

/// The same under `limits`.
pub async fn serve_with(
    limits: Limits,
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    forwarding: Arc<Forwarding>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let gate = ConnectionGate::new(limits);
    let (stop, stopping) = watch::channel(false);
    // Every connection task holds a sender; the drain ends when the last is dropped.
    let (alive, mut all_closed) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let admission = gate.admit(peer.ip());
        if let Admission::Dropped = admission {
            tracing::debug!(%peer, "over the connection limits; closed");
            continue;
        }
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let (app, forwarding, stopping, alive) = (app.clone(), forwarding.clone(), stopping.clone(), alive.clone());
        tokio::spawn(async move {
            let _alive = alive;
            let Some(stream) = handshake(&acceptor, tcp, peer).await else {
                return;
            };
            match admission {
                Admission::Admitted(_place) => {
                    let connection = Connection {
                        limits,
                        peer,
                        app,
                        forwarding,
                    };
                    connection.serve(stream, stopping).await;
                }
                Admission::Refused(_refusing) => {
                    tracing::warn!(%peer, "over the connection limits; answered 503");
                    refuse(stream).await;
                }
                Admission::Dropped => {}
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    drop(alive);
    if tokio::time::timeout(DRAIN_TIMEOUT, all_closed.recv()).await.is_err() {
        tracing::warn!("connections still open after the drain timeout; closing them");
    }
}

async fn handshake(acceptor: &TlsAcceptor, tcp: TcpStream, peer: SocketAddr) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}

/// HTTP/1.1 and HTTP/2 under the listener's limits.
fn http_builder(limits: &Limits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT)
        .max_buf_size(limits.max_header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_concurrent_streams)
        .max_header_list_size(limits.max_header_bytes as u32)
        .keep_alive_interval(Some(limits.h2_keepalive_interval))
        .keep_alive_timeout(limits.h2_keepalive_interval);
    builder
}

/// One admitted connection.
struct Connection {
    limits: Limits,
    peer: SocketAddr,
    app: Router,
    forwarding: Arc<Forwarding>,
}

impl Connection {
    async fn serve(self, stream: TlsStream<TcpStream>, mut stopping: watch::Receiver<bool>) {
        let Self {
            limits,
            peer,
            app,
            forwarding,
        } = self;
        let native = PeerCertificate::from_chain(stream.get_ref().1.peer_certificates(), peer);
        let listener = stream.get_ref().0.local_addr().ok().map(ListenerAddr);
        let activity = Arc::new(Activity::new());
        let in_service = activity.clone();
        let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
            let busy = in_service.begin();
            let app = app.clone();
            let cert = forwarding.resolve(peer.ip(), &native, req.headers());
            let forwarded = cert.as_ref().is_ok_and(|c| match (&c.0, &native.0) {
                (Some(resolved), Some(own)) => !Arc::ptr_eq(resolved, own),
                (resolved, _) => resolved.is_some(),
            });
            let mut req = req.map(|body| axum::body::Body::new(DeadlineBody::new(body, limits.body_timeout)));
            async move {
                let _busy = busy;
                match cert {
                    Ok(cert) => {
                        let extensions = req.extensions_mut();
                        if forwarded {
                            extensions.insert(ForwardedCertificate);
                        }
                        if let Some(listener) = listener {
                            extensions.insert(listener);
                        }
                        extensions.insert(cert);
                        extensions.insert(ClientAddr(peer.ip()));
                        app.oneshot(req).await
                    }
                    Err(e) => {
                        tracing::warn!(%peer, error = %e, "refused a forwarded client certificate");
                        Ok(e.into_response())
                    }
                }
            }
        });
        let builder = http_builder(&limits);
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(conn);
        let check_every = (limits.idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let mut closing = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = stopping.changed(), if !closing => {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
                () = tokio::time::sleep(check_every), if !closing => {
                    if activity.idle_for() >= limits.idle_timeout {
                        tracing::debug!(%peer, "idle connection closed");
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                    }
                }
            }
        }
    }
}

/// Requests in flight on a connection and when the last one ended.
struct Activity {
    start: Instant,
    in_flight: AtomicUsize,
    last_ms: AtomicU64,
}

/// A request in flight; dropping it records the end.
struct Busy(Arc<Activity>);

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        }
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Busy(self.clone())
    }

    /// Zero while a request is in flight.
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let now = self.0.start.elapsed().as_millis() as u64;
        self.0.last_ms.store(now, Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Answers the first request of a connection over the limits with 503 and closes it, so the
/// client sees why instead of a reset.
async fn refuse(stream: TlsStream<TcpStream>) {
    let answered = Arc::new(Notify::new());
    let notify = answered.clone();
    let service = hyper::service::service_fn(move |_req: http::Request<hyper::body::Incoming>| {
        notify.notify_one();
        async {
            let response = http::Response::builder()
                .status(http::StatusCode::SERVICE_UNAVAILABLE)
                .header(http::header::RETRY_AFTER, "1")
                .header(http::header::CACHE_CONTROL, "no-store")
                .body(axum::body::Body::from("too many connections\n"))
                .unwrap_or_default();
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = http_builder(&Limits::default());
    builder.http1().keep_alive(false);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let deadline = tokio::time::sleep(REFUSAL_TIMEOUT);
    tokio::pin!(deadline);
    let mut closing = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            () = answered.notified(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            () = &mut deadline => return,
        }
    }
}
