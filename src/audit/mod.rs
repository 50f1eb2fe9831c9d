//! The audit trail, kept off the hot path: requests hand events to [`AuditLog::record`], which
//! never blocks (a bounded queue; when it is full the event is dropped and counted), and one
//! writer task appends them to the store in batches. Every event recorded is, in the end,
//! written, dropped (queue full) or failed (the store refused it three times), and counted as
//! such, so nothing is lost silently. [`layer`] records the OAuth endpoints' requests.

mod certificates;
pub mod layer;
pub mod metrics;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::mpsc;

use crate::domain::AuditEvent;
use crate::store::audit::AuditWriter;
use crate::store::Store;

pub use layer::{record_requests, AuditSlot, Refused};
pub use metrics::RequestMetrics;

/// `[audit]` in the configuration file.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    pub enabled: bool,
    /// Events waiting for the writer; past it they are dropped and counted.
    pub queue_capacity: usize,
    /// Rows older than this are removed (checked hourly).
    pub retention_days: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            queue_capacity: 65_536,
            retention_days: 90,
        }
    }
}

/// Most events written in one transaction.
const BATCH: usize = 4_096;
/// How long the writer lets events gather after the first arrives: one transaction per
/// interval rather than one per handful of events, each with its commit and WAL sync. The
/// queue must hold what arrives meanwhile (65,536 by default: 650,000 events/s).
const LINGER: Duration = Duration::from_millis(100);
/// Attempts at writing one batch before its events count as failed.
const ATTEMPTS: u32 = 3;

/// The counts that account for every event recorded.
#[derive(Debug, Default)]
struct Counters {
    recorded: AtomicU64,
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
}

/// A snapshot of the counters, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditStats {
    pub recorded: u64,
    pub written: u64,
    /// The queue was full.
    pub dropped: u64,
    /// The store refused the batch.
    pub failed: u64,
    /// Waiting for the writer now.
    pub depth: u64,
}

/// Where requests hand their audit events. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    queue: Option<mpsc::Sender<AuditEvent>>,
    counters: Arc<Counters>,
    /// Request counts for `/metrics`, kept with auditing on or off.
    pub metrics: Arc<RequestMetrics>,
    certificates: Arc<certificates::Summaries>,
}

impl AuditLog {
    /// A log whose events go to `store`, and the writer task that must run for them to.
    pub fn start(store: Store, config: AuditConfig) -> (Self, impl std::future::Future<Output = ()> + Send) {
        let (queue, receiver) = mpsc::channel(config.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let log = Self {
            queue: config.enabled.then_some(queue),
            counters: counters.clone(),
            metrics: Arc::default(),
            certificates: Arc::default(),
        };
        (log, write(store, receiver, counters))
    }

    /// A log that keeps nothing (auditing off).
    pub fn disabled() -> Self {
        Self {
            queue: None,
            counters: Arc::default(),
            metrics: Arc::default(),
            certificates: Arc::default(),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.queue.is_some()
    }

    /// Queues an event; never waits.
    pub fn record(&self, event: AuditEvent) {
        let Some(queue) = &self.queue else {
            return;
        };
        self.counters.recorded.fetch_add(1, Ordering::Relaxed);
        if queue.try_send(event).is_err() {
            let dropped = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "audit queue full: events dropped");
            }
        }
    }

    /// The audit summary of `cert`, shared with every other event that presents it.
    pub fn certificate(&self, cert: &crate::pki::ClientCertificate) -> Arc<crate::domain::AuditedCertificate> {
        self.certificates.of(cert)
    }

    pub fn stats(&self) -> AuditStats {
        let c = &self.counters;
        let depth = self
            .queue
            .as_ref()
            .map_or(0, |q| (q.max_capacity() - q.capacity()) as u64);
        AuditStats {
            recorded: c.recorded.load(Ordering::Relaxed),
            written: c.written.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            depth,
        }
    }

    /// Waits until every event recorded so far is written, dropped or failed, or `timeout`
    /// passes; returns whether it got there.
    pub async fn settled(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let s = self.stats();
            if s.written + s.dropped + s.failed >= s.recorded {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The writer: waits for an event, lets more gather for [`LINGER`], takes what is queued, up
/// to a batch, and appends it; ends when every sender is gone and the queue is empty.
async fn write(store: Store, mut receiver: mpsc::Receiver<AuditEvent>, counters: Arc<Counters>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut writer: Option<AuditWriter> = None;
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        if batch.len() < BATCH && !receiver.is_closed() {
            tokio::time::sleep(LINGER).await;
            while batch.len() < BATCH {
                match receiver.try_recv() {
                    Ok(event) => batch.push(event),
                    Err(_) => break,
                }
            }
        }
        let count = batch.len() as u64;
        let mut attempt = 1;
        loop {
            match append(&store, &mut writer, &mut batch).await {
                Ok(()) => {
                    counters.written.fetch_add(count, Ordering::Relaxed);
                    break;
                }
                Err(e) if attempt < ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "writing audit events failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                    attempt += 1;
                }
                Err(e) => {
                    counters.failed.fetch_add(count, Ordering::Relaxed);
                    tracing::error!(error = %e, events = count, "audit events could not be written");
                    break;
                }
            }
        }
        batch.clear();
    }
}

/// Appends `batch` with `writer`, opening it first if it is not open (or failed last time).
async fn append(
    store: &Store,
    writer: &mut Option<AuditWriter>,
    batch: &mut Vec<AuditEvent>,
) -> Result<(), crate::store::StoreError> {
    let open = match writer {
        Some(open) => open,
        None => writer.insert(store.audit_writer()?),
    };
    let appended = open.append(batch).await;
    if appended.is_err() {
        *writer = None;
    }
    appended
}

/// Removes rows past the retention period, hourly, until `stop`.
pub async fn keep_retention(store: Store, config: AuditConfig, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = &mut stop => return,
        }
        let before = (crate::now() - config.retention_days as i64 * 86_400) * 1000;
        match store.purge_audit_events_before(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "audit events past retention removed"),
            Err(e) => tracing::warn!(error = %e, "removing old audit events failed"),
        }
    }
}
