//! What one listener lets a peer use: connections (in all, and per address), time to send a
//! request body, HTTP/2 streams and keep-alive, and the size of a request's header section,
//! the same on HTTP/1.1 and HTTP/2 so a trusted proxy forwarding a certificate chain (up to
//! 48 KiB) is served on either.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;

/// `[limits]` in the configuration file; every field optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_connections: Option<usize>,
    pub max_connections_per_address: Option<usize>,
    pub body_timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    pub h2_max_concurrent_streams: Option<u32>,
    pub h2_keepalive_interval_ms: Option<u64>,
    pub max_header_bytes: Option<usize>,
}

/// The resolved limits of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Open connections on the listener; more get a 503 and are closed.
    pub max_connections: usize,
    /// Open connections from one address (a proxy counts as one: raise it behind one).
    pub max_connections_per_address: usize,
    /// From the request's head to the last byte of its body.
    pub body_timeout: Duration,
    /// A connection with no request in flight for this long is closed (TLS handshake and
    /// HTTP/1.1 request heads have their own 10 s bound).
    pub idle_timeout: Duration,
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2 PING interval; a peer that does not answer within the same time is dropped.
    pub h2_keepalive_interval: Duration,
    /// Largest request header section, HTTP/1.1 read buffer and HTTP/2 header list alike.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_connections_per_address: 512,
            body_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            h2_max_concurrent_streams: 128,
            h2_keepalive_interval: Duration::from_secs(20),
            max_header_bytes: 64 * 1024,
        }
    }
}

/// The forwarded-certificate parser accepts headers up to this; the header limit may not be
/// set below it.
const MIN_HEADER_BYTES: usize = 56 * 1024;

impl Limits {
    pub fn from_config(c: &LimitsConfig) -> Result<Self, String> {
        let d = Self::default();
        let ms = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_millis);
        let limits = Self {
            max_connections: c.max_connections.unwrap_or(d.max_connections),
            max_connections_per_address: c.max_connections_per_address.unwrap_or(d.max_connections_per_address),
            body_timeout: ms(c.body_timeout_ms, d.body_timeout),
            idle_timeout: ms(c.idle_timeout_ms, d.idle_timeout),
            h2_max_concurrent_streams: c.h2_max_concurrent_streams.unwrap_or(d.h2_max_concurrent_streams),
            h2_keepalive_interval: ms(c.h2_keepalive_interval_ms, d.h2_keepalive_interval),
            max_header_bytes: c.max_header_bytes.unwrap_or(d.max_header_bytes),
        };
        if limits.max_connections == 0 || limits.max_connections_per_address == 0 {
            return Err("connection limits must be at least 1".into());
        }
        if limits.h2_max_concurrent_streams == 0 {
            return Err("h2_max_concurrent_streams must be at least 1".into());
        }
        if limits.body_timeout.is_zero() || limits.idle_timeout.is_zero() || limits.h2_keepalive_interval.is_zero() {
            return Err("timeouts must be positive".into());
        }
        if !(MIN_HEADER_BYTES..=1024 * 1024).contains(&limits.max_header_bytes) {
            return Err(format!(
                "max_header_bytes must be between {MIN_HEADER_BYTES} and 1048576"
            ));
        }
        Ok(limits)
    }
}

/// Counts open connections, in all and per address.
#[derive(Debug)]
pub(super) struct ConnectionGate {
    limits: Limits,
    open: AtomicUsize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    /// Connections being turned away with a 503 right now; past a small bound they are closed
    /// without one, so refusing cannot itself exhaust the server.
    refusing: AtomicUsize,
}

/// Turned away at most this many at once with a visible 503.
const MAX_REFUSING: usize = 64;

/// An admitted connection; leaving frees its place.
pub(super) struct Admitted {
    gate: Arc<ConnectionGate>,
    address: IpAddr,
}

/// A connection over a limit, to be answered 503 then closed; dropping it frees its place.
pub(super) struct Refusing(Arc<ConnectionGate>);

pub(super) enum Admission {
    Admitted(Admitted),
    Refused(Refusing),
    /// Over a limit while already refusing many: closed at once.
    Dropped,
}

impl ConnectionGate {
    pub(super) fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            open: AtomicUsize::new(0),
            per_address: Mutex::new(HashMap::new()),
            refusing: AtomicUsize::new(0),
        })
    }

    pub(super) fn admit(self: &Arc<Self>, address: IpAddr) -> Admission {
        let mut per_address = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
        let mine = per_address.get(&address).copied().unwrap_or(0);
        let open = self.open.load(Ordering::Relaxed);
        if open < self.limits.max_connections && mine < self.limits.max_connections_per_address {
            per_address.insert(address, mine + 1);
            self.open.fetch_add(1, Ordering::Relaxed);
            return Admission::Admitted(Admitted {
                gate: self.clone(),
                address,
            });
        }
        drop(per_address);
        if self.refusing.fetch_add(1, Ordering::Relaxed) < MAX_REFUSING {
            Admission::Refused(Refusing(self.clone()))
        } else {
            self.refusing.fetch_sub(1, Ordering::Relaxed);
            Admission::Dropped
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut per_address = self.gate.per_address.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = per_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                per_address.remove(&self.address);
            }
        }
        self.gate.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Drop for Refusing {
    fn drop(&mut self) {
        self.0.refusing.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_address: usize) -> Limits {
        Limits {
            max_connections: total,
            max_connections_per_address: per_address,
            ..Limits::default()
        }
    }

    #[test]
    fn the_gate_counts_per_address_and_in_all_and_frees_places() {
        let gate = ConnectionGate::new(limits(3, 2));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = gate.admit(a);
        let _second = gate.admit(a);
        assert!(matches!(gate.admit(a), Admission::Refused(_)), "per address");
        let _third = gate.admit(b);
        assert!(matches!(gate.admit(b), Admission::Refused(_)), "in all");
        assert_eq!(gate.open.load(Ordering::Relaxed), 3);
        drop(first);
        assert!(matches!(gate.admit(a), Admission::Admitted(_)), "a place freed");
        assert!(gate.per_address.lock().unwrap().len() <= 2);
    }

    #[test]
    fn refusing_is_bounded_too() {
        let gate = ConnectionGate::new(limits(1, 1));
        let _held = gate.admit("10.0.0.1".parse().unwrap());
        let refusing: Vec<_> = (0..MAX_REFUSING)
            .map(|_| gate.admit("10.0.0.9".parse().unwrap()))
            .collect();
        assert!(refusing.iter().all(|r| matches!(r, Admission::Refused(_))));
        assert!(matches!(gate.admit("10.0.0.9".parse().unwrap()), Admission::Dropped));
        drop(refusing);
        assert!(matches!(gate.admit("10.0.0.9".parse().unwrap()), Admission::Refused(_)));
    }

    #[test]
    fn the_header_limit_cannot_go_below_a_forwarded_chain() {
        let low = LimitsConfig {
            max_header_bytes: Some(16 * 1024),
            ..LimitsConfig::default()
        };
        assert!(Limits::from_config(&low).is_err());
        assert_eq!(Limits::from_config(&LimitsConfig::default()), Ok(Limits::default()));
    }
}
